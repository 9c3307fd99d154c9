"""Portal pages of scan event extracts: the list (with signed download links), the request
form, and the download itself."""

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.utils import timezone
from django.utils.cache import add_never_cache_headers

from accounts.models import Membership
from accounts.permissions import Permission, role_can
from accounts.portal import (
    PortalView,
    claim_submission,
    client_ip,
    new_submission_token,
    release_submission,
)
from core.errors import DomainError
from tracking.constants import ExtractSource, ExtractStatus
from tracking.extracts import links, selectors
from tracking.extracts.forms import ExtractRequestForm
from tracking.extracts.services import (
    denied_mids,
    extract_request,
    needs_approval,
    record_download,
)

BREADCRUMBS = [("Dashboard", "/dashboard/"), ("Scan event extracts", "/extracts/")]
LIST_LIMIT = 100


class ExtractListView(PortalView):
    permission = Permission.REQUEST_EXTRACTS

    def get(self, request):
        return render_extracts_page(self)


def render_extracts_page(view: PortalView, *, form: ExtractRequestForm | None = None, status=200):
    provider = view.provider
    mids = selectors.allowed_mids(provider=provider)
    if form is None:
        form = ExtractRequestForm(
            mids=mids, initial={"submission": new_submission_token(), "mids": mids[:1]}
        )
    extracts = list(selectors.extracts_for_provider(provider_id=provider.pk)[:LIST_LIMIT])
    now = timezone.now()
    rows = [
        {
            "extract": extract,
            "download_url": links.download_url(extract=extract)
            if extract.status == ExtractStatus.READY and extract.expires_at > now
            else None,
        }
        for extract in extracts
    ]
    response = render(
        view.request,
        "tracking/extracts/list.html",
        {
            "provider": provider,
            "rows": rows,
            "form": form,
            "allowed_mids": mids,
            "needs_approval": needs_approval(provider),
            "max_days": settings.EXTRACT_MAX_DAYS,
            "max_mids": settings.EXTRACT_MAX_MIDS,
            "link_hours": settings.EXTRACT_LINK_TTL_HOURS,
            "list_limit": LIST_LIMIT,
            "breadcrumbs": [BREADCRUMBS[0], (BREADCRUMBS[1][0], None)],
        },
        status=status,
    )
    # The page holds signed links: no shared cache may keep it.
    add_never_cache_headers(response)
    return response


class ExtractRequestView(PortalView):
    permission = Permission.REQUEST_EXTRACTS

    def get(self, request):
        return redirect("tracking:extracts")

    def post(self, request):
        mids = selectors.allowed_mids(provider=self.provider)
        form = ExtractRequestForm(request.POST, mids=mids)
        if not form.is_valid():
            return render_extracts_page(self, form=form, status=400)
        token = form.cleaned_data["submission"]
        if not claim_submission(request, token):
            messages.info(request, "That extract was already requested by your first click.")
            return redirect("tracking:extracts")
        try:
            extract = extract_request(
                provider=self.provider,
                actor=request.user,
                mids=form.chosen_mids(),
                start_date=form.cleaned_data["start_date"],
                end_date=form.cleaned_data["end_date"],
                file_format=form.cleaned_data["file_format"],
                source=ExtractSource.PORTAL,
            )
        except DomainError as exc:
            release_submission(request, token)
            self.form_error(form, exc)
            return render_extracts_page(self, form=form, status=400)
        if extract.status == ExtractStatus.PENDING_APPROVAL:
            messages.success(
                request,
                "Extract requested. Postal staff approve extracts of service providers; it is "
                "built once they have, and you will find its download link below.",
            )
        else:
            messages.success(
                request, "Extract requested. It is being built; reload this page to see it."
            )
        return redirect("tracking:extracts")


def _notice(request, *, heading: str, message: str, status: int):
    response = render(
        request,
        "tracking/extracts/notice.html",
        {
            "heading": heading,
            "message": message,
            "breadcrumbs": [BREADCRUMBS[0], BREADCRUMBS[1], (heading, None)],
        },
        status=status,
    )
    add_never_cache_headers(response)
    return response


def _gone(request, message: str):
    return _notice(request, heading="Link expired", message=message, status=410)


class ExtractDownloadView(PortalView):
    """A signed link. Not a member of the extract's provider, a bad signature or an unknown
    extract: 404. Genuine but old, or the extract expired: 410. A MID no longer allowed: 403
    (fails closed). Otherwise the file, streamed, and the download recorded."""

    needs_provider = False  # the link names the provider; membership is checked below

    def get(self, request, token: str):
        try:
            target = links.read_token(token)
        except links.BadLink:
            raise Http404("No such extract.") from None
        membership = Membership.objects.filter(
            user=request.user, provider_id=target.provider_id
        ).first()
        extract = selectors.extract_of_provider(
            provider_id=target.provider_id, public_id=target.public_id
        )
        if membership is None or extract is None:
            raise Http404("No such extract.")
        if not role_can(membership.role, Permission.REQUEST_EXTRACTS):
            raise PermissionDenied(
                f"Your role ({membership.get_role_display()}) cannot "
                f"{Permission.REQUEST_EXTRACTS.label}."
            )
        try:
            links.check_age(token)
        except links.LinkExpired:
            return _gone(
                request,
                "This download link has expired. Open the extracts page for "
                "a new link, or request the extract again.",
            )
        if extract.status == ExtractStatus.EXPIRED or (
            extract.status == ExtractStatus.READY and extract.expires_at <= timezone.now()
        ):
            return _gone(
                request,
                "This extract has expired and its file was deleted. Request "
                "it again for a new one.",
            )
        if extract.status != ExtractStatus.READY or not extract.file:
            raise Http404("This extract has no file to download.")
        denied = denied_mids(provider=extract.provider, mids=extract.mids)
        if denied:
            listed = "; ".join(
                f"MID {mid}: {reason.code} ({reason.message})" for mid, reason in denied.items()
            )
            return _notice(
                request,
                heading="Download refused",
                message=f"Your organisation may no longer read this extract's data, so it "
                f"cannot be downloaded. {listed}.",
                status=403,
            )
        if request.method == "HEAD":
            # Headers only: a HEAD (a link checker, a browser's preflight) is no download.
            return head_response(extract)
        try:
            handle = extract.file.open("rb")
        except FileNotFoundError:
            raise Http404("The extract's file is missing.") from None
        record_download(extract=extract, user=request.user, ip=client_ip(request))
        return file_response(extract, handle)


def _file_name(extract) -> str:
    return extract.file.name.rsplit("/", 1)[-1]


def head_response(extract) -> HttpResponse:
    """What GET would answer, without the body, the file opened or the download recorded."""
    response = HttpResponse(content_type="application/gzip")
    response["Content-Length"] = str(extract.byte_count or 0)
    response["Content-Disposition"] = f'attachment; filename="{_file_name(extract)}"'
    response["Cache-Control"] = "no-store"
    response["X-Content-SHA256"] = extract.sha256
    return response


def file_response(extract, handle) -> FileResponse:
    response = FileResponse(
        handle,
        as_attachment=True,
        filename=_file_name(extract),
        content_type="application/gzip",
    )
    response["Cache-Control"] = "no-store"
    response["X-Content-SHA256"] = extract.sha256
    return response


urlpatterns = [
    path("extracts/", ExtractListView.as_view(), name="extracts"),
    path("extracts/request/", ExtractRequestView.as_view(), name="extract_request"),
    path("extracts/download/<str:token>/", ExtractDownloadView.as_view(), name="extract_download"),
]

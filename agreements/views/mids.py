"""The provider's Mailer IDs: its links with their status, a claim form, withdrawing a pending
claim, and downloading the letter of authorization it uploaded."""

from django.contrib import messages
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.urls import path

from accounts.permissions import Permission
from accounts.portal import (
    PortalView,
    claim_submission,
    new_submission_token,
    release_submission,
)
from accounts.standing import provider_standing
from agreements import services
from agreements.forms.mids import MidClaimForm
from agreements.models import MidLink
from agreements.selectors.mids import mid_links_for_provider, mid_links_for_staff
from agreements.uploads import BY_CONTENT_TYPE, JPEG, PNG, FileType, detect, read_head
from agreements.views.scoped import ScopedObjectView
from core.errors import DomainError
from core.otp import is_verified_staff

BREADCRUMBS = [("Dashboard", "/dashboard/"), ("Mailer IDs", None)]
# What postal staff need to download any provider's letter: the admin's view permission.
STAFF_EVIDENCE_PERMISSION = "agreements.view_midlink"
# What the admin may show inline (`?inline=1`), to those staff only: images, which a browser
# displays in an <img> without running anything. A PDF is always a download.
INLINE_PREVIEW_TYPES: frozenset[FileType] = frozenset({PNG, JPEG})


def staff_may_review_evidence(user) -> bool:
    # Verified staff only: a staff member signed in with just a password (the portal login)
    # has not passed the admin's second factor.
    return is_verified_staff(user) and user.has_perm(STAFF_EVIDENCE_PERMISSION)


def render_mids_page(view: PortalView, form: MidClaimForm | None = None, status: int = 200):
    request = view.request
    standing = provider_standing(provider=view.provider)
    role_can_claim = request.portal.can(Permission.CLAIM_MIDS)
    can_claim = role_can_claim and standing.can_claim
    if form is None and can_claim:
        form = MidClaimForm(initial={"submission": new_submission_token()})
    return render(
        request,
        "agreements/mids.html",
        {
            "provider": view.provider,
            "links": mid_links_for_provider(provider=view.provider),
            "form": form if can_claim else None,
            "can_claim": can_claim,
            "role_can_claim": role_can_claim,
            "can_withdraw": role_can_claim and standing.can_withdraw_claims,
            "standing": standing,
            "breadcrumbs": BREADCRUMBS,
        },
        status=status,
    )


class MidsView(PortalView):
    permission = Permission.VIEW

    def get(self, request):
        return render_mids_page(self)


class MidClaimView(PortalView):
    permission = Permission.CLAIM_MIDS

    def get(self, request):
        return redirect("agreements:mids")

    def post(self, request):
        form = MidClaimForm(request.POST, request.FILES)
        if not form.is_valid():
            return render_mids_page(self, form)
        data = form.cleaned_data
        token = data["submission"]
        if not claim_submission(request, token):
            messages.info(request, "That claim was already sent; it is listed below.")
            return redirect("agreements:mids")
        try:
            link = services.mid_link_request(
                provider=self.provider,
                mid=data["mid"],
                relation=data["relation"],
                requested_by=request.user,
                owner_name=data["owner_name"],
                owner_crid=data["owner_crid"],
                evidence=data["evidence"],
            )
        except DomainError as exc:
            release_submission(request, token)
            self.form_error(form, exc)
            return render_mids_page(self, form)
        if link.owner_provider_id is not None:
            messages.success(
                request,
                f"MID {link.mid} is claimed. Its owner is registered here, so the request went to "
                "them to approve; you will see their answer below.",
            )
        else:
            messages.success(request, f"MID {link.mid} is claimed and waits for postal staff.")
        return redirect("agreements:mids")


class MidWithdrawView(ScopedObjectView):
    permission = Permission.CLAIM_MIDS

    def get_queryset(self):
        return mid_links_for_provider(provider=self.provider)

    def post(self, request, pk):
        link = self.get_object()
        try:
            services.mid_link_withdraw(link=link, actor=request.user)
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, f"Your claim on MID {link.mid} is withdrawn.")
        return redirect("agreements:mids")


class MidEvidenceView(ScopedObjectView):
    """The uploaded letter, for the claiming provider's members and for postal staff who may
    see MID links in the admin (`agreements.view_midlink`; linked from there), as a download:
    never rendered by the browser as a page. Staff without that permission are treated as
    anyone else: their own providers' letters only, another one's is a 404.

    The one exception is the admin's preview: for those staff, `?inline=1` serves a PNG or JPEG
    letter inline so that an <img> can show it (same nosniff and sandboxing CSP, and only to
    this origin). Anything else, and anybody else, still gets the attachment."""

    needs_provider = False  # staff need no membership; members are scoped below

    def get_queryset(self):
        if staff_may_review_evidence(self.request.user):
            return mid_links_for_staff()
        if not self.request.portal.can(Permission.VIEW):
            return MidLink.objects.none()
        return mid_links_for_provider(provider=self.provider)

    def get(self, request, pk):
        link = self.get_object()
        if not link.evidence:
            raise Http404("No letter was uploaded for this claim.")
        try:
            handle = link.evidence.storage.open(link.evidence.name, "rb")
        except FileNotFoundError:
            raise Http404("The letter's file is missing; ask postal staff.") from None
        # Links stored before types were recorded are detected now, from the same bytes.
        kind = BY_CONTENT_TYPE.get(link.evidence_content_type) or detect(read_head(handle))
        inline = (
            request.GET.get("inline") == "1"
            and kind in INLINE_PREVIEW_TYPES
            and staff_may_review_evidence(request.user)
        )
        response = FileResponse(
            handle,
            as_attachment=not inline,
            filename=f"MID-{link.mid}-letter-{link.pk}{kind.extension if kind else ''}",
            content_type=kind.content_type if kind else "application/octet-stream",
        )
        response["X-Content-Type-Options"] = "nosniff"
        response["Content-Security-Policy"] = "default-src 'none'; sandbox"
        response["Cache-Control"] = "private, no-store"
        if inline:
            response["Cross-Origin-Resource-Policy"] = "same-origin"
        return response


urlpatterns = [
    path("mids/", MidsView.as_view(), name="mids"),
    path("mids/claim/", MidClaimView.as_view(), name="mid_claim"),
    path("mids/<int:pk>/withdraw/", MidWithdrawView.as_view(), name="mid_withdraw"),
    path("mids/<int:pk>/evidence/", MidEvidenceView.as_view(), name="mid_evidence"),
]

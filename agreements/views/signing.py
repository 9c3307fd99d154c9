"""The IP agreement: read and sign the current version, see past signatures, download a PDF.

Everyone in the organisation may read; only members with SIGN_AGREEMENTS (owners and
administrators) see the form, and anyone else's POST is refused with 403. Signed agreements are
fetched through selectors scoped to the active provider, so another provider's id is a 404.
"""

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.cache import patch_cache_control

from accounts.permissions import Permission
from accounts.portal import (
    PortalView,
    claim_submission,
    client_ip,
    new_submission_token,
    release_submission,
)
from agreements import services
from agreements.constants import AgreementStatus
from agreements.forms.signing import AgreementSigningForm
from agreements.models import AgreementVersion
from agreements.pdf import agreement_pdf, agreement_pdf_filename
from agreements.selectors.agreements import (
    AgreementStanding,
    agreement_signers,
    agreement_standing,
    agreements_for_provider,
    signed_agreements_for_provider,
    signing_version,
)
from agreements.views.scoped import ScopedObjectView
from core.errors import DomainError

# USWDS background utilities for each status tag, all with white text at WCAG AA contrast.
STATUS_TAGS = {
    AgreementStatus.SUBMITTED: "bg-warning-darker",
    AgreementStatus.APPROVED: "bg-success-darker",
    AgreementStatus.REJECTED: "bg-error-dark",
    AgreementStatus.SUSPENDED: "bg-error-dark",
    AgreementStatus.TERMINATED: "bg-error-dark",
    AgreementStatus.SUPERSEDED: "bg-base-dark",
}


def _breadcrumbs(*tail: tuple[str, str | None]) -> list[tuple[str, str | None]]:
    return [
        ("Dashboard", reverse("agreements:dashboard")),
        ("IP agreement", reverse("agreements:agreement")),
        *tail,
    ]


class AgreementView(PortalView):
    """GET for every member; POST (signing) needs SIGN_AGREEMENTS."""

    template_name = "agreements/signing/agreement.html"

    def dispatch(self, request, *args, **kwargs):
        if request.method == "POST":
            self.permission = Permission.SIGN_AGREEMENTS
        return super().dispatch(request, *args, **kwargs)

    def get(self, request):
        standing = agreement_standing(provider=self.provider)
        version = signing_version(standing=standing)
        form = None
        if version is not None and standing.can_be_signed and self._can_sign():
            form = self._new_form(version)
        return self._render(standing=standing, version=version, form=form)

    def post(self, request):
        standing = agreement_standing(provider=self.provider)
        version = signing_version(standing=standing)
        if version is None or not standing.can_be_signed:
            messages.info(request, self._nothing_to_sign(standing))
            return redirect("agreements:agreement")
        form = AgreementSigningForm(request.POST, provider=self.provider)
        if not form.is_valid():
            text_changed = self._show_current_text(form, version)
            return self._render(standing, version, form, text_changed=text_changed)
        token = form.cleaned_data["submission"]
        if not claim_submission(request, token):
            messages.info(request, "That signature was already sent; it is listed below.")
            return redirect("agreements:agreement")
        try:
            agreement = services.agreement_sign(
                provider=self.provider,
                version=version,
                signer=request.user,
                signer_name=form.cleaned_data["signer_name"],
                signer_title=form.cleaned_data["signer_title"],
                attested_authority=form.cleaned_data["attested_authority"],
                shown_text_sha256=form.cleaned_data["text_sha256"],
                ip_address=client_ip(request),
                user_agent=request.META.get("HTTP_USER_AGENT", ""),
                schedule_lines=form.cleaned_data["schedule"],
            )
        except DomainError as exc:
            release_submission(request, token)
            self.form_error(form, exc)
            text_changed = self._show_current_text(form, version)
            return self._render(standing, version, form, text_changed=text_changed)
        messages.success(
            request,
            f"You signed IP agreement {version.label} for {self.provider.legal_name}. "
            "Postal staff review it next.",
        )
        return redirect("agreements:agreement_detail", pk=agreement.pk)

    # --- helpers ------------------------------------------------------------------------------

    def _can_sign(self) -> bool:
        return self.request.portal.can(Permission.SIGN_AGREEMENTS)

    def _new_form(self, version: AgreementVersion) -> AgreementSigningForm:
        return AgreementSigningForm(
            provider=self.provider,
            initial={
                "submission": new_submission_token(),
                "text_sha256": services.text_sha256(version.text),
            },
        )

    @staticmethod
    def _show_current_text(form: AgreementSigningForm, version: AgreementVersion) -> bool:
        """The page re-renders the current version's text. If the signer was shown another
        text (a new version was published meanwhile), carry the new text's hash and untick
        the authority box, so the next submission attests to what is on the page now."""
        shown_hash = services.text_sha256(version.text)
        if form.data.get("text_sha256") == shown_hash:
            return False
        data = form.data.copy()
        data["text_sha256"] = shown_hash
        data.pop("attested_authority", None)
        form.data = data
        return True

    @staticmethod
    def _nothing_to_sign(standing: AgreementStanding) -> str:
        if standing.current_version is None:
            return (
                "No IP agreement is in effect for your organisation, so there is nothing to sign."
            )
        if not standing.needs_signature:
            return (
                f"IP agreement {standing.current_version.label} is already signed for your "
                "organisation; the signature is listed below."
            )
        return "Your organisation is closed, so it can no longer sign agreements."

    def _render(
        self,
        standing: AgreementStanding,
        version: AgreementVersion | None,
        form: AgreementSigningForm | None,
        *,
        text_changed: bool = False,
    ):
        rows = [
            {"agreement": agreement, "tag": STATUS_TAGS.get(agreement.status, "bg-base-dark")}
            for agreement in agreements_for_provider(provider=self.provider)
        ]
        return render(
            self.request,
            self.template_name,
            {
                "provider": self.provider,
                "standing": standing,
                "version": version,
                "version_text": version.text.strip() if version else "",
                "form": form,
                "text_changed": text_changed,
                "can_sign": self._can_sign(),
                "signers": [] if self._can_sign() else agreement_signers(provider=self.provider),
                "rows": rows,
                "breadcrumbs": [
                    ("Dashboard", reverse("agreements:dashboard")),
                    ("IP agreement", None),
                ],
            },
        )


class SignedAgreementView(ScopedObjectView):
    """One signed agreement of the active provider; another provider's id is a 404 for every
    method (see ScopedObjectView)."""

    def get_queryset(self):
        return signed_agreements_for_provider(provider=self.provider)


class AgreementDetailView(SignedAgreementView):
    template_name = "agreements/signing/agreement_detail.html"

    def get(self, request, pk: int):
        agreement = self.get_object()
        return render(
            request,
            self.template_name,
            {
                "provider": self.provider,
                "agreement": agreement,
                "version": agreement.version,
                "version_text": agreement.version.text.strip(),
                "tag": STATUS_TAGS.get(agreement.status, "bg-base-dark"),
                "text_matches": (
                    services.text_sha256(agreement.version.text) == agreement.signed_text_sha256
                ),
                "breadcrumbs": _breadcrumbs(
                    (f"{agreement.version.label} signed {agreement.signed_at:%Y-%m-%d}", None)
                ),
            },
        )


class AgreementPdfView(SignedAgreementView):
    def get(self, request, pk: int):
        agreement = self.get_object()
        response = HttpResponse(agreement_pdf(agreement=agreement), content_type="application/pdf")
        filename = agreement_pdf_filename(agreement=agreement)
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        response["X-Content-Type-Options"] = "nosniff"
        patch_cache_control(response, private=True, no_store=True)
        return response


urlpatterns = [
    path("agreement/", AgreementView.as_view(), name="agreement"),
    path("agreement/<int:pk>/", AgreementDetailView.as_view(), name="agreement_detail"),
    path("agreement/<int:pk>/pdf/", AgreementPdfView.as_view(), name="agreement_pdf"),
]

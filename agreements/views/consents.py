"""'Who can read my MIDs': the owner's side of owner consent. Incoming requests to approve or
decline, current authorizations to revoke, and a form to grant access to a named provider.
Every object is fetched through selectors scoped to the active provider as the MID's owner."""

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import path

from accounts.permissions import Permission
from accounts.portal import (
    PortalView,
    claim_submission,
    new_submission_token,
    release_submission,
)
from accounts.standing import Standing, provider_standing
from agreements import services
from agreements.forms.consents import (
    ConsentGrantConfirmForm,
    ConsentGrantForm,
    ConsentReasonForm,
)
from agreements.selectors.mids import (
    consent_grantee_find,
    consent_grantee_get,
    consent_grants_for_owner,
    consent_links_for_owner,
    consent_requests_for_owner,
    owned_mids,
)
from agreements.views.scoped import ScopedObjectView
from core.errors import DomainError

CONSENTS_CRUMB = ("Who can read my MIDs", "/consents/")


def render_consents_page(
    view: PortalView, form: ConsentGrantForm | None = None, standing: Standing | None = None
):
    request, owner = view.request, view.provider
    mids = list(owned_mids(provider=owner))
    standing = standing or provider_standing(provider=owner)
    role_can_manage = request.portal.can(Permission.MANAGE_CONSENTS)
    can_manage = role_can_manage and standing.can_manage_consents
    if form is None and can_manage and mids:
        form = ConsentGrantForm(initial={"submission": new_submission_token()}, mids=mids)
    return render(
        request,
        "agreements/consents.html",
        {
            "provider": owner,
            "owned_mids": mids,
            "requests": consent_requests_for_owner(owner=owner),
            "grants": consent_grants_for_owner(owner=owner),
            "form": form if can_manage else None,
            "can_manage": can_manage,
            "role_can_manage": role_can_manage,
            "standing": standing,
            "breadcrumbs": [("Dashboard", "/dashboard/"), (CONSENTS_CRUMB[0], None)],
        },
    )


def _refused_by_standing(view: PortalView) -> HttpResponse | None:
    """A provider whose status forbids consent decisions (a closed one) gets the page, which
    says why, instead of a confirmation the service would refuse anyway."""
    standing = provider_standing(provider=view.provider)
    if standing.can_manage_consents:
        return None
    return render_consents_page(view, standing=standing)


class ConsentsView(PortalView):
    permission = Permission.VIEW

    def get(self, request):
        return render_consents_page(self)


class ConsentGrantView(PortalView):
    """Step 1 of a grant: find the provider named by the exact CRID or legal name typed, and
    show who that is (legal name, DBA, CRID, type, status) with the MID, for the user to
    confirm. Nothing is granted here."""

    permission = Permission.MANAGE_CONSENTS

    def get(self, request):
        return redirect("agreements:consents")

    def post(self, request):
        if refused := _refused_by_standing(self):
            return refused
        form = ConsentGrantForm(request.POST, mids=list(owned_mids(provider=self.provider)))
        if not form.is_valid():
            return render_consents_page(self, form)
        try:
            grantee = consent_grantee_find(
                identifier=form.cleaned_data["grantee"], owner=self.provider
            )
        except DomainError as exc:
            self.form_error(form, exc)
            return render_consents_page(self, form)
        return render(
            request,
            "agreements/consent_grant_confirm.html",
            {
                "form": form,
                "grantee": grantee,
                "mid": form.cleaned_data["mid"],
                "breadcrumbs": [
                    ("Dashboard", "/dashboard/"),
                    CONSENTS_CRUMB,
                    ("Confirm the grant", None),
                ],
            },
        )


class ConsentGrantConfirmView(PortalView):
    """Step 2: grant the MID to the provider the confirmation page showed. Its id is checked
    again (an ACTIVE provider other than the owner, else one error on `grantee`); the one-time
    token makes a second click grant nothing twice."""

    permission = Permission.MANAGE_CONSENTS

    def get(self, request):
        return redirect("agreements:consents")

    def post(self, request):
        if refused := _refused_by_standing(self):
            return refused
        form = ConsentGrantConfirmForm(request.POST, mids=list(owned_mids(provider=self.provider)))
        if not form.is_valid():
            return render_consents_page(self, form)
        token = form.cleaned_data["submission"]
        if not claim_submission(request, token):
            messages.info(request, "That grant was already sent; it is listed below.")
            return redirect("agreements:consents")
        try:
            grantee = consent_grantee_get(
                provider_id=form.cleaned_data["grantee_id"], owner=self.provider
            )
            link = services.consent_grant(
                owner=self.provider,
                grantee=grantee,
                mid=form.cleaned_data["mid"],
                actor=request.user,
            )
        except DomainError as exc:
            release_submission(request, token)
            self.form_error(form, exc)
            return render_consents_page(self, form)
        messages.success(request, f"{grantee.legal_name} may now read MID {link.mid}.")
        return redirect("agreements:consents")


class OwnersLinkView(ScopedObjectView):
    """A view about one link to a MID the active provider owns (any other id is a 404)."""

    def get_queryset(self):
        return consent_links_for_owner(owner=self.provider)


class ConsentRequestApproveView(OwnersLinkView):
    permission = Permission.MANAGE_CONSENTS

    def post(self, request, pk):
        link = self.get_object()
        try:
            services.consent_approve(link=link, owner=self.provider, actor=request.user)
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, f"{link.provider.legal_name} may now read MID {link.mid}.")
        return redirect("agreements:consents")


class ConsentDecisionView(OwnersLinkView):
    """A decision that needs a reason (decline a request, revoke a grant): a page showing what
    is decided, with the reason form."""

    permission = Permission.MANAGE_CONSENTS
    title = ""
    button = ""
    explanation = ""

    def decide(self, *, link, reason: str) -> None:
        raise NotImplementedError

    def success_message(self, link) -> str:
        raise NotImplementedError

    def get(self, request, pk):
        return self._render(ConsentReasonForm())

    def post(self, request, pk):
        link = self.get_object()
        form = ConsentReasonForm(request.POST)
        if not form.is_valid():
            return self._render(form)
        try:
            self.decide(link=link, reason=form.cleaned_data["reason"])
        except DomainError as exc:
            self.form_error(form, exc)
            return self._render(form)
        messages.success(request, self.success_message(link))
        return redirect("agreements:consents")

    def _render(self, form):
        return render(
            self.request,
            "agreements/consent_decision.html",
            {
                "link": self.get_object(),
                "form": form,
                "title": self.title,
                "button": self.button,
                "explanation": self.explanation,
                "breadcrumbs": [
                    ("Dashboard", "/dashboard/"),
                    CONSENTS_CRUMB,
                    (self.title, None),
                ],
            },
        )


class ConsentRequestDeclineView(ConsentDecisionView):
    title = "Decline a request"
    button = "Decline the request"
    explanation = "The provider will not be able to read this Mailer ID. It sees your reason."

    def decide(self, *, link, reason: str) -> None:
        services.consent_decline(
            link=link, owner=self.provider, actor=self.request.user, reason=reason
        )

    def success_message(self, link) -> str:
        return f"You declined {link.provider.legal_name}'s request for MID {link.mid}."


class ConsentRevokeView(ConsentDecisionView):
    title = "Revoke access"
    button = "Revoke access now"
    explanation = (
        "The provider loses access to this Mailer ID's tracking data at once. It sees your reason."
    )

    def decide(self, *, link, reason: str) -> None:
        services.consent_revoke(
            link=link, owner=self.provider, actor=self.request.user, reason=reason
        )

    def success_message(self, link) -> str:
        return f"{link.provider.legal_name} can no longer read MID {link.mid}."


urlpatterns = [
    path("consents/", ConsentsView.as_view(), name="consents"),
    path("consents/grant/", ConsentGrantView.as_view(), name="consent_grant"),
    path(
        "consents/grant/confirm/", ConsentGrantConfirmView.as_view(), name="consent_grant_confirm"
    ),
    path(
        "consents/requests/<int:pk>/approve/",
        ConsentRequestApproveView.as_view(),
        name="consent_approve",
    ),
    path(
        "consents/requests/<int:pk>/decline/",
        ConsentRequestDeclineView.as_view(),
        name="consent_decline",
    ),
    path("consents/grants/<int:pk>/revoke/", ConsentRevokeView.as_view(), name="consent_revoke"),
]

"""Forming an organisation, seeing it, and choosing which one to act for."""

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import path
from django.views.decorators.http import require_POST

from accounts import services
from accounts.forms.organisation import OrganisationForm
from accounts.portal import (
    PortalView,
    claim_submission,
    new_submission_token,
    release_submission,
)
from accounts.standing import provider_standing
from core.errors import DomainError


class OrganisationCreateView(PortalView):
    needs_provider = False
    template_name = "accounts/organisation_form.html"

    def get(self, request):
        form = OrganisationForm(initial={"submission": new_submission_token()})
        return self._render(form)

    def post(self, request):
        form = OrganisationForm(request.POST)
        if not form.is_valid():
            return self._render(form)
        token = form.cleaned_data.pop("submission")
        if not claim_submission(request, token):
            messages.info(request, "That form was already sent; your organisation exists.")
            return redirect("agreements:dashboard")
        try:
            provider = services.provider_create(owner=request.user, **form.cleaned_data)
        except DomainError as exc:
            release_submission(request, token)
            self.form_error(form, exc)
            return self._render(form)
        request.portal.activate(provider.pk)  # act for the new organisation
        messages.success(request, f"{provider} is registered and waits for review by postal staff.")
        return redirect("agreements:dashboard")

    def _render(self, form):
        return render(
            self.request,
            self.template_name,
            {
                "form": form,
                "breadcrumbs": [("Dashboard", "/dashboard/"), ("New organisation", None)],
            },
        )


class OrganisationDetailView(PortalView):
    def get(self, request):
        provider = self.provider
        return render(
            request,
            "accounts/organisation_detail.html",
            {
                "provider": provider,
                "standing": provider_standing(provider=provider),
                "breadcrumbs": [("Dashboard", "/dashboard/"), ("Organisation", None)],
            },
        )


@require_POST
def switch_provider(request):
    """Act for another of the user's providers; another tenant's id is a 404."""
    if not request.user.is_authenticated:
        return redirect("account_login")
    try:
        provider_id = int(request.POST.get("provider_id", ""))
    except ValueError:
        raise Http404("No such organisation.") from None
    if not request.portal.switch_to(provider_id):
        raise Http404("No such organisation.")
    messages.success(request, f"You are now acting for {request.portal.provider}.")
    return redirect("agreements:dashboard")


urlpatterns = [
    path("organisation/new/", OrganisationCreateView.as_view(), name="organisation_create"),
    path("organisation/", OrganisationDetailView.as_view(), name="organisation"),
    path("organisation/switch/", switch_provider, name="switch_provider"),
]

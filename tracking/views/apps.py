"""Creating an app, rotating its secret and revoking it. A new secret exists in clear text only
in the answer to the POST that made it: never in a URL, the session or a cache."""

from django.conf import settings
from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import path
from django.utils import timezone
from django.utils.cache import add_never_cache_headers

from accounts.permissions import Permission
from accounts.portal import (
    PortalView,
    claim_submission,
    new_submission_token,
    release_submission,
)
from agreements.views.scoped import ScopedObjectView
from core.errors import DomainError
from tracking import selectors
from tracking.forms import AppCreateForm, AppRevokeForm, OneTimeForm
from tracking.services.apps import IssuedSecret, app_create, app_revoke, app_rotate_secret
from tracking.views.page import BREADCRUMBS, quick_start, render_api_page

API_CRUMB = ("API", "/developers/apps/")


def render_secret(view: PortalView, *, issued: IssuedSecret, rotated: bool):
    response = render(
        view.request,
        "tracking/app_secret.html",
        {
            "app": issued.app,
            "client_id": issued.client_id,
            "client_secret": issued.client_secret,
            "rotated": rotated,
            "quick_start": quick_start(view.request),
            "breadcrumbs": [BREADCRUMBS[0], API_CRUMB, ("Your client secret", None)],
        },
    )
    # Nothing on the way (browser history, a proxy) may keep the page holding the secret.
    add_never_cache_headers(response)
    return response


class AppCreateView(PortalView):
    permission = Permission.MANAGE_API_CREDENTIALS

    def get(self, request):
        return redirect("tracking:apps")

    def post(self, request):
        form = AppCreateForm(request.POST)
        if not form.is_valid():
            return render_api_page(self, create_form=form)
        token = form.cleaned_data["submission"]
        if not claim_submission(request, token):
            messages.info(
                request,
                "That app was already created by your first click; it is listed below. If you "
                "did not keep its secret, rotate the secret to get a new one.",
            )
            return redirect("tracking:apps")
        try:
            issued = app_create(
                provider=self.provider,
                name=form.cleaned_data["name"],
                actor=request.user,
                scopes=form.cleaned_data["scopes"],
            )
        except DomainError as exc:
            release_submission(request, token)
            self.form_error(form, exc)
            return render_api_page(self, create_form=form)
        return render_secret(self, issued=issued, rotated=False)


class ProvidersAppView(ScopedObjectView):
    """One app of the active provider (any other id is a 404, on every method)."""

    permission = Permission.MANAGE_API_CREDENTIALS
    template_name = ""
    title = ""

    def get_queryset(self):
        return selectors.api_apps_for_provider(provider_id=self.provider.pk)

    def render_confirm(self, form):
        return render(
            self.request,
            self.template_name,
            {
                "app": self.get_object(),
                "form": form,
                "overlap_hours": settings.API_SECRET_ROTATION_OVERLAP_HOURS,
                "now": timezone.now(),
                "breadcrumbs": [BREADCRUMBS[0], API_CRUMB, (self.title, None)],
            },
        )


class AppRotateView(ProvidersAppView):
    template_name = "tracking/app_rotate.html"
    title = "Rotate the secret"

    def get(self, request, pk):
        return self.render_confirm(OneTimeForm(initial={"submission": new_submission_token()}))

    def post(self, request, pk):
        app = self.get_object()
        form = OneTimeForm(request.POST)
        if not form.is_valid():
            return self.render_confirm(form)
        token = form.cleaned_data["submission"]
        # A second click would rotate again, and a second rotation ends the old secret's
        # overlap at once: the clients still using it would stop working.
        if not claim_submission(request, token):
            messages.info(
                request,
                f"The secret of “{app.name}” was already rotated by your first click. If you did "
                "not keep the new secret, rotate again.",
            )
            return redirect("tracking:apps")
        try:
            issued = app_rotate_secret(app=app, actor=request.user)
        except DomainError as exc:
            release_submission(request, token)
            self.form_error(form, exc)
            return self.render_confirm(form)
        return render_secret(self, issued=issued, rotated=True)


class AppRevokeView(ProvidersAppView):
    template_name = "tracking/app_revoke.html"
    title = "Revoke the app"

    def get(self, request, pk):
        return self.render_confirm(AppRevokeForm())

    def post(self, request, pk):
        app = self.get_object()
        form = AppRevokeForm(request.POST)
        if not form.is_valid():
            return self.render_confirm(form)
        try:
            app_revoke(app=app, actor=request.user, reason=form.cleaned_data["reason"])
        except DomainError as exc:
            self.form_error(form, exc)
            return self.render_confirm(form)
        messages.success(
            request, f"“{app.name}” is revoked: its secrets and access tokens no longer work."
        )
        return redirect("tracking:apps")


urlpatterns = [
    path("developers/apps/new/", AppCreateView.as_view(), name="app_create"),
    path("developers/apps/<int:pk>/rotate/", AppRotateView.as_view(), name="app_rotate"),
    path("developers/apps/<int:pk>/revoke/", AppRevokeView.as_view(), name="app_revoke"),
]

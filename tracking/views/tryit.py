"""The API page's "try it" form: one tracking number sent as one of the provider's active apps,
answered with the exact status and JSON the API gives (tracking.api.tryit), quota and
disclosure record included."""

import json
from http import HTTPStatus

from django.shortcuts import redirect
from django.urls import path

from accounts.permissions import Permission
from accounts.portal import PortalView
from tracking import selectors
from tracking.api.tryit import try_tracking_number
from tracking.forms import TryItForm
from tracking.views.page import TryItResult, render_api_page


class TryItView(PortalView):
    permission = Permission.MANAGE_API_CREDENTIALS

    def get(self, request):
        return redirect("tracking:apps")

    def post(self, request):
        apps = list(selectors.active_api_apps_for_provider(provider_id=self.provider.pk))
        form = TryItForm(request.POST, apps=apps)
        if not form.is_valid():
            return render_api_page(self, tryit_form=form)
        app = form.cleaned_data["app"]
        status, body = try_tracking_number(
            app=app,
            tracking_number=form.cleaned_data["tracking_number"],
            expand=form.cleaned_data["expand"],
        )
        result = TryItResult(
            status=status,
            status_text=_reason_phrase(status),
            body=json.dumps(body, indent=2, ensure_ascii=False),
            tracking_number=form.cleaned_data["tracking_number"],
            app_name=app.name,
        )
        return render_api_page(self, tryit_form=form, tryit_result=result)


def _reason_phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


urlpatterns = [
    path("developers/try/", TryItView.as_view(), name="try_it"),
]

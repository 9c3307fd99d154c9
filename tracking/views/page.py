"""The API page: the provider's apps and quota, its usage charts, a quick start and the "try
it" form. Every POST of the page's forms answers with this page again when it is refused."""

from dataclasses import dataclass

from django.shortcuts import render
from django.urls import path, reverse
from django.utils import timezone

from accounts.permissions import Permission
from accounts.portal import PortalView, new_submission_token
from tracking import selectors
from tracking.constants import ApiAppStatus
from tracking.forms import AppCreateForm, TryItForm
from tracking.services.quotas import effective_quota_per_hour

BREADCRUMBS = [("Dashboard", "/dashboard/"), ("API", None)]


@dataclass(frozen=True)
class TryItResult:
    status: int
    status_text: str
    body: str  # the JSON the API would answer, pretty-printed
    tracking_number: str
    app_name: str


def quick_start(request) -> dict[str, str]:
    """The URLs a client needs, as this server answers them (USPS clients take the base URL)."""
    base = request.build_absolute_uri("/").rstrip("/")
    example = reverse("api_tracking_v3", kwargs={"trackingNumber": "TRACKING_NUMBER"})
    return {
        "base_url": base,
        "token_url": base + reverse("oauth_token"),
        "tracking_example_url": base + example + "?expand=DETAIL",
        "docs_url": reverse("api_docs"),
    }


def render_api_page(
    view: PortalView,
    *,
    create_form: AppCreateForm | None = None,
    tryit_form: TryItForm | None = None,
    tryit_result: TryItResult | None = None,
    status: int = 200,
):
    request = view.request
    provider_id = view.provider.pk
    apps = list(selectors.api_apps_for_provider(provider_id=provider_id))
    active = [app for app in apps if app.status == ApiAppStatus.ACTIVE]
    can_manage = request.portal.can(Permission.MANAGE_API_CREDENTIALS)
    if can_manage and create_form is None:
        create_form = AppCreateForm(initial={"submission": new_submission_token()})
    if can_manage and tryit_form is None and active:
        tryit_form = TryItForm(apps=active)
    days = selectors.usage_by_day(provider_id=provider_id)
    reasons = selectors.top_denial_reasons(provider_id=provider_id)
    return render(
        request,
        "tracking/api_page.html",
        {
            "provider": view.provider,
            "apps": apps,
            "active_apps": active,
            "now": timezone.now(),
            "quota_per_hour": effective_quota_per_hour(provider_id=provider_id),
            "can_manage": can_manage,
            "create_form": create_form if can_manage else None,
            "tryit_form": tryit_form if can_manage else None,
            "tryit_result": tryit_result,
            "days": days,
            "first_day": days[0].day,
            "last_day": days[-1].day,
            "allowed_total": sum(day.allowed for day in days),
            "denied_total": sum(day.denied for day in days),
            "reasons": reasons,
            # Read by tracking/static/tracking/usage-charts.js; json_script keeps it out of any
            # inline script, so a strict Content-Security-Policy needs no exception.
            "usage_chart": {
                "labels": [day.day.isoformat() for day in days],
                "allowed": [day.allowed for day in days],
                "denied": [day.denied for day in days],
            },
            "reasons_chart": {
                "codes": [reason.code for reason in reasons],
                "labels": [reason.label for reason in reasons],
                "calls": [reason.calls for reason in reasons],
            },
            "quick_start": quick_start(request),
            "breadcrumbs": BREADCRUMBS,
        },
        status=status,
    )


class ApiPageView(PortalView):
    permission = Permission.VIEW

    def get(self, request):
        return render_api_page(self)


urlpatterns = [
    path("developers/apps/", ApiPageView.as_view(), name="apps"),
]

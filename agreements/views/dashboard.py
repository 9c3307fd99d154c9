"""The provider's dashboard: onboarding checklist, access panel, tracking-number check."""

from django.shortcuts import render
from django.urls import path

from accounts.permissions import Permission
from accounts.portal import PortalView
from accounts.standing import provider_standing
from agreements.decision import decide_for_number
from agreements.forms.check import TrackingNumberCheckForm
from agreements.selectors.dashboard import access_panel, onboarding_checklist
from agreements.selectors.mids import consent_requests_for_owner


class DashboardView(PortalView):
    def get(self, request):
        provider = self.provider
        steps = onboarding_checklist(provider=provider)
        rows = access_panel(provider=provider)
        check_form, checked = TrackingNumberCheckForm(), None
        if "number" in request.GET:
            check_form = TrackingNumberCheckForm(request.GET)
            if check_form.is_valid():
                checked = decide_for_number(
                    provider=provider, tracking_number=check_form.cleaned_data["number"]
                )
                if checked.is_bad_request:
                    check_form.add_error("number", checked.reasons[0].message)
        waiting = (
            consent_requests_for_owner(owner=provider).count()
            if request.portal.can(Permission.MANAGE_CONSENTS)
            else 0
        )
        counted = [s for s in steps if s.state != "not_needed"]
        done = sum(s.state == "done" for s in counted)
        allowed = sum(row.decision.allowed for row in rows)
        return render(
            request,
            "agreements/dashboard.html",
            {
                "provider": provider,
                "standing": provider_standing(provider=provider),
                "steps": steps,
                "steps_done": done,
                "steps_total": len(counted),
                "steps_percent": round(100 * done / len(counted)) if counted else 100,
                "rows": rows,
                "allowed_count": allowed,
                "allowed_percent": round(100 * allowed / len(rows)) if rows else 0,
                "consent_requests_waiting": waiting,
                "check_form": check_form,
                "checked": checked,
                "breadcrumbs": [("Dashboard", None)],
            },
        )


urlpatterns = [path("dashboard/", DashboardView.as_view(), name="dashboard")]

"""The provider's dashboard: onboarding checklist, access panel, tracking-number check."""

from django.shortcuts import render
from django.urls import path

from accounts.portal import PortalView


class DashboardView(PortalView):
    def get(self, request):
        return render(
            request,
            "agreements/dashboard.html",
            {"provider": self.provider, "breadcrumbs": [("Dashboard", None)]},
        )


urlpatterns = [path("dashboard/", DashboardView.as_view(), name="dashboard")]

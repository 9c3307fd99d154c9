"""API routes of scan event extracts (included by tracking/api/urls.py before the catch-all).
`<uuid:…>` keeps /extracts/events from being read as an extract id."""

from django.urls import path

from tracking.extracts.api_views import (
    ExtractCreateView,
    ExtractEventsView,
    ExtractFileView,
    ExtractStatusView,
)

urlpatterns = [
    path("tracking/v3r2/extracts/events", ExtractEventsView.as_view(), name="api_extract_events"),
    path("tracking/v3r2/extracts", ExtractCreateView.as_view(), name="api_extracts"),
    path(
        "tracking/v3r2/extracts/<uuid:extractId>", ExtractStatusView.as_view(), name="api_extract"
    ),
    path(
        "tracking/v3r2/extracts/<uuid:extractId>/file",
        ExtractFileView.as_view(),
        name="api_extract_file",
    ),
]

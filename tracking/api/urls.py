"""The USPS-compatible API (Tracking 3.0 and 3.2) and its OpenAPI documentation."""

from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from tracking.api.views import ApiNotFoundView, LegacyTrackingView, TrackingBatchView

urlpatterns = [
    path(
        "tracking/v3/tracking/<str:trackingNumber>",
        LegacyTrackingView.as_view(),
        name="api_tracking_v3",
    ),
    path("tracking/v3r2/tracking", TrackingBatchView.as_view(), name="api_tracking_v3r2"),
    # Scan event extracts: GET /tracking/v3r2/extracts/events and friends (before the catch-all).
    path("", include("tracking.extracts.api_urls")),
    re_path(r"^tracking/v3(r2)?/", ApiNotFoundView.as_view(), name="api_not_found"),
    path("api/schema/", SpectacularAPIView.as_view(), name="api_schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api_schema"), name="api_docs"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="api_schema"), name="api_redoc"),
]

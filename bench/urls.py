"""The portal's URLs plus the benchmark's framework ceiling: ``GET /bench/constant``, a bare DRF
view that returns a constant behind the tracking API's own authentication and permission
classes. The tracking lookups are measured against it (docs/benchmarks.md, "Tracking API")."""

from django.urls import path
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.urls import urlpatterns as portal_urlpatterns
from tracking.api.views import LegacyTrackingView

CONSTANT = {"status": "ok"}


class ConstantView(APIView):
    # Taken from the tracking view, so the ceiling keeps paying for whatever its auth costs.
    authentication_classes = LegacyTrackingView.authentication_classes
    permission_classes = LegacyTrackingView.permission_classes
    required_scopes = LegacyTrackingView.required_scopes
    renderer_classes = [JSONRenderer]
    throttle_classes: list = []

    def get(self, request: Request) -> Response:
        return Response(CONSTANT)


# First: the tracking API's catch-all must not answer for this path.
urlpatterns = [
    path("bench/constant", ConstantView.as_view(), name="bench_constant"),
    *portal_urlpatterns,
]

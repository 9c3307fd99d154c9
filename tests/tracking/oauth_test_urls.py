"""A URLconf for the OAuth and bearer-authentication tests: the real OAuth endpoints, plus
throwaway API views that only report who called. The views use DRF's own exception handler,
so these tests depend on the authentication alone, not on the error envelope."""

from django.urls import include, path
from rest_framework.response import Response
from rest_framework.views import APIView, exception_handler

from tracking.authentication import BearerTokenAuthentication, TokenHasScope


class Probe(APIView):
    authentication_classes = [BearerTokenAuthentication]
    permission_classes = [TokenHasScope]
    required_scopes = ["tracking"]

    def get_exception_handler(self):
        return exception_handler

    def get(self, request):
        caller = request.auth
        return Response(
            {
                "app_id": caller.app_id,
                "provider_id": caller.provider_id,
                "client_id": caller.client_id,
                "scopes": list(caller.scopes),
                "quota_per_hour": caller.quota_per_hour,
                "user": str(request.user),
                "user_pk": request.user.pk,
                "user_is_staff": request.user.is_staff,
                "user_is_authenticated": request.user.is_authenticated,
            }
        )


class SubscriptionsProbe(Probe):
    required_scopes = ["subscriptions-tracking"]


class UnscopedProbe(Probe):
    required_scopes: list[str] = []


urlpatterns = [
    path("oauth2/v3/", include("tracking.oauth_urls")),
    path("probe", Probe.as_view(), name="probe"),
    path("probe/subscriptions", SubscriptionsProbe.as_view(), name="probe_subscriptions"),
    path("probe/unscoped", UnscopedProbe.as_view(), name="probe_unscoped"),
]

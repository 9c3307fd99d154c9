"""OAuth 2.0 at /oauth2/v3/ (token, revoke), as USPS's oauth2/v3: no trailing slash."""

from django.urls import path

from tracking.oauth_views import RevokeView, TokenView

urlpatterns = [
    path("token", TokenView.as_view(), name="oauth_token"),
    path("revoke", RevokeView.as_view(), name="oauth_revoke"),
]

"""OAuth 2.0 at /oauth2/v3/ (token, revoke), as USPS's oauth2/v3."""

urlpatterns: list = []

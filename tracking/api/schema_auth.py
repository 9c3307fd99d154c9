"""Tells drf-spectacular that the API uses OAuth 2.0 client credentials (imported in
TrackingConfig.ready, as drf-spectacular's extensions must be)."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension

from tracking.constants import SCOPES


class BearerTokenScheme(OpenApiAuthenticationExtension):
    target_class = "tracking.authentication.BearerTokenAuthentication"
    name = "OAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "oauth2",
            "flows": {"clientCredentials": {"tokenUrl": "/oauth2/v3/token", "scopes": SCOPES}},
        }

    def get_security_requirement(self, auto_schema):
        return {self.name: list(getattr(auto_schema.view, "required_scopes", []))}

"""Placeholder: the OAuth validator and scopes backend."""
from oauth2_provider.oauth2_validators import OAuth2Validator
from oauth2_provider.scopes import SettingsScopes


class AppScopes(SettingsScopes):
    pass


class PortalOAuth2Validator(OAuth2Validator):
    pass

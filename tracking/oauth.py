"""django-oauth-toolkit fitted to USPS's oauth2/v3 for the portal's API apps.

- Only the client-credentials grant, for Applications that belong to an ACTIVE ApiApp.
- Scopes are per app. Like USPS, a request for many scopes is granted the ones the app holds
  and refused (invalid_scope) only when it holds none of them.
- During a secret rotation's overlap the previous secret (a Django password hash) still
  authenticates the client, by HTTP Basic or in the body.
- The token response carries USPS's extra fields (issued_at in epoch milliseconds, status,
  issuer, client_id, application_name).
"""

import base64
import binascii
from typing import Any
from urllib.parse import unquote_plus

from django.contrib.auth.hashers import check_password
from django.db import transaction
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables
from oauth2_provider.models import get_access_token_model, get_application_model
from oauth2_provider.oauth2_backends import OAuthLibCore
from oauth2_provider.oauth2_validators import OAuth2Validator
from oauth2_provider.scopes import BaseScopes, get_scopes_backend
from oauth2_provider.settings import oauth2_settings
from oauthlib.common import Request as OAuthRequest
from oauthlib.oauth2 import BackendApplicationServer
from oauthlib.oauth2.rfc6749 import errors

from tracking import credentials_cache
from tracking.constants import SCOPES, ApiAppStatus
from tracking.models import ApiApp

Application = get_application_model()
AccessToken = get_access_token_model()

GRANT_TYPE = "client_credentials"


def active_api_app(application: Any) -> ApiApp | None:
    """The ApiApp behind an OAuth Application, if it may still be used."""
    if application is None:
        return None
    try:
        app = application.api_app
    except ApiApp.DoesNotExist:
        return None
    return app if app.status == ApiAppStatus.ACTIVE else None


class AppScopes(BaseScopes):
    """Each app is granted its own scopes (ApiApp.scope); by default, all of them."""

    def get_all_scopes(self) -> dict[str, str]:
        return dict(SCOPES)

    def get_available_scopes(self, application=None, request=None, *args, **kwargs) -> list[str]:
        app = active_api_app(application)
        return [scope for scope in app.scopes if scope in SCOPES] if app else []

    def get_default_scopes(self, application=None, request=None, *args, **kwargs) -> list[str]:
        return self.get_available_scopes(application, request)


def _token_lifetime(request: OAuthRequest) -> int:
    # Read per token rather than once when the (cached) server is built, so a changed
    # OAUTH2_PROVIDER setting applies at once.
    return oauth2_settings.ACCESS_TOKEN_EXPIRE_SECONDS


class PortalServer(BackendApplicationServer):
    """Client credentials only: any other grant_type is unsupported_grant_type."""

    def __init__(
        self,
        request_validator,
        token_generator=None,
        refresh_token_generator=None,
        **_other_toolkit_kwargs: Any,
    ) -> None:
        # The toolkit's other server kwargs (device flow, a fixed token lifetime) do not apply.
        super().__init__(
            request_validator,
            token_generator=token_generator,
            token_expires_in=_token_lifetime,
            refresh_token_generator=refresh_token_generator,
        )
        # RFC 7009: the hint is only a hint. USPS's own default hint is refresh_token, which
        # oauthlib would refuse (unsupported_token_type) on a server without refresh tokens.
        self.supported_token_types = self.valid_token_types


class PortalOAuthLibCore(OAuthLibCore):
    """Reads the parameters the view already parsed (form or JSON) instead of request.POST."""

    def extract_body(self, request) -> list[tuple[str, str]]:
        return list(request.oauth_params)

    def _get_extra_credentials(self, request) -> dict[str, str]:
        # Merged into a successful token response only.
        return {"issuer": request.get_host()}


@sensitive_variables()
def _basic_auth_string(request: OAuthRequest) -> str | None:
    # The scheme is case-insensitive (RFC 9110 §11.1), unlike the toolkit's own check.
    scheme, _, credentials = (request.headers.get("HTTP_AUTHORIZATION") or "").partition(" ")
    if scheme.lower() != "basic":
        return None
    return credentials.strip() or None


@sensitive_variables()
def _decode_basic(auth_string: str) -> tuple[str, str] | None:
    """RFC 6749 §2.3.1: base64 of form-encoded client_id ":" client_secret."""
    try:
        decoded = base64.b64decode(auth_string, validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return None
    client_id, colon, secret = decoded.partition(":")
    if not colon:
        return None
    return unquote_plus(client_id), unquote_plus(secret)


@sensitive_variables()
def _previous_secret_matches(app: ApiApp, secret: str) -> bool:
    """The secret a rotation replaced still works until its overlap ends."""
    if not app.previous_secret or app.previous_secret_expires_at is None:
        return False
    if app.previous_secret_expires_at <= timezone.now():
        return False
    return check_password(secret, app.previous_secret)


class PortalOAuth2Validator(OAuth2Validator):
    def _load_application(self, client_id, request):
        """The Application of an ACTIVE ApiApp, with that ApiApp loaded in the same query;
        None for an unknown client, a revoked app or an Application that is no ApiApp."""
        cached = request.client
        if isinstance(cached, Application) and cached.client_id == client_id:
            if active_api_app(cached) is not None:
                return cached
        request.client = None
        if not isinstance(client_id, str) or not client_id:
            return None
        try:
            client = Application.objects.select_related("api_app").get(client_id=client_id)
        except (Application.DoesNotExist, ValueError):
            # ValueError: psycopg refuses a NUL byte in a query parameter.
            return None
        if active_api_app(client) is None:
            return None
        request.client = client
        return client

    @sensitive_variables()
    def _client_credentials(self, request) -> tuple[str, str] | None:
        """The client's id and secret, from HTTP Basic or else from the body. A request that
        names one client in Basic and another in the body authenticates neither."""
        auth_string = _basic_auth_string(request)
        if auth_string:
            credentials = _decode_basic(auth_string)
            if credentials is None:
                return None
            if request.client_id and request.client_id != credentials[0]:
                return None
            return credentials
        client_id = request.client_id
        secret = getattr(request, "client_secret", None)
        if not client_id or secret is None:
            return None
        return client_id, secret

    @sensitive_variables()
    def authenticate_client(self, request, *args, **kwargs) -> bool:
        credentials = self._client_credentials(request)
        if credentials is None:
            return False
        client_id, secret = credentials
        client = self._load_application(client_id, request)
        if client is None:
            return False
        if self._check_secret(secret, client.client_secret):
            return True
        return _previous_secret_matches(client.api_app, secret)

    def client_authentication_required(self, request, *args, **kwargs) -> bool:
        # Every API app is confidential: it always proves itself with its secret.
        return True

    def authenticate_client_id(self, client_id, request, *args, **kwargs) -> bool:
        return False

    def validate_grant_type(self, client_id, grant_type, client, request, *args, **kwargs):
        return grant_type == GRANT_TYPE and super().validate_grant_type(
            client_id, grant_type, client, request, *args, **kwargs
        )

    def validate_scopes(self, client_id, scopes, client, request, *args, **kwargs) -> bool:
        """Grant the requested scopes the app holds, in the order asked; refuse only when
        none of them can be granted."""
        held = get_scopes_backend().get_available_scopes(application=client, request=request)
        granted = [scope for scope in dict.fromkeys(scopes) if scope in held]
        if not granted:
            raise errors.InvalidScopeError(
                description=(
                    "None of the requested scopes can be granted to this app. It holds: "
                    f"{' '.join(held) or 'no scope'}."
                ),
                request=request,
            )
        request.scopes = granted
        return True

    def _save_bearer_token(self, token, request, *args, **kwargs):
        issued_at = timezone.now()
        super()._save_bearer_token(token, request, *args, **kwargs)
        app = request.client.api_app
        ApiApp.objects.filter(pk=app.pk).update(last_used_at=issued_at)
        token.update(
            {
                "issued_at": int(issued_at.timestamp() * 1000),
                "status": "approved",
                "client_id": request.client.client_id,
                "application_name": app.name,
            }
        )

    @sensitive_variables()
    def revoke_token(self, token, token_type_hint, request, *args, **kwargs) -> None:
        """RFC 7009 for access tokens (no refresh token is ever issued): the calling client's
        own token is deleted and leaves the bearer cache in the same step."""
        application_pk = getattr(request.client, "pk", None)
        if application_pk is None or not token:
            return
        checksum = credentials_cache.token_checksum(token)
        with transaction.atomic():
            deleted, _ = AccessToken.objects.filter(
                application_id=application_pk, token_checksum=checksum
            ).delete()
            if deleted:
                credentials_cache.revoke_tokens([checksum])
                # Again after commit: a request that read the row before the delete committed
                # may have cached it meanwhile.
                transaction.on_commit(
                    lambda: credentials_cache.revoke_tokens([checksum]), robust=True
                )

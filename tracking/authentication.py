"""DRF authentication of the tracking API: an OAuth bearer token, and the scope it must hold.

A token is found by its SHA-256 checksum (tokens are stored only as checksums). Who it belongs
to is cached (tracking.credentials_cache), so a warm token costs no query; a cold one costs
one, which also reads the provider's hourly quota.
"""

import re
import time
from collections.abc import Sequence

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from oauth2_provider.models import get_access_token_model
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from tracking import credentials_cache
from tracking.constants import ApiAppStatus
from tracking.credentials_cache import ApiCaller

AccessToken = get_access_token_model()

REALM = "tracking"
# RFC 6750 §2.1 b64token.
TOKEN_SYNTAX = re.compile(rb"[A-Za-z0-9\-._~+/]+=*")
MAX_TOKEN_LENGTH = 512

INVALID = "The access token is invalid or has been revoked."
EXPIRED = "The access token is expired."
APP_REVOKED = "The app this access token was issued to is revoked."


class ApiUser:
    """`request.user` of an API call: an app, not a person. It is no account, has no
    permission and is never staff."""

    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_staff = False
    is_superuser = False
    pk = None
    id = None

    def __init__(self, caller: ApiCaller) -> None:
        self.caller = caller

    def __str__(self) -> str:
        return f"API app {self.caller.client_id}"

    def get_username(self) -> str:
        return str(self)

    def has_perm(self, perm: str, obj: object = None) -> bool:
        return False

    def has_perms(self, perm_list: Sequence[str], obj: object = None) -> bool:
        return False

    def has_module_perms(self, app_label: str) -> bool:
        return False

    def is_verified(self) -> bool:
        return False


def _caller_from_database(checksum: str) -> ApiCaller:
    """One query: the token, its app, the app's provider quota."""
    row = (
        AccessToken.objects.filter(token_checksum=checksum)
        .values(
            "expires",
            "scope",
            "application__client_id",
            "application__api_app__id",
            "application__api_app__status",
            "application__api_app__scope",
            "application__api_app__provider_id",
            "application__api_app__provider__api_quota__calls_per_hour",
        )
        .first()
    )
    if row is None or row["application__api_app__id"] is None:
        raise exceptions.AuthenticationFailed(INVALID)
    if row["application__api_app__status"] != ApiAppStatus.ACTIVE:
        raise exceptions.AuthenticationFailed(APP_REVOKED)
    held = set(row["application__api_app__scope"].split())
    quota = row["application__api_app__provider__api_quota__calls_per_hour"]
    return ApiCaller(
        app_id=row["application__api_app__id"],
        provider_id=row["application__api_app__provider_id"],
        client_id=row["application__client_id"],
        # What the token was granted, and the app still holds.
        scopes=tuple(scope for scope in row["scope"].split() if scope in held),
        quota_per_hour=quota or settings.API_DEFAULT_QUOTA_PER_HOUR,
        expires_at=row["expires"].timestamp(),
    )


class BearerTokenAuthentication(BaseAuthentication):
    """`Authorization: Bearer <token>` → (ApiUser, ApiCaller). No header, or another scheme,
    leaves the request unauthenticated (DRF then answers 401 with our challenge)."""

    def authenticate(self, request: Request) -> tuple[ApiUser, ApiCaller] | None:
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != b"bearer":
            return None
        if len(parts) == 1:
            raise self._refuse(request, "Invalid Authorization header: no access token given.")
        if len(parts) > 2:
            raise self._refuse(
                request, "Invalid Authorization header: the access token must not contain spaces."
            )
        raw = parts[1]
        if len(raw) > MAX_TOKEN_LENGTH or not TOKEN_SYNTAX.fullmatch(raw):
            raise self._refuse(request, "The access token is malformed.")
        checksum = credentials_cache.token_checksum(raw.decode("ascii"))
        caller = credentials_cache.get(checksum)
        if caller is None:
            try:
                caller = _caller_from_database(checksum)
            except exceptions.AuthenticationFailed as exc:
                raise self._refuse(request, str(exc.detail)) from None
            if caller.expires_at > time.time():
                credentials_cache.put(checksum, caller, int(caller.expires_at - time.time()))
        if caller.expires_at <= time.time():
            raise self._refuse(request, EXPIRED)
        return ApiUser(caller), caller

    @staticmethod
    def _refuse(request: Request, message: str) -> exceptions.AuthenticationFailed:
        # RFC 6750 §3.1: a presented token that fails is answered with error="invalid_token".
        request.bearer_token_refused = True
        return exceptions.AuthenticationFailed(message, code="invalid_token")

    def authenticate_header(self, request: Request) -> str:
        if getattr(request, "bearer_token_refused", False):
            return f'Bearer realm="{REALM}", error="invalid_token"'
        return f'Bearer realm="{REALM}"'


class InsufficientScope(exceptions.APIException):
    """The token is valid but lacks a scope the view needs. USPS answers 401 here, not 403;
    `www_authenticate` is the challenge the 401 carries (RFC 6750 §3.1)."""

    status_code = 401
    default_code = "insufficient_scope"
    default_detail = "The access token does not grant the scope this API needs."

    def __init__(self, required_scopes: Sequence[str]) -> None:
        needed = " ".join(required_scopes)
        super().__init__(f"The access token does not grant the {needed} scope this API needs.")
        self.required_scopes = tuple(required_scopes)
        self.www_authenticate = (
            f'Bearer realm="{REALM}", error="insufficient_scope", scope="{needed}"'
        )
        # DRF's own exception handler sets WWW-Authenticate from this attribute.
        self.auth_header = self.www_authenticate


class TokenHasScope(BasePermission):
    """The caller's token holds every scope in the view's `required_scopes`."""

    def has_permission(self, request: Request, view: object) -> bool:
        required = getattr(view, "required_scopes", None)
        if not required:
            raise ImproperlyConfigured(f"{type(view).__name__} must set required_scopes.")
        caller = request.auth
        if not isinstance(caller, ApiCaller):
            return False  # not authenticated: DRF answers 401 with the bearer challenge
        if not set(required) <= set(caller.scopes):
            raise InsufficientScope(required)
        return True

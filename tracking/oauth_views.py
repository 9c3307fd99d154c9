"""POST /oauth2/v3/token and /oauth2/v3/revoke, answered as USPS's oauth2/v3 answers them.

The toolkit reads only form bodies; real USPS clients send JSON as often as forms, so both
are parsed here and handed to oauthlib the same way. Errors use RFC 6749 §5.2's body.
"""

import json
import re
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from oauth2_provider.views.mixins import OAuthLibMixin

from tracking.oauth import PortalOAuthLibCore, PortalServer

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
NUL = "\x00"

# oauthlib leaves some errors without a description; RFC 6749 §5.2 says what each means.
DESCRIPTIONS = {
    "invalid_client": (
        "Client authentication failed: unknown client_id, wrong client_secret, or a revoked app."
    ),
    "unsupported_grant_type": "Only grant_type=client_credentials is supported.",
    "unauthorized_client": "This client may use only the client_credentials grant.",
    "invalid_scope": "None of the requested scopes can be granted to this app.",
    "invalid_request": "The request is malformed.",
}
# Parameter names are echoed in error descriptions only when they are plain words, since an
# error_description may hold printable ASCII without quotes or backslashes only.
PLAIN_NAME = re.compile(r"[A-Za-z0-9_\-]{1,40}")


class InvalidBody(Exception):
    def __init__(self, description: str) -> None:
        super().__init__(description)
        self.description = description


def _named(key: str) -> str:
    return f"the {key} parameter" if PLAIN_NAME.fullmatch(key) else "a parameter"


@sensitive_variables()
def _json_pairs(raw: bytes) -> list[tuple[str, str]]:
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError) as exc:  # RecursionError: absurdly deep nesting
        raise InvalidBody("The body is not valid JSON.") from exc
    if not isinstance(data, dict):
        raise InvalidBody("The JSON body must be an object of string parameters.")
    for key, value in data.items():
        if not isinstance(value, str):
            raise InvalidBody(f"The value of {_named(key)} must be a string.")
        if NUL in key or NUL in value:
            raise InvalidBody("Parameters must not contain NUL characters.")
    return list(data.items())


@sensitive_variables()
def read_params(request: HttpRequest) -> list[tuple[str, str]]:
    """The body's parameters, from a form or a JSON object, each given once. Parameters
    without a value count as omitted (RFC 6749 §3.2)."""
    if not int(request.META.get("CONTENT_LENGTH") or 0):
        # No body: nothing to parse whatever the content type, and oauthlib names what is
        # missing.
        pairs = []
    elif request.content_type == FORM:
        pairs = [(key, value) for key, values in request.POST.lists() for value in values]
    elif request.content_type == JSON:
        pairs = _json_pairs(request.body)
    else:
        raise InvalidBody(f"Send the parameters as {FORM} or as {JSON}.")
    seen: set[str] = set()
    for key, _ in pairs:
        if key in seen:
            raise InvalidBody(f"{_named(key).capitalize()} is given more than once.")
        seen.add(key)
    return [(key, value) for key, value in pairs if value != ""]


def oauth_error(error: str, description: str, status: int = 400) -> HttpResponse:
    response = HttpResponse(
        json.dumps({"error": error, "error_description": description}),
        status=status,
        content_type="application/json",
    )
    response["Cache-Control"] = "no-store"
    return response


def _finish(headers: dict[str, str], body: str, status: int) -> HttpResponse:
    if status >= 400:
        data: dict[str, Any] = json.loads(body) if body else {}
        error = data.get("error") or "invalid_request"
        description = data.get("error_description") or DESCRIPTIONS.get(
            error, "The request was refused."
        )
        response = oauth_error(error, description, status)
        if status == 401:
            # Client authentication is HTTP Basic or the body; the challenge names the scheme
            # (oauthlib's default would name Bearer, which is for the API, not this endpoint).
            response["WWW-Authenticate"] = 'Basic realm="oauth2", charset="UTF-8"'
        return response
    # A revocation answers 200 with no body at all (RFC 7009 §2.2).
    content_type = "application/json" if body else "text/plain; charset=utf-8"
    response = HttpResponse(body or "", status=status, content_type=content_type)
    for key, value in headers.items():
        response[key] = value
    response["Cache-Control"] = "no-store"
    return response


@method_decorator(csrf_exempt, name="dispatch")
@method_decorator(sensitive_post_parameters("client_secret", "token"), name="post")
class OAuthEndpoint(OAuthLibMixin, View):
    http_method_names = ["post", "options"]
    server_class = PortalServer
    oauthlib_backend_class = PortalOAuthLibCore

    def post(self, request: HttpRequest) -> HttpResponse:
        try:
            request.oauth_params = read_params(request)
        except InvalidBody as exc:
            return oauth_error("invalid_request", exc.description)
        _, headers, body, status = self.respond(request)
        return _finish(headers, body, status)

    def respond(self, request: HttpRequest) -> tuple[Any, dict[str, str], str, int]:
        raise NotImplementedError

    def http_method_not_allowed(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        response = oauth_error("invalid_request", "Use POST.", status=405)
        response["Allow"] = "POST, OPTIONS"
        return response


class TokenView(OAuthEndpoint):
    """Client credentials → a bearer token (USPS's fields: issued_at in ms, status, issuer,
    client_id, application_name)."""

    def respond(self, request: HttpRequest) -> tuple[Any, dict[str, str], str, int]:
        return self.create_token_response(request)


class RevokeView(OAuthEndpoint):
    """RFC 7009: 200 whether or not the token was known, so nothing is learnt from it."""

    def respond(self, request: HttpRequest) -> tuple[Any, dict[str, str], str, int]:
        return self.create_revocation_response(request)

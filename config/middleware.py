"""Site-wide request middleware."""

import json

from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    JsonResponse,
    QueryDict,
    UnreadablePostError,
)

from tracking.api.errors import Problem, envelope

NUL = "\x00"
NUL_MESSAGE = "Request parameters must not contain NUL characters."


def _nul_parameter(data: QueryDict) -> str | None:
    """The first parameter whose name or value holds NUL (its name made printable), or None."""
    for key, values in data.lists():
        if NUL in key or any(NUL in value for value in values):
            return key.replace(NUL, "\ufffd")
    return None


class RejectNulBytesMiddleware:
    """Answer 400 to a query parameter or form field (key or value) holding a NUL character.

    PostgreSQL text cannot hold NUL, so psycopg raises as soon as such a value reaches a query and
    the view answers 500 (issue 6: admin filters, search, autocomplete). No page or API of ours
    has a use for NUL, so one check at the door replaces hardening every view.

    Only what Django itself parses is read: the query string and form-encoded POST bodies
    (urlencoded or multipart fields). Uploaded file contents and JSON bodies are left to their
    views; DRF's CharField already refuses NUL in JSON.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        parameter = _nul_parameter(request.GET) or self._post_nul_parameter(request)
        if parameter is not None:
            return self._refusal(request.path, parameter)
        return self.get_response(request)

    @staticmethod
    def _refusal(path: str, parameter: str) -> HttpResponse:
        """400 in the shape the caller's client parses: the USPS envelope on the tracking API,
        the RFC 6749 error body on OAuth, plain text elsewhere."""
        if path.startswith("/tracking/v3"):
            version = "/tracking/v3r2" if path.startswith("/tracking/v3r2") else "/tracking/v3"
            body = envelope(
                status_code=400,
                problems=[Problem(400, "invalid", NUL_MESSAGE, parameter=parameter)],
                api_version=version,
            )
            return JsonResponse(body, status=400)
        if path.startswith("/oauth2/"):
            body = {"error": "invalid_request", "error_description": NUL_MESSAGE}
            return HttpResponse(json.dumps(body), status=400, content_type="application/json")
        return HttpResponseBadRequest(NUL_MESSAGE, content_type="text/plain; charset=utf-8")

    @staticmethod
    def _post_nul_parameter(request: HttpRequest) -> str | None:
        if request.method != "POST":
            return None
        try:
            return _nul_parameter(request.POST)
        except UnreadablePostError:
            # The client went away mid-body; CsrfViewMiddleware and the view handle that as
            # they always have.
            return None

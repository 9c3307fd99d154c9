"""Site-wide request middleware."""

from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    QueryDict,
    UnreadablePostError,
)

NUL = "\x00"
NUL_MESSAGE = "Request parameters must not contain NUL characters."


def _has_nul(data: QueryDict) -> bool:
    return any(NUL in key or any(NUL in value for value in values) for key, values in data.lists())


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
        if _has_nul(request.GET) or self._post_has_nul(request):
            return HttpResponseBadRequest(NUL_MESSAGE, content_type="text/plain; charset=utf-8")
        return self.get_response(request)

    @staticmethod
    def _post_has_nul(request: HttpRequest) -> bool:
        if request.method != "POST":
            return False
        try:
            return _has_nul(request.POST)
        except UnreadablePostError:
            # The client went away mid-body; CsrfViewMiddleware and the view handle that as
            # they always have.
            return False

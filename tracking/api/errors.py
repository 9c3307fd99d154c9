"""The USPS error envelope, the one shape of every API error:

    {"apiVersion": "/tracking/v3r2",
     "error": {"code": "403", "message": "Forbidden",
               "errors": [{"status": "403", "code": "MID_NOT_AUTHORIZED", "title": "…",
                           "detail": "…", "source": {"parameter": "trackingNumber"}}]}}

`usps_exception_handler` is DRF's EXCEPTION_HANDLER: whatever goes wrong in an API view (a
refusal of ours, DRF's own 401/405/415/429, a bug) leaves in this envelope, with
WWW-Authenticate on a 401 and Retry-After on a 429 or 503.
"""

import logging
import math
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response

logger = logging.getLogger(__name__)

DEFAULT_API_VERSION = "/tracking/v3r2"

TITLES: dict[int, str] = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    406: "Not Acceptable",
    415: "Unsupported Media Type",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


@dataclass(frozen=True, slots=True)
class Problem:
    """One entry of `error.errors`."""

    status: int
    code: str
    detail: str
    title: str = ""
    parameter: str | None = None
    example: str | None = None

    def as_dict(self) -> dict[str, Any]:
        item: dict[str, Any] = {
            "status": str(self.status),
            "code": self.code,
            "title": self.title or TITLES.get(self.status, "Error"),
            "detail": self.detail,
        }
        if self.parameter is not None:
            source: dict[str, str] = {"parameter": self.parameter}
            if self.example is not None:
                source["example"] = self.example
            item["source"] = source
        return item


def envelope(
    *, status_code: int, problems: list[Problem], api_version: str, message: str = ""
) -> dict[str, Any]:
    return {
        "apiVersion": api_version,
        "error": {
            "code": str(status_code),
            "message": message or TITLES.get(status_code, "Error"),
            "errors": [problem.as_dict() for problem in problems],
        },
    }


class ApiError(exceptions.APIException):
    """A refusal of ours, carrying its problems; rendered by `usps_exception_handler`."""

    def __init__(
        self,
        status_code: int,
        problems: list[Problem],
        *,
        message: str = "",
        headers: dict[str, str] | None = None,
    ) -> None:
        self.status_code = status_code
        self.problems = problems
        self.message = message
        self.headers = headers or {}
        super().__init__(detail=message or TITLES.get(status_code, "Error"))


def api_version_of(context: dict[str, Any] | None) -> str:
    view = (context or {}).get("view")
    return getattr(view, "api_version", None) or DEFAULT_API_VERSION


def _problems_from_validation(detail: Any, prefix: str = "") -> list[Problem]:
    """Flatten DRF's nested validation detail into one problem per message, each naming its
    parameter ("[2].mailingDate" for the third item of a batch)."""
    problems: list[Problem] = []
    if isinstance(detail, dict):
        for key, value in detail.items():
            if isinstance(key, int):  # DRF keys a list serializer's item errors by index
                problems += _problems_from_validation(value, f"{prefix}[{key}]")
                continue
            name = key if key != "non_field_errors" else ""
            path = f"{prefix}.{name}" if prefix and name else (prefix or name)
            problems += _problems_from_validation(value, path)
    elif isinstance(detail, list):
        if all(not isinstance(item, dict | list) for item in detail):
            for message in detail:
                problems.append(
                    Problem(
                        400,
                        getattr(message, "code", "invalid") or "invalid",
                        str(message),
                        parameter=prefix or None,
                    )
                )
        else:
            for index, item in enumerate(detail):
                if item:
                    problems += _problems_from_validation(item, f"{prefix}[{index}]")
    else:
        problems.append(
            Problem(
                400,
                getattr(detail, "code", "invalid") or "invalid",
                str(detail),
                parameter=prefix or None,
            )
        )
    return problems


def _code_of(exc: exceptions.APIException) -> str:
    codes = exc.get_codes()
    return codes if isinstance(codes, str) else exc.default_code


def usps_exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    api_version = api_version_of(context)
    headers: dict[str, str] = {}
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()

    if isinstance(exc, ApiError):
        status_code, problems, message = exc.status_code, exc.problems, exc.message
        headers.update(exc.headers)
    elif isinstance(exc, exceptions.ValidationError):
        status_code, message = status.HTTP_400_BAD_REQUEST, "Bad Request"
        problems = _problems_from_validation(exc.detail) or [
            Problem(400, "invalid", "The request is not valid.")
        ]
    elif isinstance(exc, exceptions.APIException):
        status_code = exc.status_code
        message = TITLES.get(status_code, "Error")
        problems = [Problem(status_code, _code_of(exc), str(exc.detail))]
        if isinstance(exc, exceptions.Throttled) and exc.wait is not None:
            headers["Retry-After"] = str(math.ceil(exc.wait))
        auth_header = getattr(exc, "www_authenticate", None) or getattr(exc, "auth_header", None)
        if auth_header:
            headers["WWW-Authenticate"] = auth_header
    else:
        logger.exception("unhandled error in %s", context.get("view").__class__.__name__)
        status_code, message = status.HTTP_500_INTERNAL_SERVER_ERROR, "Internal Server Error"
        problems = [
            Problem(500, "INTERNAL_ERROR", "The server could not answer; please retry later.")
        ]

    if status_code == status.HTTP_401_UNAUTHORIZED and "WWW-Authenticate" not in headers:
        headers["WWW-Authenticate"] = 'Bearer realm="tracking"'
    body = envelope(
        status_code=status_code, problems=problems, api_version=api_version, message=message
    )
    return Response(body, status=status_code, headers=headers)

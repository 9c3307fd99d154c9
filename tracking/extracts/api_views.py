"""The extracts API (scope `tracking`, the USPS error envelope, the app's hourly quota):

GET  /tracking/v3r2/extracts/events        events of some MIDs, a cursor-paginated page
POST /tracking/v3r2/extracts               request an extract file (202)
GET  /tracking/v3r2/extracts/{extractId}   its status, rows, SHA-256 and file link
GET  /tracking/v3r2/extracts/{extractId}/file   the gzip file (same provider only)
"""

from typing import Any

from django.urls import reverse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from redis import RedisError
from rest_framework import status
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.models import Provider
from accounts.portal import client_ip
from agreements.decision import Decision, decide_many
from core.errors import DomainError
from tracking.api import disclosures
from tracking.api.errors import ApiError, Problem
from tracking.api.service import consume_quota, unavailable
from tracking.api.views import ERROR_RESPONSES, TrackingApiView
from tracking.constants import ExtractSource, ExtractStatus
from tracking.extracts import selectors
from tracking.extracts.api_params import EventsQuery, make_cursor, parse_events_query
from tracking.extracts.api_serializers import (
    EventsPageSerializer,
    ExtractCreateSerializer,
    ExtractStatusSerializer,
)
from tracking.extracts.requests import ExtractRefused
from tracking.extracts.services import (
    ExtractLimitReached,
    denied_from,
    denied_mids,
    extract_request,
    record_download,
)
from tracking.extracts.views import file_response, head_response
from tracking.models import ApiApp, Extract

TAGS = ["Scan event extracts"]
# The service's field names as the API spells them.
WIRE_NAMES = {
    "mids": "MIDs",
    "start_date": "startDate",
    "end_date": "endDate",
    "file_format": "format",
}


def page_disclosures(
    *, caller, decisions: dict[str, Decision], events: list[dict[str, Any]], request_id: str
) -> list[disclosures.DisclosureRecord]:
    """One disclosure record per distinct piece (tracking number) of a page, allowed, with
    the basis of the decision that allowed its MID."""
    now = timezone.now()
    records, seen = [], set()
    for event in events:
        number, mid = event["trackingNumber"], event.get("mailerID", "")
        if number in seen:
            continue
        seen.add(number)
        decision = decisions.get(mid)
        basis = decision.basis if decision is not None else None
        records.append(
            disclosures.make_record(
                occurred_at=now,
                request_id=request_id,
                provider_id=caller.provider_id,
                app_id=caller.app_id,
                tracking_number=number,
                mid=mid,
                allowed=True,
                reason_code="",
                http_status=200,
                basis=f"{basis.kind}:{basis.pk}" if basis else "",
            )
        )
    return records


def _denied(denied: dict, parameter: str) -> ApiError:
    """403 with one problem per denied MID, each with the decision's reason code."""
    return ApiError(
        403,
        [
            Problem(
                403, reason.code, f"MID {mid}: {reason.message}", parameter=parameter, example=mid
            )
            for mid, reason in denied.items()
        ],
    )


class ExtractApiView(TrackingApiView):
    api_version = "/tracking/v3r2"

    def provider(self, request: Request) -> Provider:
        return Provider.objects.get(pk=request.auth.provider_id)

    def extract(self, request: Request, extract_id: Any) -> Extract:
        found = selectors.extract_of_provider(
            provider_id=request.auth.provider_id, public_id=extract_id
        )
        if found is None:
            raise NotFound("No extract with this id.")
        return found


class ExtractEventsView(ExtractApiView):
    @extend_schema(
        operation_id="get-extract-events",
        summary="Scan events of some MIDs, a page at a time, in event id order",
        parameters=[
            OpenApiParameter(
                "MID", OpenApiTypes.STR, required=True, description="MIDs, comma-separated."
            ),
            OpenApiParameter(
                "since",
                OpenApiTypes.STR,
                required=True,
                description="A UTC day (YYYY-MM-DD) or an ISO 8601 date-time with offset; "
                "the scan's GMT time, inclusive.",
            ),
            OpenApiParameter(
                "until",
                OpenApiTypes.STR,
                description="Exclusive (a day: through its end). Default: since + "
                "EXTRACT_MAX_DAYS days.",
            ),
            OpenApiParameter(
                "limit",
                OpenApiTypes.INT,
                description="Events per page, 1 to EXTRACT_MAX_PAGE_SIZE (default "
                "EXTRACT_PAGE_SIZE). Each 100 asked for cost one call of the hourly quota.",
            ),
            OpenApiParameter(
                "cursor", OpenApiTypes.STR, description="`next` of the previous page."
            ),
        ],
        responses={200: EventsPageSerializer, **ERROR_RESPONSES},
        tags=TAGS,
    )
    def get(self, request: Request) -> Response:
        caller = request.auth
        query = parse_events_query(request.query_params, provider_id=caller.provider_id)
        self._consume(caller, query)
        decisions = decide_many(provider=self.provider(request), mids=list(query.mids))
        denied = denied_from(decisions)
        if denied:
            raise _denied(denied, "MID")
        page = selectors.events_page(
            mids=list(query.mids),
            lower=query.since,
            upper=query.until,
            after_id=query.after_id,
            limit=query.limit,
        )
        # Nothing is disclosed that is not recorded: one record per piece on the page, in the
        # buffer lookups use (Disclosure and DailyUsage once drained), or a 503 and no page.
        try:
            disclosures.push(
                page_disclosures(
                    caller=caller,
                    decisions=decisions,
                    events=page.events,
                    request_id=self.request_id,
                )
            )
        except RedisError as exc:
            raise unavailable() from exc
        # Always a cursor, even when the window has ended: USPS scans arrive late and are
        # filed by their GMT time, so a finished window can still gain events. The client
        # stops when it has what it needs, or polls the cursor later.
        cursor = make_cursor(query=query, provider_id=caller.provider_id, last_id=page.last_id)
        return Response({"events": page.events, "next": cursor, "limit": query.limit})

    def _consume(self, caller, query: EventsQuery) -> None:
        self.quota = consume_quota(
            caller=caller,
            calls=query.calls,
            refusal=lambda quota: (
                f"This page costs {query.calls} calls (one per 100 events of `limit`) "
                f"and the app has {quota.remaining} of its {quota.limit} left this "
                f"hour. The count starts again in {quota.reset_in} seconds; a smaller "
                "limit costs less."
            ),
        )


def _status_body(request: Request, extract: Extract) -> dict[str, Any]:
    href = reverse("api_extract", kwargs={"extractId": extract.public_id})
    links = [{"rel": ["self"], "href": href, "method": "GET"}]
    body: dict[str, Any] = {
        "extractId": str(extract.public_id),
        "status": extract.status,
        "MIDs": list(extract.mids),
        "startDate": extract.start_date.isoformat(),
        "endDate": extract.end_date.isoformat(),
        "format": extract.file_format,
        "requestedAt": extract.created_at.isoformat(),
    }
    if extract.status_reason:
        body["statusReason"] = extract.status_reason
    if extract.row_count is not None:
        body |= {"rowCount": extract.row_count, "byteCount": extract.byte_count}
    if extract.sha256:
        body["sha256"] = extract.sha256
    if extract.built_at:
        body["builtAt"] = extract.built_at.isoformat()
    if extract.expires_at:
        body["expiresAt"] = extract.expires_at.isoformat()
    if extract.status == ExtractStatus.READY and extract.expires_at > timezone.now():
        file_href = reverse("api_extract_file", kwargs={"extractId": extract.public_id})
        links.append({"rel": ["file"], "href": file_href, "method": "GET"})
    body["links"] = links
    return body


class ExtractCreateView(ExtractApiView):
    @extend_schema(
        operation_id="post-extract",
        summary="Request a scan event extract file",
        request=ExtractCreateSerializer,
        responses={202: ExtractStatusSerializer, **ERROR_RESPONSES},
        tags=TAGS,
    )
    def post(self, request: Request) -> Response:
        body = ExtractCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        caller = request.auth
        try:
            extract = extract_request(
                provider=self.provider(request),
                actor=None,
                app=ApiApp.objects.get(pk=caller.app_id),
                mids=data["MIDs"],
                start_date=data["startDate"],
                end_date=data["endDate"],
                file_format=data["format"],
                source=ExtractSource.API,
            )
        except ExtractRefused as exc:
            raise _denied(exc.denied, "MIDs") from exc
        except ExtractLimitReached as exc:
            # 429: nothing is wrong with the request itself; it fits once an open extract
            # finishes. No Retry-After: that depends on builds and staff, not on a clock.
            raise ApiError(
                429,
                [Problem(429, "TOO_MANY_OPEN_EXTRACTS", exc.message, title="Too Many Requests.")],
                message="Too many open extracts.",
            ) from exc
        except DomainError as exc:
            raise ApiError(
                400,
                [
                    Problem(400, "INVALID_REQUEST", text, parameter=WIRE_NAMES.get(field, field))
                    for field, texts in exc.field_errors.items()
                    for text in texts
                ],
            ) from exc
        return Response(_status_body(request, extract), status=status.HTTP_202_ACCEPTED)


EXTRACT_ID = OpenApiParameter(
    "extractId", OpenApiTypes.UUID, OpenApiParameter.PATH, description="The extract's id."
)


class ExtractStatusView(ExtractApiView):
    @extend_schema(
        operation_id="get-extract",
        summary="An extract's status, row count, SHA-256 and file link",
        parameters=[EXTRACT_ID],
        responses={200: ExtractStatusSerializer, **ERROR_RESPONSES},
        tags=TAGS,
    )
    def get(self, request: Request, extractId: Any) -> Response:  # noqa: N803 - wire name
        return Response(_status_body(request, self.extract(request, extractId)))


class ExtractFileView(ExtractApiView):
    @extend_schema(
        operation_id="get-extract-file",
        summary="The extract's gzip file (NDJSON or CSV inside)",
        parameters=[EXTRACT_ID],
        responses={
            (200, "application/gzip"): OpenApiResponse(
                OpenApiTypes.BINARY, description="The file; X-Content-SHA256 is its SHA-256."
            ),
            409: OpenApiResponse(description="Not built (yet), or failed."),
            410: OpenApiResponse(description="Expired: its file was deleted."),
            **ERROR_RESPONSES,
        },
        tags=TAGS,
    )
    def get(self, request: Request, extractId: Any):  # noqa: N803 - wire name
        extract = self.extract(request, extractId)
        expired = extract.status == ExtractStatus.EXPIRED or (
            extract.status == ExtractStatus.READY and extract.expires_at <= timezone.now()
        )
        if expired:
            raise ApiError(
                410,
                [
                    Problem(
                        410,
                        "EXTRACT_EXPIRED",
                        "The extract expired and its file was deleted; request it again.",
                    )
                ],
                message="Gone",
            )
        if extract.status != ExtractStatus.READY or not extract.file:
            raise ApiError(
                409,
                [
                    Problem(
                        409,
                        "EXTRACT_NOT_READY",
                        f"The extract is {extract.get_status_display().lower()}; it has no file.",
                    )
                ],
                message="Conflict",
            )
        denied = denied_mids(provider=extract.provider, mids=extract.mids)
        if denied:
            raise _denied(denied, "extractId")
        if request.method == "HEAD":
            return head_response(extract)  # headers only; no download recorded
        try:
            handle = extract.file.open("rb")
        except FileNotFoundError:
            raise NotFound("The extract's file is missing.") from None
        record_download(
            extract=extract, app=ApiApp.objects.get(pk=request.auth.app_id), ip=_ip(request)
        )
        return file_response(extract, handle)


def _ip(request: Request) -> str | None:
    return client_ip(request)

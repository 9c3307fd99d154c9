"""Tracking 3.0 (GET /tracking/v3/tracking/{n}) and 3.2 (POST /tracking/v3r2/tracking),
wire-compatible with USPS: OAuth bearer tokens with the `tracking` scope, the USPS error
envelope, 207 multi-status for mixed batches, per-app hourly quotas."""

import re
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
)
from rest_framework import status
from rest_framework.exceptions import NotFound
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from tracking.api import shapes
from tracking.api.errors import ApiError, envelope
from tracking.api.lookup import TrackOutcome, TrackRequest
from tracking.api.parsers import BoundedJSONParser
from tracking.api.requests import (
    LegacyQuerySerializer,
    TrackingRequestItemSerializer,
    batch_serializer,
)
from tracking.api.schema import (
    ErrorMessageSerializer,
    LegacyTrackingDetailsSerializer,
    MultiStatusItemSerializer,
    TrackingDetailSerializer,
    TrackingSummarySerializer,
)
from tracking.api.service import new_request_id, quota_headers, serve
from tracking.authentication import BearerTokenAuthentication, TokenHasScope
from tracking.constants import SCOPE_TRACKING

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{8,64}$")

ERROR_RESPONSES = {
    code: OpenApiResponse(ErrorMessageSerializer, description=text)
    for code, text in {
        400: "Bad request (the USPS error envelope).",
        401: "Missing, invalid or expired token, or no `tracking` scope (WWW-Authenticate).",
        403: "The access decision denied the number; the reason code is in errors[].code.",
        404: "Authorized, but no tracking data for this number.",
        405: "Method not allowed.",
        406: "Only JSON is served.",
        415: "The body must be JSON.",
        429: "The app's hourly quota is used up (Retry-After).",
        500: "Server error.",
        503: "Briefly unavailable (Retry-After).",
    }.items()
}


class TrackingApiView(APIView):
    authentication_classes = [BearerTokenAuthentication]
    permission_classes = [TokenHasScope]
    required_scopes = [SCOPE_TRACKING]
    parser_classes = [BoundedJSONParser]
    renderer_classes = [JSONRenderer]
    throttle_classes: list = []
    api_version = "/tracking/v3r2"

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        sent = request.headers.get("X-Request-ID", "")
        self.request_id = sent if _REQUEST_ID.match(sent) else new_request_id()
        self.quota = None
        super().initial(request, *args, **kwargs)

    def finalize_response(
        self, request: Request, response: Response, *args: Any, **kwargs: Any
    ) -> Response:
        response = super().finalize_response(request, response, *args, **kwargs)
        response["X-Request-ID"] = getattr(self, "request_id", "") or new_request_id()
        if getattr(self, "quota", None) is not None:
            for name, value in quota_headers(self.quota).items():
                response.setdefault(name, value)
        response["Cache-Control"] = "no-store"
        return response

    def serve(self, request: Request, requests: list[TrackRequest], shape, parameter):
        served = serve(
            caller=request.auth,
            requests=requests,
            shape=shape,
            parameter=parameter,
            request_id=self.request_id,
        )
        self.quota = served.quota
        return served.outcomes


class LegacyTrackingView(TrackingApiView):
    api_version = "/tracking/v3"

    @extend_schema(
        operation_id="get-package-tracking",
        summary="Tracking 3.0: one package, SUMMARY or DETAIL",
        parameters=[
            LegacyQuerySerializer,
            OpenApiParameter(
                "trackingNumber",
                OpenApiTypes.STR,
                OpenApiParameter.PATH,
                description="The tracking number (PIC), with or without 420 + ZIP routing.",
            ),
        ],
        responses={
            200: OpenApiResponse(
                PolymorphicProxySerializer(
                    component_name="LegacyTrackingResponse",
                    serializers=[TrackingSummarySerializer, LegacyTrackingDetailsSerializer],
                    resource_type_field_name=None,
                ),
                description="A TrackingSummary for expand=SUMMARY (the default), "
                "TrackingDetails for expand=DETAIL.",
            ),
            **ERROR_RESPONSES,
        },
        tags=["Tracking 3.0 (legacy)"],
    )
    def get(self, request: Request, trackingNumber: str) -> Response:  # noqa: N803 - USPS's name
        params = LegacyQuerySerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        query = params.validated_data
        shape = shapes.v3_detail if query["expand"] == "DETAIL" else shapes.v3_summary
        track_request = TrackRequest(
            tracking_number=trackingNumber,
            mailing_date=query.get("mailingDate"),
            destination_zip=query.get("destinationZIPCode"),
        )
        (outcome,) = self.serve(request, [track_request], shape, lambda _: "trackingNumber")
        if outcome.problem is not None:
            raise ApiError(outcome.status, [outcome.problem])
        return Response(outcome.detail)


def _item(outcome: TrackOutcome, api_version: str) -> dict[str, Any]:
    if outcome.problem is None:
        return {"statusCode": "200", **outcome.detail}
    return {
        "statusCode": str(outcome.status),
        "trackingNumber": outcome.request.tracking_number,
        **envelope(status_code=outcome.status, problems=[outcome.problem], api_version=api_version),
    }


class TrackingBatchView(TrackingApiView):
    api_version = "/tracking/v3r2"

    @extend_schema(
        operation_id="get-packages-tracking",
        summary="Tracking 3.2: 1 to 35 packages",
        request=TrackingRequestItemSerializer(many=True),
        responses={
            200: OpenApiResponse(TrackingDetailSerializer(many=True), description="All found."),
            207: OpenApiResponse(
                MultiStatusItemSerializer(many=True),
                description="Mixed results: each item carries its own statusCode.",
            ),
            **ERROR_RESPONSES,
        },
        tags=["Tracking 3.2"],
    )
    def post(self, request: Request) -> Response:
        body = batch_serializer(request.data)
        body.is_valid(raise_exception=True)
        requests = [
            TrackRequest(
                tracking_number=item["trackingNumber"],
                mailing_date=item.get("mailingDate"),
                destination_zip=item.get("destinationZIPCode"),
            )
            for item in body.validated_data
        ]
        outcomes = self.serve(
            request, requests, shapes.v3r2_detail, lambda index: f"[{index}].trackingNumber"
        )
        statuses = {outcome.status for outcome in outcomes}
        if statuses == {200}:
            return Response([outcome.detail for outcome in outcomes])
        if len(statuses) == 1 and 200 not in statuses:
            # Every item failed the same way: that status, every item listed in one envelope.
            raise ApiError(statuses.pop(), [outcome.problem for outcome in outcomes])
        return Response(
            [_item(outcome, self.api_version) for outcome in outcomes],
            status=status.HTTP_207_MULTI_STATUS,
        )


@extend_schema(exclude=True)
class ApiNotFoundView(APIView):
    """Any other path under the tracking API: a 404 in the envelope, not an HTML page."""

    authentication_classes: list = []
    permission_classes: list = []
    renderer_classes = [JSONRenderer]
    api_version = "/tracking/v3r2"

    def _not_found(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        raise NotFound("No such resource in the Tracking API.")

    get = post = put = patch = delete = _not_found

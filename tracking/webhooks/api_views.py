"""Subscriptions-Tracking 3.2 under /subscriptions-tracking/v3r2: list and create
subscriptions, get, update (listenerURL, secret, status) and delete one. Bearer tokens with the
`subscriptions-tracking` scope; errors in the USPS envelope; another provider's subscription is
a 404 on every method; PUT and DELETE need the ETag in If-Match (428 without, 412 when stale)."""

import math
import uuid
from typing import Any

from django.utils.decorators import method_decorator
from django.views.decorators.debug import sensitive_variables
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.models import Provider
from core.errors import DomainError
from core.tracking_numbers import InvalidTrackingNumber, is_valid_mid, parse
from tracking.api.errors import ApiError, Problem
from tracking.api.schema import ErrorMessageSerializer
from tracking.api.views import TrackingApiView
from tracking.constants import SCOPE_SUBSCRIPTIONS_TRACKING, SubscriptionFilter
from tracking.models import ApiApp, Subscription
from tracking.webhooks import selectors
from tracking.webhooks.api_serializers import (
    MAX_FILTER_VALUES,
    PARAMETERS,
    ListQuerySerializer,
    SubscriptionInSerializer,
    SubscriptionListSerializer,
    TrackingSubscriptionSerializer,
    etag,
    if_match_holds,
    represent,
    require,
)
from tracking.webhooks.parsers import SubscriptionJSONParser
from tracking.webhooks.services import (
    AccessRefused,
    StaleVersion,
    SubscriptionGone,
    subscription_create,
    subscription_delete,
    subscription_update,
)

API_VERSION = "/subscriptions-tracking/v3r2"
TAGS = ["Subscriptions-Tracking 3.2"]
ERRORS = {
    code: OpenApiResponse(ErrorMessageSerializer, description=text)
    for code, text in {
        400: "Bad request (the USPS error envelope, each problem naming its parameter).",
        401: "Missing, invalid or expired token, or no `subscriptions-tracking` scope.",
        403: "The access decision denies the MID (or the tracking number's MID).",
        404: "No subscription of yours has this subscriptionId.",
    }.items()
}
IF_MATCH = OpenApiParameter(
    "If-Match",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=True,
    description="The ETag from the last GET, PUT or POST of this subscription.",
)
PRECONDITION_ERRORS = {
    412: OpenApiResponse(ErrorMessageSerializer, description="If-Match is not the current ETag."),
    428: OpenApiResponse(ErrorMessageSerializer, description="If-Match is missing."),
}


def _not_found() -> ApiError:
    return ApiError(
        404,
        [
            Problem(
                404,
                "NOT_FOUND",
                "You have no subscription with this subscriptionId.",
                parameter="subscriptionId",
            )
        ],
    )


def _api_error(exc: DomainError) -> ApiError:
    if isinstance(exc, SubscriptionGone):
        # Deleted by another request after this one read it: as gone as an unknown id.
        return _not_found()
    if isinstance(exc, AccessRefused):
        code_status, code = (400 if exc.bad_request else 403), exc.code
    elif isinstance(exc, StaleVersion):
        code_status, code = 412, "PRECONDITION_FAILED"
    else:
        code_status, code = 400, "INVALID_REQUEST"
    title = "Precondition Failed" if code_status == 412 else ""
    problems = [
        Problem(code_status, code, message, title=title, parameter=PARAMETERS.get(field))
        for field, messages in exc.field_errors.items()
        for message in messages
    ]
    return ApiError(code_status, problems, message=title)


def _bad_request(parameter: str, detail: str) -> ApiError:
    return ApiError(400, [Problem(400, "INVALID_REQUEST", detail, parameter=parameter)])


class SubscriptionsApiBase(TrackingApiView):
    required_scopes = [SCOPE_SUBSCRIPTIONS_TRACKING]
    api_version = API_VERSION
    parser_classes = [SubscriptionJSONParser]

    def caller_provider(self, request: Request) -> Provider:
        return Provider.objects.get(pk=request.auth.provider_id)

    def caller_app(self, request: Request) -> ApiApp:
        return ApiApp.objects.get(pk=request.auth.app_id)

    @method_decorator(sensitive_variables("parsed"))
    def body(self, request: Request) -> dict[str, Any]:
        if not isinstance(request.data, dict):
            raise serializers.ValidationError(
                {"non_field_errors": ["The body must be a JSON object (a TrackingSubscription)."]}
            )
        parsed = SubscriptionInSerializer(data=request.data)
        parsed.is_valid(raise_exception=True)
        return parsed.validated_data


def _split(raw: str | None, parameter: str) -> list[str]:
    values = [value.strip() for value in (raw or "").split(",") if value.strip()]
    if len(values) > MAX_FILTER_VALUES:
        raise _bad_request(parameter, f"At most {MAX_FILTER_VALUES} values in {parameter}.")
    return values


class SubscriptionsApiView(SubscriptionsApiBase):
    @extend_schema(
        operation_id="get-subscriptions-tracking",
        summary="List your tracking subscriptions (filter by MID or tracking number)",
        parameters=[ListQuerySerializer],
        responses={200: SubscriptionListSerializer, **ERRORS},
        tags=TAGS,
    )
    def get(self, request: Request) -> Response:
        query = ListQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        params = query.validated_data
        mids = _split(params.get("MID"), "MID")
        for mid in mids:
            if not is_valid_mid(mid):
                raise _bad_request(
                    "MID",
                    f"{mid[:20]} is not a valid MID: 6 digits (not starting with 9) or 9 digits "
                    "starting with 9.",
                )
        numbers = []
        for number in _split(params.get("trackingNumber"), "trackingNumber"):
            try:
                numbers.append(parse(number).pic)
            except InvalidTrackingNumber as exc:
                raise _bad_request(
                    "trackingNumber", f"{number[:40]} is not a valid tracking number: {exc}."
                ) from None
        found = selectors.subscriptions_filtered(
            provider_id=request.auth.provider_id, mids=mids, numbers=numbers
        )
        offset, limit = params["offset"], params["limit"]
        total = found.count()
        page = list(found[offset : offset + limit])
        return Response(
            {
                "subscriptions": [represent(subscription) for subscription in page],
                "metadata": {
                    "totalCount": total,
                    "offset": offset,
                    "limit": limit,
                    "page": offset // limit + 1,
                    "totalPages": math.ceil(total / limit),
                },
            }
        )

    @extend_schema(
        operation_id="post-subscriptions-tracking",
        summary="Create a tracking subscription",
        request=SubscriptionInSerializer,
        responses={201: TrackingSubscriptionSerializer, **ERRORS},
        tags=TAGS,
    )
    @method_decorator(sensitive_variables("data"))
    def post(self, request: Request) -> Response:
        data = self.body(request)
        require(data, "listenerURL", "secret", "adminNotification", "filterProperties")
        filters = data["filterProperties"]
        try:
            subscription = subscription_create(
                provider=self.caller_provider(request),
                app=self.caller_app(request),
                actor=None,
                mid=filters.get("MID"),
                tracking_number=filters.get("trackingNumber"),
                event_types=filters.get("trackingEventTypes"),
                listener_url=data["listenerURL"],
                secret=data["secret"],
                admin_emails=[item.get("email") for item in data["adminNotification"]],
                status=data.get("status"),
            )
        except DomainError as exc:
            raise _api_error(exc) from None
        location = f"{API_VERSION}/subscriptions/{subscription.public_id}"
        return Response(
            represent(subscription),
            status=status.HTTP_201_CREATED,
            headers={"Location": request.build_absolute_uri(location), "ETag": etag(subscription)},
        )


def _unchanged_filters(data: dict[str, Any], subscription: Subscription) -> None:
    """PUT may repeat the filters and notification e-mails, never change them."""
    filters = data.get("filterProperties")
    if filters is not None:
        is_mid = subscription.filter_kind == SubscriptionFilter.MID
        same = True
        if "MID" in filters:
            same &= is_mid and filters["MID"].strip() == subscription.mid
        if "trackingNumber" in filters:
            try:
                pic = parse(filters["trackingNumber"]).pic
            except InvalidTrackingNumber:
                pic = None
            same &= not is_mid and pic == subscription.tracking_number
        if "trackingEventTypes" in filters:
            same &= set(filters["trackingEventTypes"]) == set(subscription.event_types)
        if not same:
            raise _bad_request(
                "filterProperties",
                "filterProperties cannot be changed: delete this subscription and create a new "
                "one. Only listenerURL, secret and status can be updated.",
            )
    emails = data.get("adminNotification")
    if emails is not None:
        given = {(item.get("email") or "").strip() for item in emails}
        if given != set(subscription.admin_emails):
            raise _bad_request(
                "adminNotification",
                "adminNotification cannot be changed by an update; only listenerURL, secret and "
                "status can be.",
            )


class SubscriptionApiView(SubscriptionsApiBase):
    def subscription(self, request: Request, subscription_id: str) -> Subscription:
        try:
            public_id = uuid.UUID(subscription_id)
        except ValueError:
            public_id = None
        found = (
            selectors.subscription_of(provider_id=request.auth.provider_id, public_id=public_id)
            if public_id
            else None
        )
        if found is None:
            raise _not_found()
        return found

    def http_method_not_allowed(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        # Another provider's id is a 404 whatever the method, never a 405 that confirms it.
        self.subscription(request, kwargs.get("subscriptionId", ""))
        return super().http_method_not_allowed(request, *args, **kwargs)

    def checked_version(self, request: Request, subscription: Subscription) -> int:
        header = request.headers.get("If-Match", "").strip()
        if not header:
            raise ApiError(
                428,
                [
                    Problem(
                        428,
                        "PRECONDITION_REQUIRED",
                        "Send the subscription's ETag (from GET) in the If-Match header.",
                        title="Precondition Required",
                        parameter="If-Match",
                    )
                ],
                message="Precondition Required",
            )
        if not if_match_holds(header, subscription):
            raise _api_error(
                StaleVersion(
                    "If-Match does not match the subscription's current ETag: it changed since "
                    "you read it. GET it again and retry.",
                    field="If-Match",
                )
            )
        return subscription.version

    @extend_schema(
        operation_id="get-subscriptions-tracking-id",
        summary="Get one of your tracking subscriptions",
        responses={200: TrackingSubscriptionSerializer, **ERRORS},
        tags=TAGS,
    )
    def get(self, request: Request, subscriptionId: str) -> Response:  # noqa: N803 - USPS name
        subscription = self.subscription(request, subscriptionId)
        return Response(represent(subscription), headers={"ETag": etag(subscription)})

    @extend_schema(
        operation_id="put-subscriptions-tracking-id",
        summary="Update the listenerURL, secret or status of a subscription",
        parameters=[IF_MATCH],
        request=SubscriptionInSerializer,
        responses={200: TrackingSubscriptionSerializer, **ERRORS, **PRECONDITION_ERRORS},
        tags=TAGS,
    )
    @method_decorator(sensitive_variables("data"))
    def put(self, request: Request, subscriptionId: str) -> Response:  # noqa: N803
        subscription = self.subscription(request, subscriptionId)
        version = self.checked_version(request, subscription)
        data = self.body(request)
        _unchanged_filters(data, subscription)
        try:
            subscription_update(
                subscription=subscription,
                actor=None,
                app=self.caller_app(request),
                listener_url=data.get("listenerURL"),
                secret=data.get("secret"),
                status=data.get("status"),
                expected_version=version,
            )
        except DomainError as exc:
            raise _api_error(exc) from None
        return Response(represent(subscription), headers={"ETag": etag(subscription)})

    @extend_schema(
        operation_id="delete-subscriptions-tracking-id",
        summary="Delete a subscription (deliveries not yet sent stop)",
        parameters=[IF_MATCH],
        responses={204: None, **ERRORS, **PRECONDITION_ERRORS},
        tags=TAGS,
    )
    def delete(self, request: Request, subscriptionId: str) -> Response:  # noqa: N803
        subscription = self.subscription(request, subscriptionId)
        version = self.checked_version(request, subscription)
        try:
            subscription_delete(
                subscription=subscription,
                actor=None,
                app=self.caller_app(request),
                expected_version=version,
            )
        except DomainError as exc:
            raise _api_error(exc) from None
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(exclude=True)
class SubscriptionsNotFoundView(TrackingApiView):
    """Any other path under /subscriptions-tracking/v3r2/: a 404 in the envelope."""

    authentication_classes: list = []
    permission_classes: list = []
    api_version = API_VERSION

    def _not_found(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        raise NotFound("No such resource in the Subscriptions-Tracking API.")

    get = post = put = patch = delete = _not_found

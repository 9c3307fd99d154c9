"""The Subscriptions-Tracking 3.2 wire shapes: what clients send (checked for shape here, for
meaning by the services) and what the API answers (`represent`, documented by the output
serializers for the OpenAPI schema).

Every object of the request is open in the USPS spec (additionalProperties: true), so unknown
fields are ignored; read-only fields (subscriptionId, statusReason, timestamps) too.
"""

import hashlib
from typing import Any

from rest_framework import serializers

from tracking.constants import SubscriptionFilter, SubscriptionStatus, TrackingEventType
from tracking.models import Subscription
from tracking.webhooks.payloads import iso_millis
from tracking.webhooks.secrets import MASK

MAX_LIMIT = 100
DEFAULT_LIMIT = 20
MAX_FILTER_VALUES = 50
# A provider has at most 100 live subscriptions; the bound keeps the SQL OFFSET in range.
MAX_OFFSET = 1_000_000

# Service field -> the request's parameter, for the error envelope's source.parameter.
PARAMETERS = {
    "mid": "filterProperties.MID",
    "tracking_number": "filterProperties.trackingNumber",
    "filter": "filterProperties",
    "event_types": "filterProperties.trackingEventTypes",
    "listener_url": "listenerURL",
    "secret": "secret",
    "admin_emails": "adminNotification",
    "status": "status",
}


class _Text(serializers.CharField):
    """A JSON string, nothing else (DRF's CharField would take a number and stringify it)."""

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


def text(**kwargs: Any) -> _Text:
    kwargs.setdefault("error_messages", {"invalid": "Must be a string."})
    return _Text(trim_whitespace=False, allow_blank=True, **kwargs)


class EmailNotificationSerializer(serializers.Serializer):
    email = text(help_text="At most 50 characters.")


class FilterPropertiesSerializer(serializers.Serializer):
    MID = text(required=False, help_text="6 or 9 digits. Give MID or trackingNumber, not both.")
    trackingNumber = text(required=False)  # noqa: N815 - wire name
    trackingEventTypes = serializers.ListField(  # noqa: N815
        child=text(),
        required=False,
        max_length=len(TrackingEventType.values),
        help_text="ALL_UPDATES (default), DELIVERY_ACTIVITY, PACKAGE_DELAYED, and for a MID "
        "filter SCAN_EVENT_EXTRACT.",
    )


class SubscriptionInSerializer(serializers.Serializer):
    """POST body; on PUT only listenerURL, secret and status may differ from the stored ones."""

    listenerURL = text(required=False, help_text="https, at most 200 characters.")  # noqa: N815
    secret = text(required=False, help_text="Exactly 32 characters.")
    status = text(
        required=False,
        help_text="ENABLED or DISABLED (on create too: a DISABLED subscription sends nothing "
        "until enabled). SUSPENDED is set by the server only.",
    )
    adminNotification = EmailNotificationSerializer(many=True, required=False)  # noqa: N815
    filterProperties = FilterPropertiesSerializer(required=False)  # noqa: N815


def require(data: dict[str, Any], *names: str) -> None:
    missing = [name for name in names if name not in data]
    if missing:
        raise serializers.ValidationError(dict.fromkeys(missing, ["This field is required."]))


# --- Answers ---------------------------------------------------------------------------------


class FilterOutSerializer(serializers.Serializer):
    MID = serializers.CharField(required=False)
    trackingNumber = serializers.CharField(required=False)  # noqa: N815
    trackingEventTypes = serializers.ListField(child=serializers.CharField())  # noqa: N815


class TrackingSubscriptionSerializer(serializers.Serializer):
    """A subscription as the API answers it. `secret` is always 32 asterisks: the secret is
    never shown back (send the mask in a PUT to keep the current one)."""

    subscriptionId = serializers.CharField()  # noqa: N815
    listenerURL = serializers.CharField()  # noqa: N815
    secret = serializers.CharField(help_text="Always masked: 32 asterisks.")
    status = serializers.ChoiceField(choices=SubscriptionStatus.values)
    statusReason = serializers.CharField(required=False)  # noqa: N815
    adminNotification = EmailNotificationSerializer(many=True)  # noqa: N815
    filterProperties = FilterOutSerializer()  # noqa: N815
    creationTimestamp = serializers.CharField()  # noqa: N815
    statusChangeTimestamp = serializers.CharField(required=False)  # noqa: N815


class PaginationMetadataSerializer(serializers.Serializer):
    totalCount = serializers.IntegerField()  # noqa: N815
    offset = serializers.IntegerField()
    limit = serializers.IntegerField()
    page = serializers.IntegerField()
    totalPages = serializers.IntegerField()  # noqa: N815


class SubscriptionListSerializer(serializers.Serializer):
    subscriptions = TrackingSubscriptionSerializer(many=True)
    metadata = PaginationMetadataSerializer()


class ListQuerySerializer(serializers.Serializer):
    MID = serializers.CharField(required=False, help_text="Comma-separated MIDs.")
    trackingNumber = serializers.CharField(  # noqa: N815
        required=False, help_text="Comma-separated tracking numbers."
    )
    offset = serializers.IntegerField(required=False, min_value=0, max_value=MAX_OFFSET, default=0)
    limit = serializers.IntegerField(
        required=False, min_value=1, max_value=MAX_LIMIT, default=DEFAULT_LIMIT
    )


def represent(subscription: Subscription) -> dict[str, Any]:
    filters: dict[str, Any] = (
        {"MID": subscription.mid}
        if subscription.filter_kind == SubscriptionFilter.MID
        else {"trackingNumber": subscription.tracking_number}
    )
    filters["trackingEventTypes"] = list(subscription.event_types)
    body: dict[str, Any] = {
        "subscriptionId": str(subscription.public_id),
        "listenerURL": subscription.listener_url,
        "secret": MASK,
        "status": subscription.status,
        "adminNotification": [{"email": email} for email in subscription.admin_emails],
        "filterProperties": filters,
        "creationTimestamp": iso_millis(subscription.created_at),
    }
    if subscription.status_reason:
        body["statusReason"] = subscription.status_reason
    if subscription.status_changed_at:
        body["statusChangeTimestamp"] = iso_millis(subscription.status_changed_at)
    return body


def etag(subscription: Subscription) -> str:
    digest = hashlib.sha256(f"{subscription.public_id}:{subscription.version}".encode()).hexdigest()
    return f'"{digest[:40]}"'


def if_match_holds(header: str, subscription: Subscription) -> bool:
    current = etag(subscription).strip('"')
    for tag in header.split(","):
        tag = tag.strip()
        if tag == "*":
            return True
        tag = tag.removeprefix("W/").strip('"')
        if tag == current:
            return True
    return False

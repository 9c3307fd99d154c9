"""Checking what a customer sends for a subscription, each problem on its field (the services
collect them all, so a form or an API answer shows every problem at once)."""

from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from core.errors import DomainError
from core.tracking_numbers import InvalidTrackingNumber, is_valid_mid, parse
from tracking.constants import SubscriptionFilter, TrackingEventType

MAX_ADMIN_EMAILS = 3
EMAIL_MAX_LENGTH = 50
DEFAULT_EVENT_TYPES = (TrackingEventType.ALL_UPDATES.value,)


@dataclass(frozen=True, slots=True)
class FilterSpec:
    kind: str
    mid: str
    tracking_number: str  # the PIC


def filter_spec(mid: str | None, tracking_number: str | None, errors: dict) -> FilterSpec | None:
    mid = (mid or "").strip()
    number = (tracking_number or "").strip()
    if mid and number:
        errors["filter"] = ["Give either a MID or a tracking number to filter on, not both."]
        return None
    if not mid and not number:
        errors["filter"] = ["Give a MID or a tracking number to filter on."]
        return None
    if mid:
        if not is_valid_mid(mid):
            errors["mid"] = [
                f"{mid[:20]} is not a valid MID: a MID is 6 digits (not starting with 9) or "
                "9 digits starting with 9."
            ]
            return None
        return FilterSpec(SubscriptionFilter.MID, mid, "")
    try:
        parsed = parse(number)
    except InvalidTrackingNumber as exc:
        errors["tracking_number"] = [f"{number[:40]} is not a valid tracking number: {exc}."]
        return None
    if parsed.mid is None:
        errors["tracking_number"] = [
            f"{parsed.pic} carries no shipper MID, so access to it cannot be granted."
        ]
        return None
    return FilterSpec(SubscriptionFilter.TRACKING_NUMBER, "", parsed.pic)


def event_types(values: Any, spec: FilterSpec | None, errors: dict) -> list[str]:
    if values is None:
        return list(DEFAULT_EVENT_TYPES)
    if isinstance(values, str) or not isinstance(values, list | tuple):
        errors["event_types"] = ["trackingEventTypes must be a list."]
        return []
    if not values:
        errors["event_types"] = ["Choose at least one tracking event type."]
        return []
    unknown = [str(v)[:40] for v in values if v not in TrackingEventType.values]
    if unknown:
        errors["event_types"] = [
            f"Unknown tracking event type {', '.join(unknown)}; the types are "
            f"{', '.join(TrackingEventType.values)}."
        ]
        return []
    chosen = list(dict.fromkeys(values))
    if (
        TrackingEventType.SCAN_EVENT_EXTRACT in chosen
        and spec is not None
        and spec.kind != SubscriptionFilter.MID
    ):
        errors["event_types"] = ["SCAN_EVENT_EXTRACT is available with a MID filter only."]
    return chosen


def admin_emails(values: Any, errors: dict) -> list[str]:
    if not isinstance(values, list | tuple) or not values:
        errors["admin_emails"] = [
            f"Give 1 to {MAX_ADMIN_EMAILS} e-mail addresses for notices about the subscription."
        ]
        return []
    if len(values) > MAX_ADMIN_EMAILS:
        errors["admin_emails"] = [
            f"At most {MAX_ADMIN_EMAILS} e-mail addresses; {len(values)} were given."
        ]
        return []
    emails: list[str] = []
    for value in values:
        email = value.strip() if isinstance(value, str) else ""
        try:
            if len(email) > EMAIL_MAX_LENGTH:
                raise ValidationError("too long")
            validate_email(email)
        except ValidationError:
            errors["admin_emails"] = [
                f"{str(value)[:60]!s} is not a valid e-mail address of at most "
                f"{EMAIL_MAX_LENGTH} characters."
            ]
            return []
        emails.append(email)
    return list(dict.fromkeys(emails))


def field_check(errors: dict, field: str, check, value):
    try:
        return check(value)
    except DomainError as exc:
        errors[field] = exc.field_errors.get(field) or [exc.message]
        return None

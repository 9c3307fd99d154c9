"""Which notification, if any, a subscription gets for a piece's new events.

trackingEventTypes, mapped onto the store's event codes (tracking.event_codes categories):

| Type               | Sent when the new events include                                  |
|--------------------|-------------------------------------------------------------------|
| SCAN_EVENT_EXTRACT | any event (detailed scan format; MID filters only)                |
| ALL_UPDATES        | any event                                                         |
| DELIVERY_ACTIVITY  | Delivered, Delivery Attempt, Available for Pickup or Alert        |
| PACKAGE_DELAYED    | Alert (rescheduled, missent, mis-shipped, status not updated...)  |

A subscription with several types gets one notification per batch of new events, of the first
type above that matches. Codes the table does not know count as In Transit.
"""

from collections.abc import Iterable

from tracking.constants import TrackingEventType
from tracking.event_codes import UNKNOWN_CATEGORY, Category, describe

DELIVERY_ACTIVITY_CATEGORIES = frozenset(
    {
        Category.DELIVERED,
        Category.DELIVERY_ATTEMPT,
        Category.AVAILABLE_FOR_PICKUP,
        Category.ALERT,
    }
)
DELAY_CATEGORIES = frozenset({Category.ALERT})
PRIORITY = (
    TrackingEventType.SCAN_EVENT_EXTRACT,
    TrackingEventType.ALL_UPDATES,
    TrackingEventType.DELIVERY_ACTIVITY,
    TrackingEventType.PACKAGE_DELAYED,
)


def category_of(code: str) -> str:
    known = describe(code)
    return known.category if known else UNKNOWN_CATEGORY


def matching_type(subscribed: Iterable[str], new_codes: Iterable[str]) -> str | None:
    codes = list(new_codes)
    if not codes:
        return None
    categories = {category_of(code) for code in codes}
    wanted = set(subscribed)
    for kind in PRIORITY:
        if kind not in wanted:
            continue
        if kind in (TrackingEventType.SCAN_EVENT_EXTRACT, TrackingEventType.ALL_UPDATES):
            return kind
        if (
            kind == TrackingEventType.DELIVERY_ACTIVITY
            and categories & DELIVERY_ACTIVITY_CATEGORIES
        ):
            return kind
        if kind == TrackingEventType.PACKAGE_DELAYED and categories & DELAY_CATEGORIES:
            return kind
    return None

"""The notification body, in the USPS shape (scanEventEx / detailedScanEventEx):

    {"subscriptionId": "<uuid>", "subscriptionType": "TRACKING" | "SCAN_EVENT_EXTRACT",
     "timestamp": "2026-11-27T19:05:42.747Z", "payload": "<JSON text>"}

The payload is the piece's tracking detail as Tracking 3.2 answers it (tracking.api.shapes),
with its newest events (at most 99, newest first), as stored when the attempt is made. The
SCAN_EVENT_EXTRACT form adds the detailed-scan fields the store has (mailerID, and each
event's scanEventExtractEventName).
"""

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tracking import pieces
from tracking.api import shapes
from tracking.constants import TrackingEventType
from tracking.models import MailPiece, Subscription, TrackingEvent

TRACKING = "TRACKING"
SCAN_EVENT_EXTRACT = "SCAN_EVENT_EXTRACT"


@dataclass(frozen=True, slots=True)
class Notification:
    timestamp: str
    payload: str
    body: bytes


def iso_millis(moment: datetime) -> str:
    """ISO-8601 in UTC with milliseconds and Z, as USPS writes it: 2024-12-27T19:05:42.747Z."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def detail(*, piece: MailPiece, events: list[TrackingEvent], event_type: str) -> dict[str, Any]:
    data = shapes.v3r2_detail(piece, events)
    if event_type == TrackingEventType.SCAN_EVENT_EXTRACT:
        if piece.mid:
            data["mailerID"] = piece.mid
        for shaped, event in zip(data["trackingEvents"], events, strict=True):
            if event.event_type:
                shaped["scanEventExtractEventName"] = event.event_type.upper()
    return data


def build(
    *, subscription: Subscription, piece: MailPiece, event_type: str, now: datetime
) -> Notification:
    events = pieces.events_of(piece.pk)
    payload = json.dumps(
        detail(piece=piece, events=events, event_type=event_type),
        separators=(",", ":"),
        ensure_ascii=True,
    )
    timestamp = iso_millis(now)
    kind = SCAN_EVENT_EXTRACT if event_type == TrackingEventType.SCAN_EVENT_EXTRACT else TRACKING
    body = {
        "subscriptionId": str(subscription.public_id),
        "subscriptionType": kind,
        "timestamp": timestamp,
        "payload": payload,
    }
    return Notification(
        timestamp=timestamp,
        payload=payload,
        body=json.dumps(body, separators=(",", ":"), ensure_ascii=True).encode("ascii"),
    )

"""Reads of scan event extracts, each scoped to the provider asking, and the pull API's pages.

A page of GET /tracking/v3r2/extracts/events is the events after an event id, in id order.
Event ids come from a sequence when an import inserts them, and imports commit in any order:
one that took ids 100-199 may commit after one that took 200-299. A client that had read up
to 299 would never see 100-199. So a page reads only up to a *horizon*: the last id handed
out at a moment when no transaction was inserting events, found by taking the table's SHARE
lock for an instant (it waits for inserting transactions to commit; new ones get higher ids).
Every id up to the horizon is then final, so the cursor may move up to it, never past it.
"""

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from django.db import connection, transaction
from django.db.models import QuerySet

from accounts.models import Provider
from agreements.selectors.dashboard import access_panel
from tracking.extracts import records
from tracking.models import Extract

# How long a page waits for inserting transactions before answering 503 (Retry-After).
HORIZON_LOCK_TIMEOUT = "3s"


def extracts_for_provider(*, provider_id: int) -> QuerySet[Extract]:
    """The provider's extracts, newest first, with who asked."""
    return (
        Extract.objects.filter(provider_id=provider_id)
        .select_related("requested_by", "app")
        .order_by("-created_at", "-pk")
    )


def extract_of_provider(*, provider_id: int, public_id: str | UUID) -> Extract | None:
    try:
        key = UUID(str(public_id))
    except ValueError:
        return None
    return Extract.objects.filter(provider_id=provider_id, public_id=key).first()


def allowed_mids(*, provider: Provider) -> list[str]:
    """The MIDs the provider is linked to or scheduled for and may read today (the request
    form's choices)."""
    return [row.mid for row in access_panel(provider=provider) if row.decision.allowed]


def event_horizon() -> int:
    """The highest event id whose row is final (see the module docstring). Raises
    django.db.OperationalError when inserts hold the table longer than the lock timeout."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"SET LOCAL lock_timeout = '{HORIZON_LOCK_TIMEOUT}'")
        cursor.execute("LOCK TABLE tracking_trackingevent IN SHARE MODE")
        cursor.execute(
            "SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM "
            "tracking_trackingevent_id_seq"
        )
        (horizon,) = cursor.fetchone()
    return int(horizon)


@dataclass(frozen=True, slots=True)
class EventPage:
    events: list[dict[str, Any]]
    last_id: int  # the id the next page starts after
    full: bool  # as many events as asked for: more may follow at once


def events_page(
    *, mids: list[str], lower: datetime, upper: datetime, after_id: int, limit: int
) -> EventPage:
    """Up to `limit` events of `mids` with lower <= GMT time < upper, after `after_id`, in id
    order, as extract records. One query, plus the horizon's."""
    horizon = event_horizon()
    with connection.cursor() as cursor:
        cursor.execute(records.page_select(), [mids, lower, upper, after_id, horizon, limit])
        rows = cursor.fetchall()
    events = [json.loads(record) for _, record in rows]
    full = len(rows) == limit
    # A short page has read everything up to the horizon; a full one stops at its last row.
    last_id = rows[-1][0] if full else max(horizon, after_id)
    return EventPage(events=events, last_id=last_id, full=full)

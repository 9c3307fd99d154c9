"""Reads of scan event extracts, each scoped to the provider asking, and the pull API's pages.

A page of GET /tracking/v3r2/extracts/events is the events after an event id, in id order,
read under READ COMMITTED with no lock. That never skips an event that commits later because
every writer of tracking events serializes its INSERT-to-commit on one advisory lock
(tracking.imports.store.EVENT_INSERT_LOCK_KEY): ids are handed out in commit order, so every
id still in flight is greater than every id a page can see. A short page may therefore move
the cursor up to the highest id its own statement (the same snapshot) can see.
"""

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from django.db import connection
from django.db.models import QuerySet

from accounts.models import Provider
from agreements.selectors.dashboard import access_panel
from tracking.extracts import records
from tracking.models import Extract


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


@dataclass(frozen=True, slots=True)
class EventPage:
    events: list[dict[str, Any]]
    last_id: int  # the id the next page starts after
    full: bool  # as many events as asked for: more may follow at once


def events_page(
    *, mids: list[str], lower: datetime, upper: datetime, after_id: int, limit: int
) -> EventPage:
    """Up to `limit` events of `mids` with lower <= GMT time < upper, after `after_id`, in id
    order, as extract records. One query."""
    with connection.cursor() as cursor:
        cursor.execute(records.page_select(), [mids, lower, upper, after_id, limit])
        rows = cursor.fetchall()
    top = rows[0][0] or 0  # the highest event id this statement's snapshot sees
    found = [(event_id, record) for _, event_id, record in rows if event_id is not None]
    events = [json.loads(record) for _, record in found]
    full = len(found) == limit
    # A full page stops at its last row. A short one has read every visible event after
    # after_id, and no event can commit later with an id at or below `top` (module docstring).
    last_id = found[-1][0] if full else max(top, after_id)
    return EventPage(events=events, last_id=last_id, full=full)

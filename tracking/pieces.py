"""Reads of the tracking store: the piece a request means, and its newest events.

A number can be reused, so a piece is (tracking number, mailing date): without a mailing date
the newest piece wins. Both reads use the unique index (number, mailing date) and the event
index (piece, GMT time descending), so their cost does not grow with the store.
"""

from collections import defaultdict
from dataclasses import dataclass
from datetime import date

from django.db.models import F, Q, Window
from django.db.models.functions import RowNumber

from tracking.models import MailPiece, TrackingEvent

MAX_EVENTS = 99
EVENT_ORDER = (
    F("gmt_timestamp").desc(nulls_last=True),
    F("event_timestamp").desc(),
    F("id").desc(),
)


@dataclass(frozen=True, slots=True)
class PieceQuery:
    tracking_number: str  # the PIC
    mailing_date: date | None = None
    destination_zip: str | None = None

    def matches(self, piece: MailPiece) -> bool:
        if piece.tracking_number != self.tracking_number:
            return False
        if self.mailing_date is not None and piece.mailing_date != self.mailing_date:
            return False
        return not (
            self.destination_zip
            and piece.destination_zip
            and piece.destination_zip != self.destination_zip
        )


def find_piece(query: PieceQuery) -> MailPiece | None:
    """One query: the newest piece matching the number (and mailing date / ZIP if given)."""
    pieces = MailPiece.objects.filter(tracking_number=query.tracking_number)
    if query.mailing_date is not None:
        pieces = pieces.filter(mailing_date=query.mailing_date)
    if query.destination_zip:
        pieces = pieces.filter(Q(destination_zip=query.destination_zip) | Q(destination_zip=""))
    return pieces.order_by("-mailing_date").first()


def find_pieces(queries: list[PieceQuery]) -> dict[PieceQuery, MailPiece | None]:
    """One query for a batch: every candidate piece, then the newest match per request."""
    if not queries:
        return {}
    numbers = {query.tracking_number for query in queries}
    candidates = MailPiece.objects.filter(tracking_number__in=numbers).order_by("-mailing_date")
    by_number: dict[str, list[MailPiece]] = defaultdict(list)
    for piece in candidates:
        by_number[piece.tracking_number].append(piece)
    return {
        query: next((p for p in by_number[query.tracking_number] if query.matches(p)), None)
        for query in queries
    }


def events_of(piece_id: int) -> list[TrackingEvent]:
    """One query: the piece's newest events, at most 99, newest first."""
    return list(TrackingEvent.objects.filter(piece_id=piece_id).order_by(*EVENT_ORDER)[:MAX_EVENTS])


def events_of_many(piece_ids: list[int]) -> dict[int, list[TrackingEvent]]:
    """One query for a batch: each piece's newest 99 events, newest first."""
    if not piece_ids:
        return {}
    ranked = (
        TrackingEvent.objects.filter(piece_id__in=piece_ids)
        .annotate(rank=Window(RowNumber(), partition_by=[F("piece_id")], order_by=EVENT_ORDER))
        .filter(rank__lte=MAX_EVENTS)
        .order_by("piece_id", "rank")
    )
    events: dict[int, list[TrackingEvent]] = {piece_id: [] for piece_id in piece_ids}
    for event in ranked:
        events[event.piece_id].append(event)
    return events

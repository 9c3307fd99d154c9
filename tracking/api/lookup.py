"""Looking numbers up: parse, decide, and only then read the store.

The access decision comes before any read, so a denied number gets the same answer whether or
not the piece exists: there is no existence oracle. Every number looked up becomes one
disclosure record, allowed or not.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django.utils import timezone

from accounts.models import Provider
from agreements.decision import Decision, decide, decide_for_number, decide_many
from core.tracking_numbers import InvalidTrackingNumber, parse
from tracking.api.disclosures import DisclosureRecord, make_record
from tracking.api.errors import Problem
from tracking.credentials_cache import ApiCaller
from tracking.models import MailPiece, TrackingEvent
from tracking.pieces import PieceQuery, events_of, events_of_many, find_piece, find_pieces

# USPS's own words for a number it has no data for (domain.md section 2.1).
NOT_FOUND_DETAIL = (
    "Tracking is not available for this item. This may be because the tracking number is "
    "invalid; USPS has not yet received payment; USPS has not yet received the item; the item "
    "does not include tracking; or other reasons."
)
NOT_FOUND_CODE = "TRACKING_NOT_AVAILABLE"

Shape = Callable[[MailPiece, list[TrackingEvent]], dict[str, Any]]


@dataclass(frozen=True, slots=True)
class TrackRequest:
    tracking_number: str
    mailing_date: date | None = None
    destination_zip: str | None = None


@dataclass(slots=True, eq=False)
class TrackOutcome:
    request: TrackRequest
    status: int
    detail: dict[str, Any] | None = None  # the shaped piece, for a 200
    problem: Problem | None = None  # why not, otherwise
    decision: Decision | None = field(default=None, repr=False)
    pic: str | None = None


def _problem_for_denial(decision: Decision, parameter: str) -> tuple[int, Problem]:
    reason = decision.reasons[0]
    status = 400 if decision.is_bad_request else 403
    title = "Invalid tracking number" if status == 400 else "Access denied"
    return status, Problem(status, reason.code, reason.message, title=title, parameter=parameter)


def _not_found(parameter: str) -> Problem:
    return Problem(404, NOT_FOUND_CODE, NOT_FOUND_DETAIL, title="Not Found", parameter=parameter)


def _decide_all(
    provider: Provider, requests: list[TrackRequest]
) -> list[tuple[Decision, str | None]]:
    """The decision and the PIC for each request; batches share one cache round trip."""
    parsed: list[tuple[str | None, str | None] | None] = []
    for request in requests:
        try:
            number = parse(request.tracking_number)
        except InvalidTrackingNumber:
            parsed.append(None)
        else:
            parsed.append((number.pic, number.mid))
    mids = [item[1] for item in parsed if item is not None and item[1] is not None]
    many = decide_many(provider=provider, mids=mids) if len(mids) > 1 else {}
    results: list[tuple[Decision, str | None]] = []
    for request, item in zip(requests, parsed, strict=True):
        if item is None:
            # Unreadable: the decision gives the parser's reason, as a bad request.
            results.append(
                (
                    decide_for_number(provider=provider, tracking_number=request.tracking_number),
                    None,
                )
            )
            continue
        pic, mid = item
        decision = many.get(mid) if mid is not None else None
        if decision is None:
            decision = decide(provider=provider, mid=mid)
        results.append((decision, pic))
    return results


def track(
    *,
    caller: ApiCaller,
    requests: list[TrackRequest],
    shape: Shape,
    parameter: Callable[[int], str],
) -> list[TrackOutcome]:
    """Decide, then read the allowed pieces (two queries for a whole batch), then shape them."""
    provider = Provider(pk=caller.provider_id)  # the decision needs only the id
    outcomes: list[TrackOutcome] = []
    allowed: list[tuple[int, TrackOutcome, PieceQuery]] = []
    for index, (request, (decision, pic)) in enumerate(
        zip(requests, _decide_all(provider, requests), strict=True)
    ):
        outcome = TrackOutcome(request=request, status=200, decision=decision, pic=pic)
        if not decision.allowed:
            outcome.status, outcome.problem = _problem_for_denial(decision, parameter(index))
        else:
            query = PieceQuery(pic, request.mailing_date, request.destination_zip)
            allowed.append((index, outcome, query))
        outcomes.append(outcome)

    if len(allowed) == 1:
        _, _, query = allowed[0]
        piece = find_piece(query)
        pieces = {query: piece}
        events = {piece.pk: events_of(piece.pk)} if piece else {}
    else:
        pieces = find_pieces([query for _, _, query in allowed])
        events = events_of_many([piece.pk for piece in pieces.values() if piece])
    for index, outcome, query in allowed:
        piece = pieces.get(query)
        if piece is None:
            outcome.status, outcome.problem = 404, _not_found(parameter(index))
        else:
            outcome.detail = shape(piece, events[piece.pk])
    return outcomes


def disclosure_records(
    *, caller: ApiCaller, outcomes: list[TrackOutcome], request_id: str
) -> list[DisclosureRecord]:
    now = timezone.now()
    records = []
    for outcome in outcomes:
        decision = outcome.decision
        basis = decision.basis if decision else None
        records.append(
            make_record(
                occurred_at=now,
                request_id=request_id,
                provider_id=caller.provider_id,
                app_id=caller.app_id,
                tracking_number=outcome.pic or outcome.request.tracking_number,
                mid=decision.mid if decision else None,
                allowed=bool(decision and decision.allowed),
                reason_code=decision.reasons[0].code if decision and decision.reasons else "",
                http_status=outcome.status,
                basis=f"{basis.kind}:{basis.pk}" if basis else "",
            )
        )
    return records

"""The query of GET /tracking/v3r2/extracts/events, checked: every problem is a 400 in the USPS
envelope naming its parameter. And the opaque cursor: the last event id read, signed together
with a fingerprint of the query, so it works only with the query that produced it."""

import hashlib
import json
import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from django.conf import settings
from django.core import signing

from core.errors import DomainError
from tracking.api.errors import ApiError, Problem
from tracking.extracts.requests import clean_mids, year_bounds

PARAMETERS = ("MID", "since", "until", "limit", "cursor")
CURSOR_SALT = "tracking.extracts.events-cursor"
# One page is charged like this many lookups per EVENTS_PER_CALL events asked for (`limit`):
# a lookup answers one piece with up to 99 events, so 100 events cost about one lookup.
EVENTS_PER_CALL = 100
# A limit longer than this is refused before int() is tried.
LIMIT_DIGITS = 7


@dataclass(frozen=True, slots=True)
class EventsQuery:
    mids: tuple[str, ...]
    since: datetime  # inclusive, UTC
    until: datetime  # exclusive, UTC
    limit: int
    after_id: int  # from the cursor; 0 on the first page

    @property
    def calls(self) -> int:
        """What the page costs against the app's hourly quota."""
        return math.ceil(self.limit / EVENTS_PER_CALL)


def _bad(code: str, detail: str, parameter: str, example: str | None = None) -> Problem:
    return Problem(400, code, detail, parameter=parameter, example=example)


def _check_year(year: int, *, name: str, text: str) -> None:
    first, last = year_bounds()
    if not first <= year <= last:
        raise ValueError(
            f"{name} {text[:40]!r} is out of range: the year must be {first} to {last}."
        )


def _moment(value: str, *, name: str, end: bool) -> datetime:
    """A date (its whole UTC day: the start for since, the next midnight for until) or an ISO
    8601 date-time with its offset."""
    text = value.strip()
    if len(text) == 10:
        try:
            day = date.fromisoformat(text)
        except ValueError:
            raise ValueError(f"{name} {text!r} is not a real date (YYYY-MM-DD).") from None
        _check_year(day.year, name=name, text=text)
        moment = datetime.combine(day, time.min, tzinfo=UTC)
        return moment + timedelta(days=1) if end else moment
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"{name} {text[:40]!r} is not a date (YYYY-MM-DD) or an ISO 8601 date-time "
            "(YYYY-MM-DDTHH:MM:SSZ)."
        ) from None
    if moment.tzinfo is None:
        raise ValueError(
            f"{name} {text[:40]!r} has no time zone: end it with Z (UTC) or an offset like -07:00."
        )
    _check_year(moment.year, name=name, text=text)
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # unreachable within the year bounds; kept as a 400, never a 500
        raise ValueError(f"{name} {text[:40]!r} is out of range.") from None


def fingerprint(*, provider_id: int, mids: tuple[str, ...], since: datetime, until: datetime):
    text = json.dumps([provider_id, list(mids), since.isoformat(), until.isoformat()])
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def make_cursor(*, query: EventsQuery, provider_id: int, last_id: int) -> str:
    key = fingerprint(
        provider_id=provider_id, mids=query.mids, since=query.since, until=query.until
    )
    return signing.Signer(salt=CURSOR_SALT).sign_object({"a": last_id, "q": key})


def _read_cursor(value: str, *, key: str) -> int:
    try:
        payload = signing.Signer(salt=CURSOR_SALT).unsign_object(value)
        after_id, cursor_key = int(payload["a"]), str(payload["q"])
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        raise ApiError(
            400,
            [
                _bad(
                    "INVALID_CURSOR",
                    "The cursor is not one this API issued (changed or cut short). Send the "
                    "`next` value of the previous page exactly as it came.",
                    "cursor",
                )
            ],
        ) from None
    if cursor_key != key or after_id < 0:
        raise ApiError(
            400,
            [
                _bad(
                    "CURSOR_QUERY_MISMATCH",
                    "This cursor belongs to another query: send it with the same MID, since "
                    "and until as the page that gave it.",
                    "cursor",
                )
            ],
        )
    return after_id


def parse_events_query(params, *, provider_id: int) -> EventsQuery:
    """Raises ApiError(400) listing every problem it finds at once."""
    problems: list[Problem] = []
    for name in sorted(set(params) - set(PARAMETERS)):
        problems.append(
            _bad(
                "UNKNOWN_PARAMETER",
                f"Unknown parameter {name[:40]!r}; this endpoint takes {', '.join(PARAMETERS)}.",
                name[:40],
            )
        )
    for name in PARAMETERS:
        if len(params.getlist(name)) > 1:
            problems.append(
                _bad("REPEATED_PARAMETER", f"Give {name} once (MIDs comma-separated).", name)
            )
    mids: tuple[str, ...] = ()
    raw_mids = params.get("MID", "")
    if not raw_mids.strip():
        problems.append(
            _bad("MISSING_PARAMETER", "MID is required: one or more MIDs, comma-separated.", "MID")
        )
    else:
        try:
            mids = clean_mids(raw_mids.split(","), field="MID")
        except DomainError as exc:
            problems.append(_bad("INVALID_MID", exc.message, "MID", raw_mids[:60]))
    since = until = None
    if not params.get("since", "").strip():
        problems.append(
            _bad(
                "MISSING_PARAMETER",
                "since is required: a date (YYYY-MM-DD) or an ISO 8601 date-time with its offset.",
                "since",
            )
        )
    else:
        try:
            since = _moment(params["since"], name="since", end=False)
        except ValueError as exc:
            problems.append(_bad("INVALID_DATE", str(exc), "since"))
    max_days = settings.EXTRACT_MAX_DAYS
    if params.get("until", "").strip():
        try:
            until = _moment(params["until"], name="until", end=True)
        except ValueError as exc:
            problems.append(_bad("INVALID_DATE", str(exc), "until"))
    elif since is not None:
        until = since + timedelta(days=max_days)
    if since is not None and until is not None:
        if since >= until:
            problems.append(_bad("INVALID_DATE_RANGE", "since must be before until.", "until"))
        elif until - since > timedelta(days=max_days):
            problems.append(
                _bad(
                    "DATE_RANGE_TOO_LONG",
                    f"since to until spans more than {max_days} days; page through shorter "
                    "windows.",
                    "until",
                )
            )
    limit = settings.EXTRACT_PAGE_SIZE
    raw_limit = params.get("limit", "").strip()
    if raw_limit:
        ceiling = settings.EXTRACT_MAX_PAGE_SIZE
        # Length first: int() of thousands of digits is slow, and refused past 4300.
        if (
            len(raw_limit) > LIMIT_DIGITS
            or not raw_limit.isascii()
            or not raw_limit.isdigit()
            or not 1 <= int(raw_limit) <= ceiling
        ):
            problems.append(
                _bad(
                    "INVALID_LIMIT",
                    f"limit must be a whole number from 1 to {ceiling}.",
                    "limit",
                    raw_limit[:20],
                )
            )
        else:
            limit = int(raw_limit)
    if problems or since is None or until is None:
        raise ApiError(400, problems)
    after_id = 0
    if params.get("cursor"):
        key = fingerprint(provider_id=provider_id, mids=mids, since=since, until=until)
        after_id = _read_cursor(params["cursor"], key=key)
    return EventsQuery(mids=mids, since=since, until=until, limit=limit, after_id=after_id)

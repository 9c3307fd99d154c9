"""Checking one scan-event row and turning it into the values the store writes.

A row is a flat scan-event-extract record (docs/tracking-data.md): the piece's fields and one
event's fields side by side. A USPS-shaped record whose event sits in `trackingEvent` and whose
expected delivery sits in `deliveryDateExpectation` is read the same way.
"""

import re
from datetime import UTC, date, datetime, timedelta
from operator import itemgetter
from typing import Any, Final, NamedTuple

from core.tracking_numbers import FORMAT_IMPB, InvalidTrackingNumber, is_valid_mid, parse
from tracking import event_codes

REQUIRED: Final = ("trackingNumber", "mailingDate", "eventCode", "eventTimestamp")

# The USPS `State` enum (tracking-v3r2.yaml): states, DC, territories and military codes.
STATES: Final = frozenset(
    "AA AE AL AK AP AS AZ AR CA CO CT DE DC FM FL GA GU HI ID IL IN IA KS KY LA ME MH MD MA MI "
    "MN MS MO MP MT NE NV NH NJ NM NY NC ND OH OK OR PW PA PR RI SC SD TN TX UT VT VI VA WA WV "
    "WI WY".split()
)

_DATE_RE: Final = re.compile(r"\d{4}-\d{2}-\d{2}")
_LOCAL_RE: Final = re.compile(r"(\d{4}-\d{2}-\d{2})(?:(T\d{2}:\d{2}:\d{2})(Z|[+-]\d{2}:\d{2})?)?")
_LOCAL_NO_OFFSET_RE: Final = re.compile(r"\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}:\d{2})?")
_OFFSET_RE: Final = re.compile(r"([+-]?)(\d{1,2}):(\d{2})")
_ZIP_RE: Final = re.compile(r"\d{5}")
_CODE_RE: Final = re.compile(r"[0-9A-Z]{2}")
_COUNTRY_RE: Final = re.compile(r"[A-Z]{2}")
_MAX_OFFSET_MINUTES: Final = 14 * 60
_NUMBER_CACHE_LIMIT: Final = 50_000
_PIECE_CACHE_LIMIT: Final = 10_000
# Every field _piece reads: equal values give an equal piece.
PIECE_NAMES: Final = (
    "trackingNumber",
    "mailingDate",
    "mailerID",
    "uniqueTrackingID",
    "serviceTypeCode",
    "mailClass",
    "mailClassCode",
    "mailType",
    "originCity",
    "originState",
    "originZIPCode",
    "destinationCity",
    "destinationState",
    "destinationZIPCode",
    "expectedDeliveryDate",
)
# Every field _event reads, grouped: kind, place, extras, then the three timestamps.
EVENT_NAMES: Final = (
    "eventCode",
    "eventType",
    "eventCity",
    "eventState",
    "eventZIPCode",
    "eventCountry",
    "firm",
    "recipientName",
    "actionCode",
    "reasonCode",
    "eventTimestamp",
    "GMTTimestamp",
    "GMTOffset",
)
_piece_values: Final = itemgetter(*PIECE_NAMES)
_event_values: Final = itemgetter(*EVENT_NAMES)


class RowRejected(ValueError):
    """This row cannot be imported; the message says why."""


class PieceFields(NamedTuple):
    tracking_number: str
    mailing_date: date
    mid: str
    unique_id: str  # "" when the row gives none
    service_type_code: str
    mail_class: str
    mail_class_code: str
    mail_type: str
    origin_city: str
    origin_state: str
    origin_zip: str
    destination_city: str
    destination_state: str
    destination_zip: str
    expected_delivery: str


class EventFields(NamedTuple):
    event_code: str
    event_type: str
    event_timestamp: str  # local, as given: YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS
    gmt_timestamp: datetime | None
    gmt_offset: str
    city: str
    state: str
    zip_code: str
    country: str
    firm: str
    recipient_name: str
    action_code: str
    reason_code: str
    # gmt_timestamp as COPY reads it: the row's own text when it is already UTC ("…Z").
    gmt_text: str = ""


def _text(record: dict[str, Any], name: str, limit: int) -> str:
    value = record.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise RowRejected(f"{name} must be a string, not {type(value).__name__}")
    value = value.strip()
    if len(value) > limit:
        raise RowRejected(f"{name} is longer than {limit} characters")
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise RowRejected(f"{name} is not valid UTF-8") from None
    if "\x00" in value:
        raise RowRejected(f"{name} contains a NUL character")
    return value


def _date(value: str, name: str) -> date:
    if not _DATE_RE.fullmatch(value):
        raise RowRejected(f"{name} {value!r} is not a date (YYYY-MM-DD)")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise RowRejected(f"{name} {value!r} is not a real date") from None


def _state(value: str, name: str) -> str:
    value = value.upper()
    if value and value not in STATES:
        raise RowRejected(f"{name} {value!r} is not a US state or territory code")
    return value


def _zip(value: str, name: str) -> str:
    if value and not _ZIP_RE.fullmatch(value):
        raise RowRejected(f"{name} {value!r} is not a 5-digit ZIP Code")
    return value


def offset_minutes(value: str) -> int:
    """Minutes east of UTC for an offset written "-7:00", "+05:30" or "-07:00"."""
    match = _OFFSET_RE.fullmatch(value)
    if not match or int(match[3]) >= 60:
        raise RowRejected(f"GMTOffset {value!r} is not an offset like -7:00")
    minutes = int(match[2]) * 60 + int(match[3])
    if minutes > _MAX_OFFSET_MINUTES:
        raise RowRejected(f"GMTOffset {value!r} is outside -14:00..+14:00")
    return -minutes if match[1] == "-" else minutes


def format_offset(minutes: int) -> str:
    """USPS's way: "-7:00", "+5:30" (hours without a leading zero)."""
    sign = "-" if minutes < 0 else "+"
    return f"{sign}{abs(minutes) // 60}:{abs(minutes) % 60:02d}"


def _gmt(value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise RowRejected(f"GMTTimestamp {value!r} is not an ISO 8601 date-time") from None
    if moment.tzinfo is None or "T" not in value:
        raise RowRejected(f"GMTTimestamp {value!r} must be a date-time in UTC, ending in Z")
    return moment.astimezone(UTC)


def _flatten(record: dict[str, Any]) -> dict[str, Any]:
    """A USPS-shaped record: the event in `trackingEvent`, the expectation nested too."""
    event = record.get("trackingEvent")
    expectation = record.get("deliveryDateExpectation")
    if event is None and expectation is None:
        return record
    flat = dict(record)
    for name, nested in (("trackingEvent", event), ("deliveryDateExpectation", expectation)):
        if nested is None:
            continue
        if not isinstance(nested, dict):
            raise RowRejected(f"{name} must be an object")
        flat.update(nested)
    return flat


class RowValidator:
    """Checks rows. Pieces repeat on many rows, so their numbers are parsed once."""

    def __init__(self) -> None:
        self._numbers: dict[str, tuple[str, str, str] | str] = {}
        self._pieces: dict[tuple[Any, ...], PieceFields] = {}
        self._kinds: dict[tuple[Any, ...], tuple[str, str]] = {}
        self._places: dict[tuple[Any, ...], tuple[str, str, str, str]] = {}
        self._extras: dict[tuple[Any, ...], tuple[str, str, str, str]] = {}

    def number(self, raw: str) -> tuple[str, str, str]:
        """(PIC, MID or "", service type code or "") of a tracking number."""
        known = self._numbers.get(raw)
        if known is None:
            try:
                parsed = parse(raw)
                known = (
                    parsed.pic,
                    parsed.mid or "",
                    parsed.service_type_code if parsed.format == FORMAT_IMPB else "",
                )
            except InvalidTrackingNumber as exc:
                known = f"trackingNumber {raw!r} is not valid: {exc.reason}"
            if len(self._numbers) >= _NUMBER_CACHE_LIMIT:
                self._numbers.clear()
            self._numbers[raw] = known
        if isinstance(known, str):
            raise RowRejected(known)
        return known

    def validate(self, record: dict[str, Any]) -> tuple[PieceFields, EventFields]:
        if "trackingEvent" in record or "deliveryDateExpectation" in record:
            record = _flatten(record)
        try:  # one C call when every field is present (CSV rows, generated rows)
            key = _piece_values(record)
            values = _event_values(record)
        except KeyError:
            key = tuple(map(record.get, PIECE_NAMES))
            values = tuple(map(record.get, EVENT_NAMES))
        if not (key[0] and key[1] and values[0] and values[10]):
            if "trackingEvents" in record and not values[0]:
                raise RowRejected(
                    "trackingEvents (a list) is not read: give one event per row, in "
                    "trackingEvent or as fields of the row"
                )
            for name in REQUIRED:
                if not record.get(name):
                    raise RowRejected(f"{name} is missing")
        # A piece's fields repeat on each of its rows: checked once, then looked up.
        try:
            piece = self._pieces.get(key)
        except TypeError:  # a list or object where a string belongs: _piece says which
            return self._piece(record), self._event(record, values)
        if piece is None:
            piece = self._piece(record)
            if len(self._pieces) >= _PIECE_CACHE_LIMIT:
                self._pieces.clear()
            self._pieces[key] = piece
        return piece, self._event(record, values)

    def _piece(self, r: dict[str, Any]) -> PieceFields:
        pic, mid, number_stc = self.number(_text(r, "trackingNumber", 64))
        mailer_id = _text(r, "mailerID", 9)
        if mailer_id:
            if not is_valid_mid(mailer_id):
                raise RowRejected(
                    f"mailerID {mailer_id!r} is not a MID (6 digits starting 0-8, or 9 starting 9)"
                )
            # A number without a shipper MID (S10, retail 95) is stored without one whatever
            # the row says: the access decision must never see a MID the number does not carry.
            if mid and mailer_id != mid:
                raise RowRejected(
                    f"mailerID {mailer_id} differs from the MID {mid} in the tracking number"
                )
        stc = _text(r, "serviceTypeCode", 3) or number_stc
        if stc and not (len(stc) == 3 and stc.isdigit()):
            raise RowRejected(f"serviceTypeCode {stc!r} is not 3 digits")
        expected = _text(r, "expectedDeliveryDate", 19)
        if expected:
            if not _LOCAL_NO_OFFSET_RE.fullmatch(expected):
                raise RowRejected(
                    f"expectedDeliveryDate {expected!r} is not YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS"
                )
            _local_moment(expected, "expectedDeliveryDate")
        return PieceFields(
            tracking_number=pic,
            mailing_date=_date(_text(r, "mailingDate", 10), "mailingDate"),
            mid=mid,
            unique_id=_text(r, "uniqueTrackingID", 64),
            service_type_code=stc,
            mail_class=_text(r, "mailClass", 60),
            mail_class_code=_text(r, "mailClassCode", 4),
            mail_type=_text(r, "mailType", 40),
            origin_city=_text(r, "originCity", 60),
            origin_state=_state(_text(r, "originState", 2), "originState"),
            origin_zip=_zip(_text(r, "originZIPCode", 5), "originZIPCode"),
            destination_city=_text(r, "destinationCity", 60),
            destination_state=_state(_text(r, "destinationState", 2), "destinationState"),
            destination_zip=_zip(_text(r, "destinationZIPCode", 5), "destinationZIPCode"),
            expected_delivery=expected,
        )

    def _event(self, r: dict[str, Any], values: tuple[Any, ...]) -> EventFields:
        # Codes, descriptions and places repeat across rows: each combination is checked once.
        code, event_type = _cached(self._kinds, values[0:2], _kind, r)
        city, state, zip_code, country = _cached(self._places, values[2:6], _place, r)
        extras = _cached(self._extras, values[6:10], _extras, r)
        raw, raw_gmt, raw_offset = values[10:13]
        if raw.__class__ is str and raw_gmt.__class__ is str and raw_offset.__class__ is str:
            # The common case, checked in full by _timestamps' patterns and parsers.
            raw_gmt = raw_gmt.strip()
            local, gmt, offset = _timestamps(raw.strip(), raw_gmt, raw_offset.strip())
        else:
            raw_gmt = ""
            local, gmt, offset = _timestamps(
                _text(r, "eventTimestamp", 25),
                _text(r, "GMTTimestamp", 40),
                _text(r, "GMTOffset", 6),
            )
        if gmt is None:
            gmt_text = ""
        elif raw_gmt.endswith("Z"):
            gmt_text = raw_gmt  # isoformat() would cost more than the rest of the row
        else:
            gmt_text = gmt.isoformat()
        return EventFields(
            code, event_type, local, gmt, offset, city, state, zip_code, country, *extras, gmt_text
        )


def _cached(cache: dict[Any, Any], key: tuple[Any, ...], check: Any, record: dict[str, Any]) -> Any:
    try:
        return cache[key]
    except KeyError:
        value = check(record)
        if len(cache) >= _PIECE_CACHE_LIMIT:
            cache.clear()
        cache[key] = value
        return value
    except TypeError:  # unhashable: a list or an object where a string belongs
        return check(record)


def _kind(r: dict[str, Any]) -> tuple[str, str]:
    code = _text(r, "eventCode", 2).upper()
    if not _CODE_RE.fullmatch(code):
        raise RowRejected(f"eventCode {code!r} is not a 2-character scan event code")
    event_type = _text(r, "eventType", 200)
    if not event_type:
        known = event_codes.describe(code)
        if known is None:
            raise RowRejected(f"eventType is missing, and event code {code} is not one we know")
        event_type = known.event_type
    return code, event_type


def _extras(r: dict[str, Any]) -> tuple[str, str, str, str]:
    return (
        _text(r, "firm", 50),
        _text(r, "recipientName", 100),
        _text(r, "actionCode", 4),
        _text(r, "reasonCode", 4),
    )


def _place(r: dict[str, Any]) -> tuple[str, str, str, str]:
    country = _text(r, "eventCountry", 2).upper()
    if country and not _COUNTRY_RE.fullmatch(country):
        raise RowRejected(f"eventCountry {country!r} is not a 2-letter country code")
    state = _text(r, "eventState", 2).upper()
    if country in ("", "US"):
        state = _state(state, "eventState")
    city = _text(r, "eventCity", 60)
    return city, state, _zip(_text(r, "eventZIPCode", 5), "eventZIPCode"), country


def _local_moment(value: str, name: str) -> datetime:
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise RowRejected(f"{name} {value!r} is not a real date or time") from None


_offsets: dict[str, tuple[int, timedelta, str]] = {}


def _offset(value: str) -> tuple[int, timedelta, str]:
    """(minutes, as a timedelta, written USPS's way) of an offset; a handful exist, so cached."""
    known = _offsets.get(value)
    if known is None:
        minutes = offset_minutes(value)
        known = (minutes, timedelta(minutes=minutes), format_offset(minutes))
        if len(_offsets) >= 1_000:
            _offsets.clear()
        _offsets[value] = known
    return known


def _timestamps(raw: str, raw_gmt: str, raw_offset: str) -> tuple[str, datetime | None, str]:
    """The local timestamp as stored, the UTC moment and the offset, each checked against the
    others: GMTTimestamp must be eventTimestamp minus GMTOffset, to the second. What is
    missing is worked out from the other two where it can be."""
    match = _LOCAL_RE.fullmatch(raw)
    if not match:
        raise RowRejected(
            f"eventTimestamp {raw!r} is not YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS, "
            "optionally with an offset"
        )
    local, clock, embedded = match.groups()
    if clock:
        local += clock
    try:
        moment = datetime.fromisoformat(local)
    except ValueError:
        raise RowRejected(f"eventTimestamp {raw!r} is not a real date or time") from None
    offset = _offset(raw_offset) if raw_offset else None
    if embedded:
        given = _offset("+0:00" if embedded == "Z" else embedded)
        if offset is not None and offset[0] != given[0]:
            raise RowRejected(
                f"eventTimestamp {raw!r} carries another offset than GMTOffset {raw_offset}"
            )
        offset = given
    gmt = _gmt(raw_gmt) if raw_gmt else None
    if clock:  # a date-time: the three must agree
        if gmt is not None and offset is not None:
            if gmt.replace(tzinfo=None, microsecond=0) != moment - offset[1]:
                raise RowRejected(
                    f"GMTTimestamp {raw_gmt} is not eventTimestamp {raw} at offset {offset[2]}"
                )
        elif offset is not None:
            gmt = (moment - offset[1]).replace(tzinfo=UTC)
        elif gmt is not None:
            delta = moment - gmt.replace(tzinfo=None, microsecond=0)
            minutes, seconds = divmod(int(delta.total_seconds()), 60)
            if seconds or abs(minutes) > _MAX_OFFSET_MINUTES:
                raise RowRejected(
                    f"GMTTimestamp {raw_gmt} is not eventTimestamp {raw} at any whole-minute offset"
                )
            return local, gmt, format_offset(minutes)
    return local, gmt, "" if offset is None else offset[2]

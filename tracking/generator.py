"""Synthetic scan-event rows for demos and benchmarks, in the import format
(docs/tracking-data.md), generated lazily so a million events never sit in memory.

Each piece gets a valid IMpb number for one of the given MIDs (`make_impb`), a real US origin
and destination with their ZIP Codes, and a plausible journey: label created (MA), accepted
(03), processed and departed at regional facilities (10, EF), arrived at the Post Office (07),
out for delivery (OF), delivered (01). Some pieces meet a notice left and a pickup, a
rescheduled delivery or a return to sender, and some are still on their way. Local times come
from each city's IANA zone for that date, so offsets follow daylight saving time, and the
GMT timestamp is always the local time minus its offset. The same seed gives the same rows.
"""

import csv
import gzip
import hashlib
import io
import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any, Final
from zoneinfo import ZoneInfo

from core.tracking_numbers import is_valid_mid, make_impb
from tracking import event_codes
from tracking.imports.reading import detect_format
from tracking.imports.rows import format_offset

# The import format's columns, in the order CSV output uses.
FIELDS: Final = (
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
    "eventCode",
    "eventType",
    "eventTimestamp",
    "GMTTimestamp",
    "GMTOffset",
    "eventCity",
    "eventState",
    "eventZIPCode",
    "eventCountry",
    "firm",
    "recipientName",
    "actionCode",
    "reasonCode",
)


@dataclass(frozen=True, slots=True)
class City:
    name: str
    state: str
    zip_code: str
    zone: ZoneInfo
    hub: str  # the city whose regional facility serves this one


def _city(name: str, state: str, zip_code: str, zone: str, hub: str = "") -> City:
    return City(name, state, zip_code, ZoneInfo(zone), hub or name)


# Real cities with a real ZIP Code of theirs. Arizona (no DST), Hawaii, Alaska, Indiana and
# Puerto Rico are here so offsets are not all the mainland's four.
CITIES: Final = (
    _city("NEW YORK", "NY", "10001", "America/New_York"),
    _city("BROOKLYN", "NY", "11201", "America/New_York", "NEW YORK"),
    _city("NEWARK", "NJ", "07102", "America/New_York", "NEW YORK"),
    _city("BOSTON", "MA", "02108", "America/New_York"),
    _city("FALMOUTH", "MA", "02540", "America/New_York", "BOSTON"),
    _city("PHILADELPHIA", "PA", "19104", "America/New_York"),
    _city("PITTSBURGH", "PA", "15222", "America/New_York", "PHILADELPHIA"),
    _city("BALTIMORE", "MD", "21201", "America/New_York", "WASHINGTON"),
    _city("WASHINGTON", "DC", "20001", "America/New_York"),
    _city("RICHMOND", "VA", "23219", "America/New_York", "WASHINGTON"),
    _city("CHARLOTTE", "NC", "28202", "America/New_York", "ATLANTA"),
    _city("ATLANTA", "GA", "30303", "America/New_York"),
    _city("ORLANDO", "FL", "32801", "America/New_York", "JACKSONVILLE"),
    _city("JACKSONVILLE", "FL", "32202", "America/New_York"),
    _city("MIAMI", "FL", "33130", "America/New_York", "JACKSONVILLE"),
    _city("SAN JUAN", "PR", "00901", "America/Puerto_Rico", "JACKSONVILLE"),
    _city("DETROIT", "MI", "48226", "America/Detroit"),
    _city("COLUMBUS", "OH", "43215", "America/New_York", "DETROIT"),
    _city("CLEVELAND", "OH", "44113", "America/New_York", "DETROIT"),
    _city("INDIANAPOLIS", "IN", "46204", "America/Indiana/Indianapolis", "CHICAGO"),
    _city("LOUISVILLE", "KY", "40202", "America/Kentucky/Louisville", "NASHVILLE"),
    _city("NASHVILLE", "TN", "37203", "America/Chicago"),
    _city("MEMPHIS", "TN", "38103", "America/Chicago", "NASHVILLE"),
    _city("CHICAGO", "IL", "60607", "America/Chicago"),
    _city("MILWAUKEE", "WI", "53202", "America/Chicago", "CHICAGO"),
    _city("MINNEAPOLIS", "MN", "55401", "America/Chicago"),
    _city("SAINT LOUIS", "MO", "63101", "America/Chicago", "KANSAS CITY"),
    _city("KANSAS CITY", "MO", "64106", "America/Chicago"),
    _city("OMAHA", "NE", "68102", "America/Chicago", "KANSAS CITY"),
    _city("NEW ORLEANS", "LA", "70112", "America/Chicago", "HOUSTON"),
    _city("DALLAS", "TX", "75201", "America/Chicago"),
    _city("HOUSTON", "TX", "77002", "America/Chicago"),
    _city("SAN ANTONIO", "TX", "78205", "America/Chicago", "HOUSTON"),
    _city("OKLAHOMA CITY", "OK", "73102", "America/Chicago", "DALLAS"),
    _city("DENVER", "CO", "80202", "America/Denver"),
    _city("ALBUQUERQUE", "NM", "87102", "America/Denver", "PHOENIX"),
    _city("SALT LAKE CITY", "UT", "84101", "America/Denver"),
    _city("BOISE", "ID", "83702", "America/Boise", "SALT LAKE CITY"),
    _city("PHOENIX", "AZ", "85004", "America/Phoenix"),
    _city("TUCSON", "AZ", "85701", "America/Phoenix", "PHOENIX"),
    _city("LAS VEGAS", "NV", "89101", "America/Los_Angeles", "LOS ANGELES"),
    _city("LOS ANGELES", "CA", "90012", "America/Los_Angeles"),
    _city("SAN DIEGO", "CA", "92101", "America/Los_Angeles", "LOS ANGELES"),
    _city("SAN FRANCISCO", "CA", "94103", "America/Los_Angeles"),
    _city("SACRAMENTO", "CA", "95814", "America/Los_Angeles", "SAN FRANCISCO"),
    _city("PORTLAND", "OR", "97204", "America/Los_Angeles", "SEATTLE"),
    _city("SEATTLE", "WA", "98101", "America/Los_Angeles"),
    _city("ANCHORAGE", "AK", "99501", "America/Anchorage", "SEATTLE"),
    _city("HONOLULU", "HI", "96813", "Pacific/Honolulu", "LOS ANGELES"),
)
_BY_NAME: Final = {city.name: city for city in CITIES}


@dataclass(frozen=True, slots=True)
class Service:
    code: str  # IMpb service type code
    mail_class: str
    mail_class_code: str
    days: tuple[int, int]  # transit days between the regional facilities


# Plausible service type codes (Pub 199 Appendix I has the full table). The mail class names
# are the legacy API's enum values written out ("Priority Mail" is PRIORITY_MAIL).
SERVICES: Final = (
    Service("001", "First-Class Mail", "FC", (1, 4)),
    Service("055", "Priority Mail", "PM", (1, 2)),
    Service("612", "Parcel Select", "PS", (2, 6)),
    Service("701", "Priority Mail Express", "EX", (0, 1)),
)
_SERVICE_WEIGHTS: Final = (35, 40, 20, 5)

_DELIVERED: Final = (
    ("Delivered, Front Door/Porch", False, False),
    ("Delivered, In/At Mailbox", False, False),
    ("Delivered, Parcel Locker", False, False),
    ("Delivered, Left with Individual", True, False),
    ("Delivered, Front Desk/Reception/Mail Room", True, True),
)
_FIRST_INITIALS: Final = "ABCDEFGHJKLMNPRSTW"
_SURNAMES: Final = (
    "SMITH JOHNSON WILLIAMS BROWN JONES GARCIA MILLER DAVIS RODRIGUEZ MARTINEZ HERNANDEZ LOPEZ "
    "GONZALEZ WILSON ANDERSON THOMAS TAYLOR MOORE JACKSON MARTIN LEE PEREZ THOMPSON WHITE NGUYEN"
).split()
_FIRMS: Final = (
    "NORTHWIND TRADERS",
    "CONTOSO LTD",
    "BLUE RIDGE OUTFITTERS",
    "LAKESIDE DENTAL",
    "HARBOR LOGISTICS",
)
_RETURN_REASONS: Final = ("21", "22", "23", "25", "26", "27")
_NOTICE_CODES: Final = ("52", "02", "55", "56")
# A serial step coprime with every power of ten: serials of one MID never repeat in a run.
_SERIAL_STEP: Final = 7_654_321


@dataclass(frozen=True, slots=True)
class _Scan:
    code: str
    where: City
    moment: datetime | None  # UTC; None for a date-only scan
    day: date
    event_type: str = ""
    recipient: str = ""
    firm: str = ""


def generate_records(
    *,
    pieces: int,
    mids: list[str],
    seed: int = 0,
    start: date,
    days: int = 30,
) -> Iterator[dict[str, str]]:
    """Rows for `pieces` pieces, their MIDs taken from `mids` in turn, mailed on days from
    `start` to `start + days - 1`; about seven rows per piece, a piece's rows together and in
    time order."""
    if pieces < 0:
        raise ValueError("pieces must not be negative")
    if not mids:
        raise ValueError("give at least one MID")
    bad = [mid for mid in mids if not is_valid_mid(mid)]
    if bad:
        raise ValueError(f"not valid MIDs: {', '.join(bad)}")
    rng = random.Random(seed)  # noqa: S311 - reproducible synthetic data, not secrets
    serials = {mid: _serial_base(seed, mid) for mid in mids}
    for index in range(pieces):
        mid = mids[index % len(mids)]
        length = 7 if len(mid) == 9 else 10
        counter = index // len(mids)
        serial = f"{(serials[mid] + counter * _SERIAL_STEP) % 10**length:0{length}d}"
        service = rng.choices(SERVICES, _SERVICE_WEIGHTS)[0]
        number = make_impb(mid=mid, service_type_code=service.code, serial=serial)
        mailing_date = start + timedelta(days=rng.randrange(max(days, 1)))
        yield from _piece(rng, number, mid, service, mailing_date)


def records_for_number(
    *, tracking_number: str, mailing_date: date, seed: int = 0, mid: str = ""
) -> list[dict[str, str]]:
    """The rows of one piece with a number chosen by the caller (an S10 or a retail 95
    number, say), delivered; `mid` goes into mailerID."""
    rng = random.Random(f"{seed}:{tracking_number}")  # noqa: S311
    service = SERVICES[1]
    return list(_piece(rng, tracking_number, mid, service, mailing_date, journey="delivered"))


def _serial_base(seed: int, mid: str) -> int:
    digest = hashlib.sha256(f"{seed}:{mid}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def _piece(
    rng: random.Random,
    number: str,
    mid: str,
    service: Service,
    mailing_date: date,
    journey: str | None = None,
) -> Iterator[dict[str, str]]:
    origin, destination = rng.sample(CITIES, 2)
    # A caller's own number (journey given) is always delivered: the demo shows it whole.
    scans = _journey(rng, origin, destination, service, mailing_date, journey, journey is None)
    expected = mailing_date + timedelta(days=service.days[1] + 2)
    unique_id = hashlib.sha256(f"{number}:{mailing_date}".encode()).hexdigest()[:20].upper()
    piece = {
        "trackingNumber": number,
        "mailingDate": mailing_date.isoformat(),
        "mailerID": mid,
        "uniqueTrackingID": unique_id,
        "serviceTypeCode": service.code if mid else "",
        "mailClass": service.mail_class,
        "mailClassCode": service.mail_class_code,
        "mailType": "DOMESTIC_MAIL",
        "originCity": origin.name,
        "originState": origin.state,
        "originZIPCode": origin.zip_code,
        "destinationCity": destination.name,
        "destinationState": destination.state,
        "destinationZIPCode": destination.zip_code,
        "expectedDeliveryDate": expected.isoformat(),
    }
    for scan in scans:
        yield piece | _event(scan)


def _event(scan: _Scan) -> dict[str, str]:
    where = scan.where
    known = event_codes.describe(scan.code)
    event = {
        "eventCode": scan.code,
        "eventType": scan.event_type or (known.event_type if known else scan.code),
        "eventTimestamp": scan.day.isoformat(),
        "GMTTimestamp": "",
        "GMTOffset": "",
        "eventCity": where.name,
        "eventState": where.state,
        "eventZIPCode": where.zip_code,
        "eventCountry": "US",
        "firm": scan.firm,
        "recipientName": scan.recipient,
        "actionCode": "",
        "reasonCode": "",
    }
    if scan.moment is not None:
        local = scan.moment.astimezone(where.zone)
        offset = local.utcoffset() or timedelta(0)
        # isoformat, not strftime: several times faster, and seconds are always whole here.
        event["eventTimestamp"] = local.replace(tzinfo=None).isoformat()
        event["GMTTimestamp"] = scan.moment.replace(tzinfo=None).isoformat() + "Z"
        event["GMTOffset"] = format_offset(int(offset.total_seconds()) // 60)
    return event


class _Clock:
    """The piece's time, only ever moving forward, read in each scan's local zone."""

    def __init__(self, rng: random.Random, moment: datetime) -> None:
        self.rng = rng
        self.now = moment

    def after(self, low_hours: float, high_hours: float) -> datetime:
        self.now += timedelta(minutes=self.rng.randint(int(low_hours * 60), int(high_hours * 60)))
        return self.now

    def local(
        self, city: City, first_hour: int, last_hour: int, min_gap_minutes: int = 20
    ) -> datetime:
        """The next moment after a short gap that falls between first_hour and last_hour
        o'clock in the city (working hours of a Post Office or a carrier)."""
        earliest = self.now + timedelta(minutes=min_gap_minutes)
        day = earliest.astimezone(city.zone).date()
        while True:
            clock = time(self.rng.randint(first_hour, last_hour - 1), self.rng.randrange(60))
            candidate = datetime.combine(day, clock, city.zone).astimezone(UTC)
            if candidate >= earliest:
                self.now = candidate.replace(second=self.rng.randrange(60))
                return self.now
            day += timedelta(days=1)


def _journey(
    rng: random.Random,
    origin: City,
    destination: City,
    service: Service,
    mailing_date: date,
    journey: str | None,
    unfinished: bool,
) -> list[_Scan]:
    if journey is None:
        roll = rng.random()
        journey = (
            "notice" if roll < 0.10 else
            "return" if roll < 0.14 else
            "rescheduled" if roll < 0.17 else
            "delivered"
        )  # fmt: skip
    label = datetime.combine(mailing_date, time(rng.randint(7, 19), rng.randrange(60)), origin.zone)
    clock = _Clock(rng, label.astimezone(UTC))
    origin_hub, destination_hub = _BY_NAME[origin.hub], _BY_NAME[destination.hub]

    def scan(code: str, where: City, moment: datetime, **extra: str) -> _Scan:
        return _Scan(code, where, moment, moment.astimezone(where.zone).date(), **extra)

    scans = [scan("MA", origin, clock.now)]
    if rng.random() < 0.15:  # USPS often gives the label's date without a time
        scans[0] = _Scan("MA", origin, None, mailing_date)
    scans.append(scan("03", origin, clock.local(origin, 9, 18, 60)))
    scans.append(scan("10", origin_hub, clock.after(2, 8)))
    scans.append(scan("EF", origin_hub, clock.after(1, 4)))
    if destination_hub is not origin_hub:
        low, high = service.days
        scans.append(scan("10", destination_hub, clock.after(low * 24 + 6, high * 24 + 18)))
        scans.append(scan("EF", destination_hub, clock.after(1, 5)))
    scans.append(scan("07", destination, clock.local(destination, 4, 7)))
    scans.append(scan("OF", destination, clock.local(destination, 7, 9)))
    if journey == "notice":
        scans.append(scan(rng.choice(_NOTICE_CODES), destination, clock.local(destination, 10, 18)))
        scans.append(scan("16", destination, clock.local(destination, 8, 10, 12 * 60)))
        scans.append(
            scan(
                "01",
                destination,
                clock.local(destination, 9, 17, 24 * 60),
                event_type="Delivered, Individual Picked Up at Postal Facility",
                recipient=_person(rng),
            )
        )
    elif journey == "return":
        scans.append(
            scan(rng.choice(_RETURN_REASONS), destination, clock.local(destination, 10, 18))
        )
        scans.append(scan("09", destination_hub, clock.after(12, 30)))
    else:
        if journey == "rescheduled":
            scans.append(scan("71", destination, clock.local(destination, 17, 20)))
            scans.append(scan("OF", destination, clock.local(destination, 7, 9, 8 * 60)))
        event_type, signed, firm = rng.choice(_DELIVERED)
        scans.append(
            scan(
                "01",
                destination,
                clock.local(destination, 10, 19),
                event_type=event_type,
                recipient=_person(rng) if signed else "",
                firm=rng.choice(_FIRMS) if firm else "",
            )
        )
    if unfinished and rng.random() < 0.12:  # still on its way: only the first scans happened
        scans = scans[: rng.randint(1, len(scans) - 1)]
    return scans


def _person(rng: random.Random) -> str:
    return f"{rng.choice(_FIRST_INITIALS)} {rng.choice(_SURNAMES)}"


def write_records(records: Iterator[dict[str, str]], path: Path) -> int:
    """Write rows as NDJSON or CSV, by the file's name (.ndjson, .jsonl or .csv, optionally
    .gz). Returns how many were written."""
    fmt = detect_format(path)
    opener: Any = gzip.open if path.name.lower().endswith(".gz") else open
    with opener(path, "wt", encoding="utf-8", newline="") as out:
        return write_to(records, out, fmt)


def write_to(records: Iterator[dict[str, str]], out: io.TextIOBase | Any, fmt: str) -> int:
    count = 0
    if fmt == "csv":
        writer = csv.DictWriter(out, fieldnames=FIELDS, lineterminator="\n")
        writer.writeheader()
        for record in records:
            writer.writerow(record)
            count += 1
        return count
    dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
    for record in records:
        out.write(dumps(record) + "\n")
        count += 1
    return count

"""The numbers the schemathesis run asks about, and the store behind them: a provider allowed
for MID and SIX_MID, pieces of every shape the serializers must describe (reused numbers,
date-only scans, no events, a delivery with a recipient), and numbers that are denied, unknown,
without a MID or malformed. Module constants, so hypothesis draws the same values every run."""

from datetime import UTC, date, datetime

from hypothesis import strategies as st

from core.tracking_numbers import mod10_check_digit, s10_check_digit
from tests.tracking.api_helpers import MID, OTHER_MID, allowed_provider, number_for, store_piece
from tracking.models import MailPiece, TrackingEvent

SIX_MID = "123456"

PLAIN = number_for(MID, 1)
REUSED = number_for(MID, 2)
DATE_ONLY = number_for(MID, 3)
NO_EVENTS = number_for(MID, 4)
DELIVERED = number_for(SIX_MID, 5)
ALLOWED_STORED = (PLAIN, REUSED, DATE_ONLY, NO_EVENTS, DELIVERED)

DENIED_STORED = number_for(OTHER_MID, 6)
ALLOWED_UNKNOWN = number_for(MID, 999)
S10 = "EC" + "12345678" + s10_check_digit("12345678") + "US"
RETAIL = "950011000000000000000" + mod10_check_digit("950011000000000000000")
TYPO = PLAIN[:-1] + str((int(PLAIN[-1]) + 1) % 10)

NUMBERS = (
    *ALLOWED_STORED,
    f"420{80301}{PLAIN}",  # the scanned barcode, routing prefix and all
    f"{PLAIN[:4]} {PLAIN[4:12]} {PLAIN[12:]}",  # as printed, with spaces
    DENIED_STORED,
    ALLOWED_UNKNOWN,
    S10,
    RETAIL,
    TYPO,
    "12345",
    PLAIN + "0" * 40,
)
MAILING_DATES = ("2026-11-20", "2025-01-05", "2026-01-01")
ZIPS = ("80301", "10001")


def _stored(number: str, *, mid: str, changes: dict | None = None, **kwargs) -> MailPiece:
    piece = store_piece(number, mid=mid, **kwargs)
    if changes:
        MailPiece.objects.filter(pk=piece.pk).update(**changes)
    return piece


def build_store():
    provider = allowed_provider(mids=(MID, SIX_MID))
    _stored(PLAIN, mid=MID)
    _stored(REUSED, mid=MID, mailing_date=date(2025, 1, 5), events=2)
    _stored(REUSED, mid=MID, changes={"destination_zip": "10001"})
    date_only = _stored(DATE_ONLY, mid=MID, events=0, changes={"expected_delivery": "2026-11-24"})
    TrackingEvent.objects.create(
        piece=date_only,
        event_code="MA",
        event_type="Shipping Label Created, USPS Awaiting Item",
        event_timestamp="2026-11-19",
    )
    _stored(
        NO_EVENTS,
        mid=MID,
        events=0,
        changes={"expected_delivery": "", "status_summary": "", "mail_type": ""},
    )
    delivered = _stored(
        DELIVERED,
        mid=SIX_MID,
        changes={"mail_class": "Priority Mail Express", "mail_class_code": "EX"},
    )
    TrackingEvent.objects.create(
        piece=delivered,
        event_code="01",
        event_type="Delivered, In/At Mailbox",
        event_timestamp="2026-11-21T14:03:12",
        gmt_timestamp=datetime(2026, 11, 21, 19, 3, 12, tzinfo=UTC),
        gmt_offset="-5:00",
        city="NEW YORK",
        state="NY",
        zip_code="10001",
        country="US",
        recipient_name="J SMITH",
        firm="ACME",
        action_code="DL",
    )
    _stored(DENIED_STORED, mid=OTHER_MID)
    assert MailPiece.objects.count() == 7
    return provider


def legacy_query():
    return st.fixed_dictionaries(
        {},
        optional={
            "expand": st.sampled_from(["SUMMARY", "DETAIL"]),
            "mailingDate": st.sampled_from(MAILING_DATES),
            "destinationZIPCode": st.sampled_from(ZIPS),
        },
    )


def batch_body():
    item = st.fixed_dictionaries(
        {"trackingNumber": st.sampled_from(NUMBERS)},
        optional={
            "mailingDate": st.sampled_from(MAILING_DATES),
            "destinationZIPCode": st.sampled_from(ZIPS),
        },
    )
    return st.lists(item, min_size=1, max_size=35)

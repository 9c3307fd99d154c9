"""Checking what an extract request asks for, before anything is saved: the MIDs, the date
range and the format, each refusal with a specific message on the field it belongs to.

The portal form, the API and the service all go through `clean_request`, so the three can
never disagree. Field names are the service's (mids, start_date, end_date, file_format); the
API maps them to its own (MIDs, startDate, endDate, format).
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from django.conf import settings
from django.utils import timezone

from agreements.decision import Reason
from core.errors import DomainError
from core.tracking_numbers import is_valid_mid
from tracking.constants import ExtractFormat

MID_RULE = "a MID is 6 digits starting 0-8, or 9 digits starting with 9"
# Dates before this year (or after next year) are refused: the store holds nothing older, and
# near the ends of the calendar date arithmetic overflows (a 500 instead of a message).
FIRST_YEAR = 2000


def year_bounds() -> tuple[int, int]:
    """The first and last year a requested date may fall in (UTC)."""
    return FIRST_YEAR, timezone.now().year + 1


@dataclass(frozen=True, slots=True)
class ExtractQuery:
    mids: tuple[str, ...]  # valid, unique, sorted
    start_date: date
    end_date: date
    file_format: str

    @property
    def days(self) -> int:
        return (self.end_date - self.start_date).days + 1


class ExtractRefused(DomainError):
    """The access decision denied one or more of the MIDs; nothing was saved. `denied` maps
    each denied MID to the decision's first reason (its code and message)."""

    def __init__(self, denied: dict[str, Reason]) -> None:
        self.denied = dict(sorted(denied.items()))
        listed = "; ".join(
            f"MID {mid}: {reason.code} ({reason.message})" for mid, reason in self.denied.items()
        )
        count = len(self.denied)
        super().__init__(
            f"The extract was not requested: your organisation may not read "
            f"{'this MID' if count == 1 else f'{count} of these MIDs'}. {listed}.",
            field="mids",
        )


def clean_mids(values: Iterable[str], *, field: str = "mids") -> tuple[str, ...]:
    """Stripped, de-duplicated, sorted MIDs, 1 to EXTRACT_MAX_MIDS of them, each valid."""
    mids = sorted({str(value).strip() for value in values if str(value).strip()})
    if not mids:
        raise DomainError("Give at least one MID.", field=field)
    bad = [mid for mid in mids if not is_valid_mid(mid)]
    if bad:
        shown = ", ".join(repr(mid[:20]) for mid in bad[:10])
        raise DomainError(f"Not valid MIDs: {shown} ({MID_RULE}).", field=field)
    limit = settings.EXTRACT_MAX_MIDS
    if len(mids) > limit:
        raise DomainError(
            f"An extract covers at most {limit} MIDs; this asked for {len(mids)}. Split it "
            "into several extracts.",
            field=field,
        )
    return tuple(mids)


def clean_range(*, start_date: date, end_date: date) -> None:
    """start <= end, at most EXTRACT_MAX_DAYS days (inclusive), end not after today (UTC)."""
    first, last = year_bounds()
    for field, day in (("start_date", start_date), ("end_date", end_date)):
        if not first <= day.year <= last:
            raise DomainError(
                f"The date {day.isoformat()} is out of range: the year must be {first} to {last}.",
                field=field,
            )
    if start_date > end_date:
        raise DomainError(
            f"The start date {start_date:%Y-%m-%d} is after the end date {end_date:%Y-%m-%d}.",
            field="start_date",
        )
    today = timezone.now().date()
    if end_date > today:
        raise DomainError(
            f"The end date {end_date:%Y-%m-%d} is in the future; the latest is today, "
            f"{today:%Y-%m-%d} (UTC).",
            field="end_date",
        )
    days = (end_date - start_date).days + 1
    limit = settings.EXTRACT_MAX_DAYS
    if days > limit:
        raise DomainError(
            f"The range covers {days} days; an extract covers at most {limit}. Request "
            "several shorter ranges.",
            field="end_date",
        )


def clean_request(
    *, mids: Iterable[str], start_date: date, end_date: date, file_format: str
) -> ExtractQuery:
    clean = clean_mids(mids)
    clean_range(start_date=start_date, end_date=end_date)
    if file_format not in ExtractFormat.values:
        raise DomainError(
            f"The format must be one of {', '.join(ExtractFormat.values)}, not "
            f"{str(file_format)[:20]!r}.",
            field="file_format",
        )
    return ExtractQuery(
        mids=clean, start_date=start_date, end_date=end_date, file_format=file_format
    )

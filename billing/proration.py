"""Which days of a month a provider was billable, and its share of the monthly fee.

Billable means both at once: the provider ACTIVE and one of its agreements APPROVED. Both are
rebuilt from the append-only audit log (the `to_status` of the entries about Provider and
Agreement subjects), never from today's statuses: a provider closed since is still billed for
the days it had, and a run repeated months later computes the same amounts.

The rules (docs/billing.md, "Fee schedules and proration"):
- Days are calendar days of BILLING_TIMEZONE. A day counts when the provider was billable at
  any moment of it: approved at 23:30 on the 30th, it pays for the 30th; suspended at 09:00 and
  reinstated at 17:00, it pays for that day once. Suspended at 00:00 sharp, it does not pay for
  that day.
- SUPERSEDED ends an agreement because a newer one was approved in the same transaction
  (`agreement_approve`), so it never interrupts billing. SUSPENDED and TERMINATED (agreement),
  SUSPENDED and CLOSED (provider) do; REINSTATED is an APPROVED or ACTIVE entry again.
- The fee is Decimal(fee in cents) × active days / days in the month, rounded to the cent with
  ROUND_HALF_UP. It is rounded once, at the end, and shown on the invoice line.
"""

import calendar
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from itertools import groupby
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db.models import QuerySet

from accounts.constants import ProviderStatus
from accounts.models import Provider
from agreements.constants import AgreementStatus
from agreements.models import Agreement
from core.models import AuditEntry

_INSTANT = timedelta(microseconds=1)


def billing_zone() -> ZoneInfo:
    return ZoneInfo(settings.BILLING_TIMEZONE)


def month_bounds(period: date) -> tuple[datetime, datetime]:
    """The month of `period` as [start, end) instants of BILLING_TIMEZONE."""
    zone = billing_zone()
    return datetime(period.year, period.month, 1, tzinfo=zone), datetime.combine(
        next_month(period), datetime.min.time(), tzinfo=zone
    )


def next_month(period: date) -> date:
    return date(period.year + period.month // 12, period.month % 12 + 1, 1)


def days_in_month(period: date) -> int:
    return calendar.monthrange(period.year, period.month)[1]


def money(cents: int, currency: str = "usd") -> str:
    """`$1,000.00`, `-$10.00` (other currencies: `1,000.00 EUR`): exact, never a float. The one
    way billing writes an amount, in lines, e-mails, the admin, the portal and the PDF."""
    sign = "-" if cents < 0 else ""
    amount = Decimal(abs(cents)).scaleb(-2)
    if currency.lower() == "usd":
        return f"{sign}${amount:,.2f}"
    return f"{sign}{amount:,.2f} {currency.upper()}"


def half_up(value: Decimal) -> int:
    """To a whole cent, half a cent up: the one rounding rule of billing."""
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def describe_days(days: Sequence[date]) -> str:
    """`Nov 14–30, 2026`; `Nov 1–10 and 20–30, 2026`; `Nov 30, 2026`."""
    if not days:
        return "no days"
    runs = []
    for _, run in groupby(enumerate(days), key=lambda pair: pair[1].toordinal() - pair[0]):
        run_days = [day for _, day in run]
        first, last = run_days[0].day, run_days[-1].day
        runs.append(f"{first}–{last}" if last != first else f"{first}")
    joined = runs[0] if len(runs) == 1 else ", ".join(runs[:-1]) + " and " + runs[-1]
    return f"{days[0]:%b} {joined}, {days[0].year}"


@dataclass(frozen=True, slots=True)
class ActiveDays:
    provider_id: int
    period: date  # the month's first day
    days: tuple[date, ...]  # the billable days, in order
    days_in_month: int

    @property
    def count(self) -> int:
        return len(self.days)

    @property
    def label(self) -> str:
        return describe_days(self.days)


def prorate(
    *,
    monthly_fee_cents: int,
    active_days: int,
    days_in_month: int,
    currency: str = "usd",
    days_label: str = "",
) -> tuple[int, str]:
    """(cents, computation): Decimal(fee) × active / days, ROUND_HALF_UP to the cent, e.g.
    "$1,000.00 × 17/30 days (Nov 14–30, 2026) = $566.67"."""
    if monthly_fee_cents < 0 or days_in_month <= 0 or not 0 <= active_days <= days_in_month:
        raise ValueError(
            f"Cannot prorate {monthly_fee_cents} cents over {active_days}/{days_in_month} days."
        )
    cents = half_up(Decimal(monthly_fee_cents) * active_days / days_in_month)
    which = f" ({days_label})" if days_label else ""
    text = (
        f"{money(monthly_fee_cents, currency)} × {active_days}/{days_in_month} days{which} "
        f"= {money(cents, currency)}"
    )
    return cents, text


# --- The history ------------------------------------------------------------------------------

# (subject type id, subject id, to_status, created_at), oldest first.
Change = tuple[int, int, str, datetime]


def _billable_intervals(
    changes: Iterable[Change], *, provider_id: int, provider_type_id: int
) -> list[tuple[datetime, datetime | None]]:
    """[start, end) spans in which the provider was billable; end None: still is."""
    active, superseded = False, False
    approved: set[int] = set()
    spans: list[tuple[datetime, datetime | None]] = []
    since: datetime | None = None
    for subject_type_id, subject_id, to_status, at in changes:
        if subject_type_id == provider_type_id:
            if subject_id != provider_id:
                continue
            active = to_status == ProviderStatus.ACTIVE
        else:
            # The approval that superseded an agreement is the very next agreement entry.
            superseded = to_status == AgreementStatus.SUPERSEDED
            if to_status == AgreementStatus.APPROVED:
                approved.add(subject_id)
            else:
                approved.discard(subject_id)
        billable = active and bool(approved or superseded)
        if billable and since is None:
            since = at
        elif not billable and since is not None:
            spans.append((since, at))
            since = None
    if since is not None:
        spans.append((since, None))
    return spans


def _days_within(
    spans: Iterable[tuple[datetime, datetime | None]], *, start: datetime, end: datetime
) -> tuple[date, ...]:
    zone = billing_zone()
    days: set[date] = set()
    for since, until in spans:
        since, until = max(since, start), min(until or end, end)
        if since >= until:
            continue  # outside the month, or billable for no time at all
        first = since.astimezone(zone).date()
        # `until` is excluded: billable until 00:00 sharp is not billable on that day.
        last = (until - _INSTANT).astimezone(zone).date()
        days.update(first + timedelta(days=n) for n in range((last - first).days + 1))
    return tuple(sorted(days))


def billable_days(*, providers: QuerySet | Iterable[int], period: date) -> dict[int, ActiveDays]:
    """The providers (a queryset of pks, or pks) that were billable at least one day of the
    month of `period`, with those days. One query, whatever the number of providers."""
    start, end = month_bounds(period)
    types = ContentType.objects.get_for_models(Provider, Agreement)
    provider_type_id, agreement_type_id = types[Provider].pk, types[Agreement].pk
    rows = (
        AuditEntry.objects.filter(
            provider__in=providers,
            subject_type_id__in=(provider_type_id, agreement_type_id),
            created_at__lt=end,
        )
        .exclude(to_status="")
        .order_by("provider_id", "created_at", "pk")
        .values_list("provider_id", "subject_type_id", "subject_id", "to_status", "created_at")
    )
    found: dict[int, ActiveDays] = {}
    length = days_in_month(period)
    for provider_id, changes in groupby(rows.iterator(chunk_size=5000), key=lambda row: row[0]):
        spans = _billable_intervals(
            (row[1:] for row in changes), provider_id=provider_id, provider_type_id=provider_type_id
        )
        days = _days_within(spans, start=start, end=end)
        if days:
            found[provider_id] = ActiveDays(provider_id, period, days, length)
    return found


def active_days(*, provider_id: int, period: date) -> ActiveDays:
    """The days of the month of `period` (any day of it) that the provider was billable."""
    period = period.replace(day=1)
    found = billable_days(providers=[provider_id], period=period)
    return found.get(provider_id) or ActiveDays(provider_id, period, (), days_in_month(period))


def utc_month_end(period: date) -> datetime:
    """When the month ends in UTC, the time zone of the usage counts (tracking.DailyUsage)."""
    return datetime.combine(next_month(period), datetime.min.time(), tzinfo=UTC)

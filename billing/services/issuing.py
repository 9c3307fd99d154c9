"""The monthly run: one DRAFT invoice per billable provider and month, exactly once.

Exactly once is the database's doing: the `billing_invoice_once` unique constraint on
(provider, period). Each provider's invoice and its lines are written in a transaction of their
own, so a run that dies keeps every invoice it finished and none half-written, and the next run
skips what exists. Two runs at once both try the insert; the second waits on the first's
uncommitted key, then gets the violation and counts the invoice as already issued.

Everything the lines need is read in bulk before the loop (the schedules, the candidates, their
audit history, their usage), so a provider costs two inserts whatever the run's size. After
each commit, `billing.services.invoices.invoice_issued` records the invoice and, with
BILLING_AUTO_APPROVE, opens it; if that fails the invoice stays a draft in finance's queue.

Billed (docs/billing.md, "Monthly run"): a provider with at least one active day in the month
(billing.proration) whose type has a schedule in effect on the month's first day.
SERVICE_PROVIDER is always invoiced, even at $0.00, so finance sees every month of every paying
type; other types only when they owe something. Overage: the calls of every lookup answered
(tracking.DailyUsage, allowed or denied) on the UTC days of the month, over the schedule's
included calls, at the exact Decimal price per 1,000 rounded half up to the cent.
"""

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import partial

from django.db import DataError, IntegrityError, transaction
from django.db.models import Exists, Min, OuterRef, Sum
from django.utils import timezone

from accounts.constants import ProviderStatus, ProviderType
from accounts.models import Provider
from agreements.constants import AgreementStatus
from agreements.models import Agreement
from billing.constants import LineKind
from billing.models import FeeSchedule, Invoice, InvoiceLine
from billing.proration import (
    ActiveDays,
    billable_days,
    billing_zone,
    describe_days,
    half_up,
    money,
    month_bounds,
    next_month,
    prorate,
    utc_month_end,
)
from billing.services import invoices
from billing.services.schedules import fee_schedules_in_effect
from core.errors import DomainError, violated_constraint
from core.models import AuditEntry
from tracking.models import DailyUsage

logger = logging.getLogger(__name__)

INVOICE_ONCE = "billing_invoice_once"
# Paying whatever the schedule says: invoiced even when the month comes to $0.00.
ALWAYS_INVOICED = frozenset({ProviderType.SERVICE_PROVIDER})
_DAY = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class IssueProgress:
    done: int  # providers considered so far
    total: int


@dataclass
class IssueReport:
    period: date
    dry_run: bool = False
    candidates: int = 0  # providers looked at (not yet invoiced, of a type that may pay)
    created: int = 0  # with dry_run: would be created
    already_issued: int = 0  # the period's invoices that existed, or a concurrent run wrote
    not_billable: int = 0  # no active day in the month, or nothing owed by a free type
    no_schedule: int = 0  # active, of a paying type, but no schedule in effect: not invoiced
    failed: list[tuple[int, str]] = field(default_factory=list)  # (provider id, error)
    announce_failed: int = 0  # created, but invoice_issued raised: left as drafts
    totals_cents: dict[str, int] = field(default_factory=dict)  # per currency, of `created`
    invoice_ids: list[int] = field(default_factory=list)
    seconds: float = 0.0


# --- Periods ----------------------------------------------------------------------------------


def period_is_closed(period: date, *, now: datetime) -> bool:
    """The month has ended in BILLING_TIMEZONE (whose days are prorated) and in UTC (whose days
    the usage counts use), so neither can change any more."""
    return now >= max(month_bounds(period)[1], utc_month_end(period))


def last_closed_period(*, now: datetime | None = None) -> date:
    now = now or timezone.now()
    period = now.astimezone(billing_zone()).date().replace(day=1)
    while not period_is_closed(period, now=now):
        period = (period - _DAY).replace(day=1)
    return period


def _check_period(period: date, *, now: datetime) -> None:
    if period.day != 1:
        raise DomainError("A billing period is a month: give its first day.", field="period")
    if not period_is_closed(period, now=now):
        raise DomainError(
            f"{period:%B %Y} has not ended yet (in {billing_zone().key} and in UTC, whose days "
            "the usage counts use); it can be invoiced once it has.",
            field="period",
        )


# --- The lines --------------------------------------------------------------------------------


def invoice_lines(*, schedule: FeeSchedule, days: ActiveDays, calls: int) -> list[InvoiceLine]:
    """The unsaved lines of one provider's month: the prorated fee, and overage if any."""
    cents, computation = prorate(
        monthly_fee_cents=schedule.monthly_fee_cents,
        active_days=days.count,
        days_in_month=days.days_in_month,
        currency=schedule.currency,
        days_label=days.label,
    )
    lines = [
        InvoiceLine(
            kind=LineKind.FEE,
            description=f"Monthly access fee, {days.period:%B %Y}",
            computation=computation,
            amount_cents=cents,
            fee_schedule=schedule,
        )
    ]
    included, price = schedule.included_calls, schedule.overage_cents_per_1000
    if included is None or not price or calls <= included:
        return lines
    over = calls - included
    cents = half_up(Decimal(over) * price / 1000)
    if cents:
        month = describe_days(
            [days.period.replace(day=n) for n in range(1, days.days_in_month + 1)]
        )
        lines.append(
            InvoiceLine(
                kind=LineKind.OVERAGE,
                description=f"API calls over the {included:,} included, {days.period:%B %Y}",
                computation=(
                    f"{calls:,} calls ({month}, UTC days) − {included:,} included = "
                    f"{over:,} calls × {money(price, schedule.currency)} per 1,000 = "
                    f"{money(cents, schedule.currency)}"
                ),
                quantity=over,
                amount_cents=cents,
                fee_schedule=schedule,
            )
        )
    return lines


# --- The run ----------------------------------------------------------------------------------


def _candidates(*, period: date, types: set[str]):
    """Providers that may owe for `period` and have no invoice for it yet, by pk."""
    start, end = month_bounds(period)
    return (
        Provider.objects.filter(provider_type__in=types, created_at__lt=end)
        # Never active (nothing leads back to PENDING_REVIEW), or closed (final) before the
        # month began: no audit history needed to know they owe nothing.
        .exclude(status=ProviderStatus.PENDING_REVIEW)
        .exclude(status=ProviderStatus.CLOSED, updated_at__lt=start)
        .exclude(Exists(Invoice.objects.filter(provider=OuterRef("pk"), period=period)))
        .order_by("pk")
    )


def _usage(*, providers, period: date) -> dict[int, int]:
    rows = (
        DailyUsage.objects.filter(
            provider__in=providers, day__gte=period, day__lt=next_month(period)
        )
        .values("provider_id")
        .annotate(calls=Sum("calls"))
        .order_by()
    )
    return {row["provider_id"]: row["calls"] for row in rows}


def issue_invoices(
    *,
    period: date,
    dry_run: bool = False,
    on_progress: Callable[[IssueProgress], None] | None = None,
    now: datetime | None = None,
) -> IssueReport:
    """Issue the DRAFT invoices of the month `period` (its first day) that do not exist yet.

    Safe to repeat and to run concurrently; a month that has not ended is refused. With
    `dry_run` nothing is written: the report says what would be."""
    _check_period(period, now=now or timezone.now())
    started = time.perf_counter()
    report = IssueReport(period=period, dry_run=dry_run)
    schedules = fee_schedules_in_effect(on=period)
    types = set(ALWAYS_INVOICED) | {
        kind
        for kind, schedule in schedules.items()
        if schedule.monthly_fee_cents or schedule.overage_cents_per_1000
    }
    candidates = _candidates(period=period, types=types)
    plan = list(candidates.values_list("pk", "provider_type"))
    report.candidates = len(plan)
    report.already_issued = Invoice.objects.filter(period=period).count()
    if not plan:
        report.seconds = time.perf_counter() - started
        return report
    ids = candidates.values("pk")
    active = billable_days(providers=ids, period=period)
    metered = any(
        s.included_calls is not None and s.overage_cents_per_1000 for s in schedules.values()
    )
    usage = _usage(providers=ids, period=period) if metered and active else {}
    for done, (provider_id, provider_type) in enumerate(plan, start=1):
        _issue_one(
            report=report,
            provider_id=provider_id,
            provider_type=provider_type,
            schedule=schedules.get(provider_type),
            days=active.get(provider_id),
            calls=usage.get(provider_id, 0),
        )
        if on_progress is not None:
            on_progress(IssueProgress(done=done, total=len(plan)))
    report.seconds = time.perf_counter() - started
    return report


def _issue_one(
    *,
    report: IssueReport,
    provider_id: int,
    provider_type: str,
    schedule: FeeSchedule | None,
    days: ActiveDays | None,
    calls: int,
) -> None:
    if days is None:
        report.not_billable += 1
        return
    if schedule is None:
        report.no_schedule += 1
        logger.warning(
            "Provider %s was active in %s but no %s fee schedule was in effect: not invoiced.",
            provider_id,
            f"{report.period:%Y-%m}",
            provider_type,
        )
        return
    try:
        lines = invoice_lines(schedule=schedule, days=days, calls=calls)
        total = sum(line.amount_cents for line in lines)
        if not total and provider_type not in ALWAYS_INVOICED:
            report.not_billable += 1
            return
        if not report.dry_run:
            invoice = _write(report=report, provider_id=provider_id, lines=lines, total=total)
            if invoice is None:
                report.already_issued += 1
                return
            report.invoice_ids.append(invoice.pk)
    except (DataError, ValueError, ArithmeticError) as exc:
        # This provider's numbers cannot be invoiced (out of range): the others still are.
        logger.exception("Provider %s could not be invoiced for %s", provider_id, report.period)
        report.failed.append((provider_id, str(exc)))
        return
    report.created += 1
    report.totals_cents[schedule.currency] = report.totals_cents.get(schedule.currency, 0) + total


def _write(
    *, report: IssueReport, provider_id: int, lines: list[InvoiceLine], total: int
) -> Invoice | None:
    """The invoice and its lines in one transaction; None when (provider, period) exists."""
    currency = lines[0].fee_schedule.currency
    try:
        with transaction.atomic():
            invoice = Invoice.objects.create(
                provider_id=provider_id, period=report.period, currency=currency, total_cents=total
            )
            for line in lines:
                line.invoice = invoice
            InvoiceLine.objects.bulk_create(lines)
            transaction.on_commit(partial(_announce, invoice=invoice, report=report))
    except IntegrityError as exc:
        if violated_constraint(exc) != INVOICE_ONCE:
            raise
        return None
    return invoice


def _announce(*, invoice: Invoice, report: IssueReport) -> None:
    try:
        invoices.invoice_issued(invoice=invoice)
    except Exception:
        # The invoice is committed; approving it is finance's, by hand, from the draft queue.
        logger.exception("invoice_issued failed for invoice %s: it stays a draft", invoice.pk)
        report.announce_failed += 1


# --- Catching up ------------------------------------------------------------------------------


def _first_billable_period() -> date | None:
    """The month of the first agreement approval, or of the first schedule, whichever is
    later: no month before it can owe anything."""
    first_schedule = FeeSchedule.objects.aggregate(first=Min("effective_from"))["first"]
    first_approval = AuditEntry.objects.filter(
        subject_type__app_label=Agreement._meta.app_label,
        subject_type__model=Agreement._meta.model_name,
        to_status=AgreementStatus.APPROVED,
    ).aggregate(first=Min("created_at"))["first"]
    if first_schedule is None or first_approval is None:
        return None
    approved = first_approval.astimezone(billing_zone()).date().replace(day=1)
    return max(first_schedule.replace(day=1), approved)


def catch_up(*, today: date | None = None) -> list[IssueReport]:
    """Run every month from the first that can owe anything to the last that has ended, so a
    missed or interrupted month is completed. Months already complete cost a few queries.

    `today` (BILLING_TIMEZONE) defaults to now; given, the run happens as at its midnight."""
    now = (
        timezone.now()
        if today is None
        else datetime.combine(today, datetime.min.time(), tzinfo=billing_zone())
    )
    first = _first_billable_period()
    if first is None:
        return []
    last = last_closed_period(now=now)
    reports = []
    period = first
    while period <= last:
        reports.append(issue_invoices(period=period, now=now))
        period = next_month(period)
    return reports

"""Fee schedules: the monthly fee of each provider type, effective-dated.

A schedule takes effect on the first day of a month (an invoice has one fee line, so a month
has one schedule) and stays in effect until a later row of the same type. Rows are added, never
edited once an invoice line used them (`fee_schedule_is_used`), and a new row may not take
effect in a month already invoiced for its type: what was billed stays explained by the row
it names. A type with no row in effect is free (SHIPPER and PLATFORM by default).
"""

from datetime import date, datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.constants import ProviderType
from billing.models import FeeSchedule, Invoice, InvoiceLine
from billing.proration import billing_zone, money, next_month
from core.audit import audit_record
from core.errors import DomainError, unique_violations_as_domain_errors, validate

EARLIEST_EFFECTIVE = date(2000, 1, 1)
MAX_YEARS_AHEAD = 10


def _whole_number(value: Any, *, field: str, label: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise DomainError(f"{label} must be a whole number, 0 or more.", field=field)
    return value


def _check_effective_from(effective_from: Any, *, today: date) -> date:
    if not isinstance(effective_from, date) or isinstance(effective_from, datetime):
        raise DomainError("Give the date the schedule takes effect.", field="effective_from")
    if effective_from.day != 1:
        raise DomainError(
            "A schedule takes effect on the first day of a month (an invoice bills a whole "
            "month at one fee).",
            field="effective_from",
        )
    latest = today.replace(year=today.year + MAX_YEARS_AHEAD, day=1)
    if not EARLIEST_EFFECTIVE <= effective_from <= latest:
        raise DomainError(
            f"The date must be between {EARLIEST_EFFECTIVE} and {latest}.", field="effective_from"
        )
    return effective_from


@transaction.atomic
def fee_schedule_create(
    *,
    provider_type: str,
    effective_from: date,
    monthly_fee_cents: int,
    currency: str = "usd",
    included_calls: int | None = None,
    overage_cents_per_1000: int = 0,
    actor: Any | None,
) -> FeeSchedule:
    """Add the schedule of `provider_type` from `effective_from` (the 1st of a month) on.

    `included_calls` None means no overage at all; 0 charges every call at
    `overage_cents_per_1000`."""
    if provider_type not in ProviderType.values:
        raise DomainError(f"Unknown provider type {provider_type!r}.", field="provider_type")
    today = timezone.now().astimezone(billing_zone()).date()
    effective_from = _check_effective_from(effective_from, today=today)
    monthly_fee_cents = _whole_number(
        monthly_fee_cents, field="monthly_fee_cents", label="The monthly fee"
    )
    overage_cents_per_1000 = _whole_number(
        overage_cents_per_1000, field="overage_cents_per_1000", label="The overage price"
    )
    if included_calls is not None:
        included_calls = _whole_number(
            included_calls, field="included_calls", label="The included calls"
        )
    elif overage_cents_per_1000:
        raise DomainError(
            "An overage price needs the number of included calls (0 to charge every call).",
            field="included_calls",
        )
    billed = (
        Invoice.objects.filter(provider__provider_type=provider_type, period__gte=effective_from)
        .order_by("-period")
        .values_list("period", flat=True)
        .first()
    )
    kind = ProviderType(provider_type).label
    if billed is not None:
        raise DomainError(
            f"{billed:%B %Y} is already invoiced for this provider type ({kind}); a new "
            f"schedule can take effect from {next_month(billed):%B %Y} on.",
            field="effective_from",
        )
    schedule = FeeSchedule(
        provider_type=provider_type,
        effective_from=effective_from,
        monthly_fee_cents=monthly_fee_cents,
        currency=currency,
        included_calls=included_calls,
        overage_cents_per_1000=overage_cents_per_1000,
        created_by=actor if actor is not None and actor.is_authenticated else None,
    )
    duplicate = DomainError(
        f"{kind} already has a schedule from {effective_from}.", field="effective_from"
    )
    if FeeSchedule.objects.filter(
        provider_type=provider_type, effective_from=effective_from
    ).exists():
        raise duplicate
    validate(schedule, exclude=["created_by"])
    with unique_violations_as_domain_errors({"billing_fee_one_per_day": duplicate}):
        schedule.save()
    audit_record(
        subject=schedule,
        action="fee_schedule_create",
        actor=actor,
        provider_id=None,
        extra={
            "provider_type": provider_type,
            "effective_from": effective_from.isoformat(),
            "monthly_fee": money(monthly_fee_cents, currency),
            "monthly_fee_cents": monthly_fee_cents,
            "currency": currency,
            "included_calls": included_calls,
            "overage_cents_per_1000": overage_cents_per_1000,
        },
    )
    return schedule


def fee_schedule_for(*, provider_type: str, on: date) -> FeeSchedule | None:
    """The schedule of `provider_type` in effect on `on`; None: the type is free."""
    return (
        FeeSchedule.objects.filter(provider_type=provider_type, effective_from__lte=on)
        .order_by("-effective_from")
        .first()
    )


def fee_schedules_in_effect(*, on: date) -> dict[str, FeeSchedule]:
    """Every provider type's schedule in effect on `on`, in one query."""
    rows = (
        FeeSchedule.objects.filter(effective_from__lte=on)
        .order_by("provider_type", "-effective_from")
        .distinct("provider_type")
    )
    return {row.provider_type: row for row in rows}


def fee_schedule_is_used(*, schedule: FeeSchedule) -> bool:
    """An invoice line names it: it must never change (add a new row instead)."""
    return InvoiceLine.objects.filter(fee_schedule=schedule).exists()

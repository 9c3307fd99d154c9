"""Billing's demo: fee schedules, a demo card, and invoices in each state a provider and
finance meet: one paid, one open, and one overdue past the grace period whose provider is on
billing hold.

Everything goes through the real services: `fee_schedule_create`; the lines come from the
monthly run's own `invoice_lines`; then `invoice_issued`, `invoice_approve` (finance),
`payment_method_attached` with Stripe's test card `pm_card_visa`, `charge_now` (the portal's
"pay now", a real PaymentIntent on localstripe) and `apply_billing_holds`. Two steps are
demo-only, and documented in docs/api.md:

- The invoices bill whole months. The monthly run bills the days the audit log shows a provider
  active, and the demo providers were approved when seed_demo first ran (the audit log is
  append-only, so no earlier approval is invented); the demo writes its drafts itself, with the
  run's line builder, as if they had been active all month.
- The overdue invoice's issue and due dates are moved back (a direct update) so that it is past
  the grace period today.

Charges queued on approval run here, in this process (Celery eager), so what seed_demo reports
does not depend on when a worker starts: the open invoice is approved before the card exists,
so its charge finds no card and it is open when the seed ends. Adding the card schedules every
open invoice for a charge (`payment_method_attached`), so once Celery beat and a worker run,
the hourly retry run (`retry_due_charges`) charges it to the demo card, unless someone pressed
"pay now" first: the collection flow, at work on demo data. Without Stripe (localstripe not
running) there is no card, and the paid invoice is settled by a recorded wire instead; a later
run adds the card.

Idempotent: every step looks for its record first. The months are relative to today: the
"open" month is the last ended one and the others the month before it.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Sum

from accounts.constants import ProviderType
from accounts.models import Provider, User
from billing.constants import InvoiceStatus, PaymentMethodKind
from billing.models import BillingAccount, FeeSchedule, Invoice, InvoiceLine
from billing.proration import ActiveDays, days_in_month, next_month
from billing.selectors import billing_today
from billing.services.collection import apply_billing_holds, charge_now, payment_method_attached
from billing.services.invoices import invoice_approve, invoice_issued, payment_record_offline
from billing.services.issuing import invoice_lines, last_closed_period
from billing.services.schedules import fee_schedule_create, fee_schedule_for
from billing.stripe_gateway import PaymentGatewayError
from billing.templatetags.billing import format_money
from core.errors import DomainError
from tracking.models import DailyUsage

FEES_FROM = date(2026, 4, 1)  # seed.ACCESS_START: when the demo's access begins
SCHEDULES = (
    # (provider type, monthly fee in cents, included calls, overage cents per 1,000 calls)
    (ProviderType.SERVICE_PROVIDER, 100_000, 100_000, 50),
    (ProviderType.SHIPPER, 0, None, 0),
    (ProviderType.PLATFORM, 0, None, 0),
)
DEMO_CARD = "pm_card_visa"  # Stripe's test Visa 4242 (localstripe knows it too)
OVERDUE_DAYS_PAST_GRACE = 5


@contextmanager
def charges_run_here() -> Iterator[None]:
    """Run the tasks the services queue (the charge on approval) in this process, at commit."""
    from config.celery import app

    before = app.conf.task_always_eager
    app.conf.task_always_eager = True
    try:
        yield
    finally:
        app.conf.task_always_eager = before


class BillingSeeder:
    def __init__(self, *, finance: User, count) -> None:
        self.finance = finance
        self._count = count  # _Seeder._count: adds to the report's "created"
        self.report: dict[str, Any] = {
            "fee_schedules": [],
            "card": None,
            "card_note": "",
            "invoices": [],
            "billing_holds": [],
        }

    def fee_schedules(self) -> None:
        for provider_type, fee, included, overage in SCHEDULES:
            schedule = FeeSchedule.objects.filter(
                provider_type=provider_type, effective_from=FEES_FROM
            ).first()
            created = schedule is None
            if created:
                schedule = fee_schedule_create(
                    provider_type=provider_type,
                    effective_from=FEES_FROM,
                    monthly_fee_cents=fee,
                    included_calls=included,
                    overage_cents_per_1000=overage,
                    actor=self.finance,
                )
            self._count(created)
            self.report["fee_schedules"].append(
                {
                    "provider_type": provider_type,
                    "effective_from": schedule.effective_from.isoformat(),
                    "monthly_fee": format_money(schedule.monthly_fee_cents, schedule.currency),
                    "monthly_fee_cents": schedule.monthly_fee_cents,
                    "currency": schedule.currency,
                    "included_calls": schedule.included_calls,
                    "overage_cents_per_1000": schedule.overage_cents_per_1000,
                    "created": created,
                }
            )

    @transaction.atomic
    def issued(self, *, provider: Provider, period: date) -> tuple[Invoice, bool]:
        """The provider's invoice for `period`, written as a draft and approved by finance."""
        invoice = Invoice.objects.filter(provider=provider, period=period).first()
        created = invoice is None
        if created:
            schedule = fee_schedule_for(provider_type=provider.provider_type, on=period)
            month = days_in_month(period)
            whole_month = ActiveDays(
                provider_id=provider.pk,
                period=period,
                days=tuple(period.replace(day=n) for n in range(1, month + 1)),
                days_in_month=month,
            )
            calls = DailyUsage.objects.filter(
                provider=provider, day__gte=period, day__lt=next_month(period)
            ).aggregate(calls=Sum("calls"))["calls"]
            lines = invoice_lines(schedule=schedule, days=whole_month, calls=calls or 0)
            invoice = Invoice.objects.create(
                provider=provider,
                period=period,
                currency=schedule.currency,
                total_cents=sum(line.amount_cents for line in lines),
            )
            for line in lines:
                line.invoice = invoice
            InvoiceLine.objects.bulk_create(lines)
            invoice_issued(invoice=invoice)
        if invoice.status == InvoiceStatus.DRAFT:
            invoice = invoice_approve(invoice=invoice, actor=self.finance)
        self._count(created)
        return invoice, created

    def card(self, *, provider: Provider) -> None:
        account = BillingAccount.objects.filter(provider=provider).first()
        created = account is None or not account.default_payment_method_id
        if created:
            try:
                account = payment_method_attached(
                    provider=provider, payment_method_id=DEMO_CARD, actor=None
                )
            except (PaymentGatewayError, DomainError) as exc:
                self.report["card_note"] = (
                    f"No demo card: Stripe ({settings.STRIPE_API_BASE}) did not take it ({exc}). "
                    "Start localstripe and run seed_demo again."
                )
                return
        self._count(created)
        self.report["card"] = {
            "provider": provider.legal_name,
            "stripe_customer_id": account.stripe_customer_id,
            "payment_method_id": account.default_payment_method_id,
            "brand": account.card_brand,
            "last4": account.card_last4,
            "exp_month": account.card_exp_month,
            "exp_year": account.card_exp_year,
            "created": created,
        }

    def paid(self, *, invoice: Invoice, payer: User) -> Invoice:
        """Settle `invoice`: "pay now" with the card on file, or a wire when there is none.
        Not in a transaction of its own: the charge commits its attempt before asking Stripe."""
        invoice.refresh_from_db()
        if invoice.status != InvoiceStatus.OPEN:
            return invoice
        if self.report["card"] is not None:
            charge_now(invoice=invoice, actor=payer)
            invoice.refresh_from_db()
        if invoice.status == InvoiceStatus.OPEN:
            payment_record_offline(
                invoice=invoice,
                amount_cents=invoice.amount_due_cents,
                method=PaymentMethodKind.WIRE,
                reference=f"DEMO-WIRE-{invoice.number}",
                actor=self.finance,
            )
            invoice.refresh_from_db()
        return invoice

    @transaction.atomic
    def overdue(self, *, invoice: Invoice) -> Invoice:
        """Demo-only: due long enough ago to be past the grace period today, then the real
        hold run (apply_billing_holds) puts its provider on billing hold."""
        due_on = billing_today() - timedelta(
            days=settings.BILLING_GRACE_DAYS + OVERDUE_DAYS_PAST_GRACE
        )
        if invoice.status == InvoiceStatus.OPEN and invoice.due_on > due_on:
            Invoice.objects.filter(pk=invoice.pk).update(
                due_on=due_on, issued_on=due_on - timedelta(days=settings.BILLING_NET_DAYS)
            )
            invoice.refresh_from_db()
        apply_billing_holds()
        return invoice

    def describe(self, invoice: Invoice, *, demo_state: str, created: bool) -> None:
        invoice.refresh_from_db()
        overdue = (
            invoice.status == InvoiceStatus.OPEN
            and invoice.due_on is not None
            and invoice.due_on < billing_today()
        )
        self.report["invoices"].append(
            {
                "provider": invoice.provider.legal_name,
                "demo_state": demo_state,
                "number": invoice.number,
                "period": f"{invoice.period:%Y-%m}",
                "status": invoice.status,
                "overdue": overdue,
                "total": format_money(invoice.total_cents, invoice.currency),
                "total_cents": invoice.total_cents,
                "amount_due_cents": invoice.amount_due_cents,
                "issued_on": invoice.issued_on.isoformat() if invoice.issued_on else None,
                "due_on": invoice.due_on.isoformat() if invoice.due_on else None,
                "portal_url": f"/billing/invoices/{invoice.pk}/",
                "created": created,
            }
        )

    def holds(self, providers: list[Provider]) -> None:
        for provider in providers:
            provider.refresh_from_db()
            if provider.billing_hold:
                self.report["billing_holds"].append(
                    {"provider": provider.legal_name, "reason": provider.billing_hold_reason}
                )


def seed_billing(
    *, finance: User, paying: Provider, payer: User, held: Provider, count
) -> dict[str, Any]:
    """`paying` (Parcel Insights) gets the demo card, a paid and an open invoice; `held`
    (Route Metrics) an overdue one and a billing hold. Returns the report's "billing" part."""
    seed = BillingSeeder(finance=finance, count=count)
    last_month = last_closed_period()
    month_before = (last_month - timedelta(days=1)).replace(day=1)
    with charges_run_here():
        seed.fee_schedules()
        earlier, earlier_created = seed.issued(provider=paying, period=month_before)
        # Opened before the card exists: the charge queued by its approval finds no card.
        current, current_created = seed.issued(provider=paying, period=last_month)
        unpaid, unpaid_created = seed.issued(provider=held, period=month_before)
        seed.card(provider=paying)
        earlier = seed.paid(invoice=earlier, payer=payer)
        unpaid = seed.overdue(invoice=unpaid)
    seed.describe(earlier, demo_state="paid", created=earlier_created)
    seed.describe(current, demo_state="open", created=current_created)
    seed.describe(unpaid, demo_state="overdue", created=unpaid_created)
    seed.holds([paying, held])
    return seed.report

"""The nightly comparison of our card payments with Stripe's PaymentIntents.

It only records: each difference becomes one ReconciliationIssue (the unique constraint on
kind, PaymentIntent and invoice makes a re-run find it again without a second row), and finance
decides what to do. No payment or invoice is changed here.
"""

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import models, transaction
from django.utils import timezone

from accounts.models import User
from billing import stripe_gateway
from billing.constants import PaymentMethodKind, PaymentStatus, ReconciliationStatus
from billing.models import Invoice, Payment, ReconciliationIssue
from billing.proration import money
from core.audit import audit_record
from core.errors import DomainError

logger = logging.getLogger(__name__)


class IssueKind(models.TextChoices):
    SUCCEEDED_NOT_RECORDED = (
        "stripe_succeeded_not_recorded",
        "Succeeded at Stripe, not recorded as paid here",
    )
    RECORDED_NOT_SUCCEEDED = (
        "recorded_not_succeeded_at_stripe",
        "Recorded as paid here, not succeeded at Stripe",
    )
    AMOUNT_MISMATCH = "amount_mismatch", "Amount or currency differs from Stripe's"
    UNKNOWN_INVOICE = "unknown_invoice", "Stripe payment for an invoice we do not have"
    UNKNOWN_PAYMENT = "unknown_payment", "Stripe payment for no attempt of ours"
    NOT_APPLIED = "payment_not_applied", "Succeeded, but the invoice refused it"


def issue_record(
    *, kind: str, detail: str, invoice_id: int | None, payment_intent_id: str = ""
) -> bool:
    """Record a difference for finance, once: True when it is new."""
    _, created = ReconciliationIssue.objects.get_or_create(
        kind=kind,
        invoice_id=invoice_id,
        stripe_payment_intent_id=payment_intent_id,
        defaults={"detail": detail},
    )
    if created:
        logger.warning("Reconciliation issue %s (%s): %s", kind, payment_intent_id, detail)
    return created


@dataclass
class ReconciliationReport:
    since: datetime
    intents: int = 0
    payments: int = 0
    found: list[str] = field(default_factory=list)  # kinds, one per difference seen
    new: int = 0


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value else None
    except ValueError:
        return None


def reconcile_with_stripe(*, now: datetime | None = None) -> ReconciliationReport:
    """Compare the last BILLING_RECONCILE_DAYS of PaymentIntents with our card payments."""
    now = now or timezone.now()
    report = ReconciliationReport(since=now - timedelta(days=settings.BILLING_RECONCILE_DAYS))

    def found(kind: str, detail: str, invoice_id: int | None, intent_id: str) -> None:
        report.found.append(kind)
        report.new += issue_record(
            kind=kind, detail=detail, invoice_id=invoice_id, payment_intent_id=intent_id
        )

    intents = {
        intent.id: intent for intent in stripe_gateway.payment_intents_since(since=report.since)
    }
    report.intents = len(intents)
    compared = {_compare_intent(intent, found) for intent in intents.values()}

    recorded = Payment.objects.filter(
        method=PaymentMethodKind.CARD,
        status=PaymentStatus.SUCCEEDED,
        created_at__gte=report.since,
    ).order_by("pk")
    for payment in recorded:
        report.payments += 1
        if payment.pk in compared:
            continue
        intent = None
        if payment.stripe_payment_intent_id:
            # Older than the window Stripe listed, or gone: ask for it by id.
            intent = stripe_gateway.payment_intent_retrieve(
                payment_intent_id=payment.stripe_payment_intent_id
            )
        if intent is None or not intent.succeeded:
            found(
                IssueKind.RECORDED_NOT_SUCCEEDED,
                f"Card payment {payment.pk} (attempt {payment.attempt}) is recorded as paid, "
                + (
                    f"but Stripe's {intent.id} is {intent.status}."
                    if intent
                    else "but Stripe has no such PaymentIntent "
                    f"({payment.stripe_payment_intent_id or 'none recorded'})."
                ),
                payment.invoice_id,
                payment.stripe_payment_intent_id or "",
            )
    return report


def _compare_intent(intent: stripe_gateway.StripePaymentIntent, found) -> int | None:
    """Compare one PaymentIntent with the payment it is for; returns that payment's id."""
    invoice_id = _int(intent.metadata.get("invoice_id"))
    if invoice_id is None:
        return None  # not an invoice charge of ours
    number = intent.metadata.get("invoice_number", "")
    invoice = Invoice.objects.filter(pk=invoice_id).first()
    if invoice is None or (number and invoice.number != number):
        found(
            IssueKind.UNKNOWN_INVOICE,
            f"{intent.id} ({intent.status}, {money(intent.amount, intent.currency)}) names "
            f"invoice {invoice_id} {number}, which we do not have.",
            None,
            intent.id,
        )
        return None
    payment = _payment_for(intent, invoice)
    if payment is None:
        kind = IssueKind.SUCCEEDED_NOT_RECORDED if intent.succeeded else IssueKind.UNKNOWN_PAYMENT
        found(
            kind,
            f"{intent.id} ({intent.status}, {money(intent.amount, intent.currency)}) for "
            f"{invoice} attempt {intent.metadata.get('attempt', '?')} has no payment here.",
            invoice.pk,
            intent.id,
        )
        return None
    if intent.amount != payment.amount_cents or intent.currency != payment.currency:
        found(
            IssueKind.AMOUNT_MISMATCH,
            f"{intent.id} is {money(intent.amount, intent.currency)}; payment {payment.pk} "
            f"is {money(payment.amount_cents, payment.currency)}.",
            invoice.pk,
            intent.id,
        )
    if intent.succeeded and payment.status != PaymentStatus.SUCCEEDED:
        found(
            IssueKind.SUCCEEDED_NOT_RECORDED,
            f"{intent.id} succeeded at Stripe; payment {payment.pk} is {payment.status} here.",
            invoice.pk,
            intent.id,
        )
    if payment.status == PaymentStatus.SUCCEEDED and not intent.succeeded:
        found(
            IssueKind.RECORDED_NOT_SUCCEEDED,
            f"Payment {payment.pk} is recorded as paid; Stripe's {intent.id} is {intent.status}.",
            invoice.pk,
            intent.id,
        )
    return payment.pk


def _payment_for(intent: stripe_gateway.StripePaymentIntent, invoice: Invoice) -> Payment | None:
    payment = Payment.objects.filter(stripe_payment_intent_id=intent.id).first()
    if payment is not None:
        return payment
    attempt = _int(intent.metadata.get("attempt"))
    if attempt is None:
        return None
    # Matched by attempt only while no other PaymentIntent is recorded for it.
    return Payment.objects.filter(
        invoice=invoice,
        attempt=attempt,
        method=PaymentMethodKind.CARD,
        stripe_payment_intent_id__isnull=True,
    ).first()


@transaction.atomic
def reconciliation_resolve(
    *, issue: ReconciliationIssue, actor: User | None, resolution: str
) -> ReconciliationIssue:
    """Finance closes an issue, saying what was done about it (audited)."""
    resolution = resolution.strip()
    if not resolution:
        raise DomainError("Say how the difference was resolved.", field="resolution")
    locked = ReconciliationIssue.objects.select_for_update(no_key=True).get(pk=issue.pk)
    if locked.status != ReconciliationStatus.OPEN:
        raise DomainError(f"This issue was already resolved on {locked.resolved_at:%Y-%m-%d}.")
    locked.status = ReconciliationStatus.RESOLVED
    locked.resolved_by = actor if actor is not None and actor.is_authenticated else None
    locked.resolved_at = timezone.now()
    locked.resolution = resolution
    locked.save(update_fields=["status", "resolved_by", "resolved_at", "resolution"])
    invoice = Invoice.objects.filter(pk=locked.invoice_id).first()
    # Not through core.transitions: an issue is no input of the access decision.
    audit_record(
        subject=locked,
        action="reconciliation_resolve",
        actor=actor,
        provider_id=invoice.provider_id if invoice else None,
        from_status=ReconciliationStatus.OPEN,
        to_status=ReconciliationStatus.RESOLVED,
        reason=resolution,
        extra={"kind": locked.kind, "payment_intent": locked.stripe_payment_intent_id},
    )
    for field_name in ("status", "resolved_by", "resolved_at", "resolution"):
        setattr(issue, field_name, getattr(locked, field_name))
    return issue

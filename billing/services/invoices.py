"""The invoice lifecycle: DRAFT -> OPEN (approved, numbered) -> PAID, VOID or UNCOLLECTIBLE.

Every status change goes through core.transitions (row lock, the INVOICE_TRANSITIONS table,
the audit entry). Money on an invoice changes only here: credited_cents and paid_cents are
recomputed from the credit notes and succeeded payments under the invoice's row lock, so
applying the same payment twice changes nothing.

Numbers are gapless per year: the year's InvoiceNumberSequence row is locked and incremented
in the approving transaction, so an approval that rolls back takes its number back with it.
The charge and the e-mail are queued on commit: a rolled-back approval sends nothing.
"""

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Sum
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from accounts.models import Provider, User
from accounts.services.providers import provider_billing_hold_release
from billing.constants import (
    INVOICE_TRANSITIONS,
    InvoiceStatus,
    PaymentMethodKind,
    PaymentStatus,
)
from billing.models import CreditNote, Invoice, InvoiceNumberSequence, Payment
from billing.proration import money
from billing.selectors import billing_recipients, billing_today, invoices_past_grace
from core.audit import audit_record
from core.errors import DomainError, unique_violations_as_domain_errors
from core.transitions import transition

OFFLINE_METHODS = (PaymentMethodKind.WIRE, PaymentMethodKind.CHECK)
# Money can still arrive on these: a written-off invoice paid late is recorded, not refused.
PAYABLE = (InvoiceStatus.OPEN, InvoiceStatus.UNCOLLECTIBLE)
REFERENCE_MAX_LENGTH = Payment._meta.get_field("reference").max_length


def _provider_id(invoice: Invoice) -> int:
    return invoice.provider_id


def _lock(invoice: Invoice) -> Invoice:
    return Invoice.objects.select_for_update(no_key=True).get(pk=invoice.pk)


def _in_step(invoice: Invoice, saved: Invoice) -> Invoice:
    """Keep the caller's instance in step with the saved row, as if it had been reloaded."""
    for field in Invoice._meta.concrete_fields:
        setattr(invoice, field.attname, getattr(saved, field.attname))
    return invoice


def _transition(
    *,
    invoice: Invoice,
    to_status: str,
    action: str,
    actor: User | None,
    reason: str = "",
    reason_required: bool = False,
    changes: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
    decision: bool = True,
) -> Invoice:
    # Settling (PAID) is the money's doing, not a decision: it keeps who approved or voided.
    return transition(
        instance=invoice,
        to_status=to_status,
        table=INVOICE_TRANSITIONS,
        action=action,
        actor=actor,
        reason=reason,
        reason_required=reason_required,
        changes=changes,
        provider_id_of=_provider_id,
        extra={"number": invoice.number or "", **(extra or {})},
        decision_fields=decision,
    )


def _positive_cents(amount_cents: Any, *, field: str) -> int:
    if isinstance(amount_cents, bool) or not isinstance(amount_cents, int) or amount_cents <= 0:
        raise DomainError("Give an amount greater than zero, in whole cents.", field=field)
    return amount_cents


# --- Issued, approved -------------------------------------------------------------------------


@transaction.atomic
def invoice_issued(*, invoice: Invoice) -> None:
    """The monthly run created `invoice` (DRAFT): record it, and open it at once when
    BILLING_AUTO_APPROVE is on (otherwise it waits in finance's queue)."""
    audit_record(
        subject=invoice,
        action="invoice_issue",
        actor=None,
        provider_id=invoice.provider_id,
        to_status=invoice.status,
        extra={
            "period": f"{invoice.period:%Y-%m}",
            "total_cents": invoice.total_cents,
            "currency": invoice.currency,
        },
    )
    if settings.BILLING_AUTO_APPROVE and invoice.status == InvoiceStatus.DRAFT:
        invoice_approve(invoice=invoice, actor=None)


def _next_number(*, year: int) -> str:
    """The year's next invoice number, under the year row's lock until the caller commits."""
    # INSERT ... ON CONFLICT DO NOTHING: two first approvals of a year cannot both create it.
    InvoiceNumberSequence.objects.bulk_create(
        [InvoiceNumberSequence(year=year)], ignore_conflicts=True
    )
    sequence = InvoiceNumberSequence.objects.select_for_update(no_key=True).get(year=year)
    sequence.last_number += 1
    sequence.save(update_fields=["last_number"])
    return f"TAP-{year}-{sequence.last_number:06d}"


@transaction.atomic
def invoice_approve(*, invoice: Invoice, actor: User | None, reason: str = "") -> Invoice:
    """DRAFT -> OPEN: the next gapless number, issued today (BILLING_TIMEZONE), due
    BILLING_NET_DAYS later. Nothing to pay (a zero total) settles it at once; otherwise the
    card charge is queued. The invoice is e-mailed to the provider's billing contacts."""
    locked = _lock(invoice)
    changes: dict[str, Any] = {}
    # Numbered only when the table allows the move; otherwise transition() refuses with the
    # table's explanation, and nothing was numbered.
    if InvoiceStatus.OPEN in INVOICE_TRANSITIONS[locked.status]:
        issued_on = billing_today()
        changes = {
            "number": _next_number(year=issued_on.year),
            "issued_on": issued_on,
            "due_on": issued_on + timedelta(days=settings.BILLING_NET_DAYS),
        }
    # Only numbers written behind the sequence's back (data loaded by hand) can collide.
    taken = DomainError(
        f"Invoice number {changes.get('number')} is already used: the year's number sequence "
        "is behind the invoices. Nothing was changed; ask an administrator to correct it."
    )
    with unique_violations_as_domain_errors({"billing_invoice_number_key": taken}):
        opened = _transition(
            invoice=locked,
            to_status=InvoiceStatus.OPEN,
            action="invoice_approve",
            actor=actor,
            reason=reason,
            changes=changes,
            extra={"number": changes.get("number", ""), "total_cents": locked.total_cents},
        )
    if opened.amount_due_cents == 0:
        opened = _settle(invoice=opened, actor=actor, why="nothing to pay")
    else:
        # A lambda, not functools.partial: Django logs a failed robust callback by its
        # __qualname__, which a partial lacks (the logging itself would raise).
        invoice_id = opened.pk
        transaction.on_commit(lambda: _enqueue_charge(invoice_id), robust=True)
    _email_on_commit(opened)
    return _in_step(invoice, opened)


def _enqueue_charge(invoice_id: int) -> None:
    from billing.tasks import charge_invoice  # the task module imports the services

    charge_invoice.delay(invoice_id)


# --- Decisions: void, write off ---------------------------------------------------------------


@transaction.atomic
def invoice_void(*, invoice: Invoice, actor: User | None, reason: str) -> Invoice:
    """DRAFT or OPEN -> VOID (final), with a reason. An invoice with money received is not
    voided: credit it instead, so the payment stays accounted for."""
    locked = _lock(invoice)
    if locked.paid_cents and InvoiceStatus.VOID in INVOICE_TRANSITIONS[locked.status]:
        raise DomainError(
            f"Cannot void {locked}: {money(locked.paid_cents, locked.currency)} has been paid "
            "on it. Issue a credit note for what is not owed instead."
        )
    voided = _transition(
        invoice=locked,
        to_status=InvoiceStatus.VOID,
        action="invoice_void",
        actor=actor,
        reason=reason,
        reason_required=True,
        changes={"next_charge_at": None},
    )
    # The voided invoice may have been what held the provider's access.
    billing_hold_lift_if_settled(provider=voided.provider)
    return _in_step(invoice, voided)


@transaction.atomic
def invoice_mark_uncollectible(*, invoice: Invoice, actor: User | None, reason: str) -> Invoice:
    """OPEN -> UNCOLLECTIBLE (written off), with a reason. Automatic charges stop; a payment
    that still arrives is recorded and settles it (PAID). A billing hold stays as it is."""
    locked = _lock(invoice)
    written_off = _transition(
        invoice=locked,
        to_status=InvoiceStatus.UNCOLLECTIBLE,
        action="invoice_mark_uncollectible",
        actor=actor,
        reason=reason,
        reason_required=True,
        changes={"next_charge_at": None},
        extra={"amount_due_cents": locked.amount_due_cents},
    )
    return _in_step(invoice, written_off)


# --- Money: credit notes and payments --------------------------------------------------------


def _settle(*, invoice: Invoice, actor: User | None, why: str) -> Invoice:
    """Nothing is due any more: -> PAID, collection stops, and a billing hold may lift."""
    paid = _transition(
        invoice=invoice,
        to_status=InvoiceStatus.PAID,
        action="invoice_paid",
        actor=actor,
        reason=why,
        changes={"next_charge_at": None},
        extra={"paid_cents": invoice.paid_cents, "credited_cents": invoice.credited_cents},
        decision=False,
    )
    billing_hold_lift_if_settled(provider=paid.provider)
    return paid


@transaction.atomic
def credit_note_create(
    *, invoice: Invoice, amount_cents: int, reason: str, actor: User | None
) -> CreditNote:
    """Credit part or all of what is still due on an OPEN invoice, with a reason. A credit
    that leaves nothing due settles the invoice (PAID)."""
    amount_cents = _positive_cents(amount_cents, field="amount_cents")
    reason = reason.strip()
    if not reason:
        raise DomainError("A credit note needs a reason.", field="reason")
    locked = _lock(invoice)
    if locked.status != InvoiceStatus.OPEN:
        raise DomainError(
            f"Cannot credit {locked}: it is {locked.get_status_display()}; only an open "
            "invoice can be credited."
        )
    due = locked.amount_due_cents
    if amount_cents > due:
        raise DomainError(
            f"Cannot credit {money(amount_cents, locked.currency)} on {locked}: only "
            f"{money(due, locked.currency)} is still due.",
            field="amount_cents",
        )
    note = CreditNote.objects.create(
        invoice=locked, amount_cents=amount_cents, reason=reason, created_by=_user(actor)
    )
    locked.credited_cents = _sum(locked.credit_notes.all())
    locked.save(update_fields=["credited_cents", "updated_at"])
    audit_record(
        subject=locked,
        action="credit_note_create",
        actor=actor,
        provider_id=locked.provider_id,
        reason=reason,
        extra={
            "number": locked.number,
            "credit_note_id": note.pk,
            "amount_cents": amount_cents,
            "credited_cents": locked.credited_cents,
        },
    )
    if locked.amount_due_cents == 0:
        _settle(invoice=locked, actor=actor, why="credited in full")
    return note


@transaction.atomic
def payment_record_offline(
    *,
    invoice: Invoice,
    amount_cents: int,
    method: str,
    reference: str,
    actor: User | None,
) -> Payment:
    """Record a wire or check finance received for an open (or written-off) invoice, at most
    the amount still due, and apply it."""
    amount_cents = _positive_cents(amount_cents, field="amount_cents")
    if method not in OFFLINE_METHODS:
        raise DomainError("An offline payment is a wire transfer or a check.", field="method")
    reference = reference.strip()
    if not reference:
        raise DomainError("Give the wire or check reference.", field="reference")
    if len(reference) > REFERENCE_MAX_LENGTH:
        raise DomainError(
            f"A reference has at most {REFERENCE_MAX_LENGTH} characters.", field="reference"
        )
    locked = _lock(invoice)
    if locked.status not in PAYABLE:
        raise DomainError(
            f"Cannot record a payment on {locked}: it is {locked.get_status_display()}."
        )
    due = locked.amount_due_cents
    if amount_cents > due:
        raise DomainError(
            f"Cannot record {money(amount_cents, locked.currency)} on {locked}: only "
            f"{money(due, locked.currency)} is due. Record the amount due, and refund or "
            "credit the rest outside this invoice.",
            field="amount_cents",
        )
    payment = Payment.objects.create(
        invoice=locked,
        method=method,
        status=PaymentStatus.SUCCEEDED,
        amount_cents=amount_cents,
        currency=locked.currency,
        reference=reference,
        recorded_by=_user(actor),
        settled_at=timezone.now(),
    )
    audit_record(
        subject=locked,
        action="payment_record_offline",
        actor=actor,
        provider_id=locked.provider_id,
        extra={
            "number": locked.number,
            "payment_id": payment.pk,
            "method": method,
            "reference": reference,
            "amount_cents": amount_cents,
        },
    )
    invoice_apply_payment(invoice=locked, payment=payment, actor=actor)
    return payment


@transaction.atomic
def invoice_apply_payment(*, invoice: Invoice, payment: Payment, actor: User | None) -> Invoice:
    """Count a SUCCEEDED payment in the invoice's paid amount; when nothing is due any more the
    invoice is PAID and the provider's billing hold may lift.

    Idempotent: paid_cents is the sum of the invoice's succeeded payments, recomputed under
    the row lock, so a payment applied twice (a retried task, a repeated webhook) counts once.
    Money arriving on a PAID or VOID invoice is still recorded (audited as an overpayment for
    finance to refund); it never changes the status.
    """
    if payment.invoice_id != invoice.pk:
        raise DomainError(f"Payment {payment.pk} belongs to another invoice.")
    if payment.status != PaymentStatus.SUCCEEDED:
        raise DomainError(f"Payment {payment.pk} has not succeeded; nothing to apply.")
    locked = _lock(invoice)
    paid = _sum(locked.payments.filter(status=PaymentStatus.SUCCEEDED))
    if paid != locked.paid_cents:
        before = locked.paid_cents
        locked.paid_cents = paid
        locked.save(update_fields=["paid_cents", "updated_at"])
        overpaid = max(paid + locked.credited_cents - locked.total_cents, 0)
        audit_record(
            subject=locked,
            action="invoice_apply_payment",
            actor=actor,
            provider_id=locked.provider_id,
            extra={
                "number": locked.number,
                "payment_id": payment.pk,
                "method": payment.method,
                "paid_cents_before": before,
                "paid_cents": paid,
                "overpaid_cents": overpaid,
            },
        )
    if locked.status in PAYABLE and locked.amount_due_cents == 0:
        locked = _settle(invoice=locked, actor=actor, why=f"paid ({payment.get_method_display()})")
    return _in_step(invoice, locked)


def _sum(queryset) -> int:
    return queryset.aggregate(total=Sum("amount_cents"))["total"] or 0


def _user(actor: User | None) -> User | None:
    return actor if actor is not None and actor.is_authenticated else None


# --- Billing hold -------------------------------------------------------------------------------


@transaction.atomic
def billing_hold_lift_if_settled(*, provider: Provider) -> bool:
    """Release the provider's billing hold once no invoice of theirs is OPEN more than
    BILLING_GRACE_DAYS past due (the rule that sets it). True when it was released now."""
    if not Provider.objects.filter(pk=provider.pk, billing_hold=True).exists():
        return False
    if invoices_past_grace().filter(provider_id=provider.pk).exists():
        return False
    provider_billing_hold_release(
        provider=provider,
        reason="Settled: no invoice is overdue beyond the grace period any more.",
        actor=None,
    )
    return True


# --- E-mail -----------------------------------------------------------------------------------


@transaction.atomic
def invoice_resend(*, invoice: Invoice, actor: User | None) -> Invoice:
    """E-mail an issued invoice to the provider's billing contacts again (audited)."""
    locked = _lock(invoice)
    if locked.number is None:
        raise DomainError(f"Cannot send {locked}: it was never issued (it has no number).")
    audit_record(
        subject=locked,
        action="invoice_resend",
        actor=actor,
        provider_id=locked.provider_id,
        extra={"number": locked.number, "to": billing_recipients(provider_id=locked.provider_id)},
    )
    _email_on_commit(locked)
    return locked


def _email_on_commit(invoice: Invoice) -> None:
    # robust: the invoice is committed whatever the mail server says; resend is the remedy.
    invoice_id = invoice.pk
    transaction.on_commit(lambda: invoice_email_send(invoice_id=invoice_id), robust=True)


def invoice_email_send(*, invoice_id: int) -> int:
    """Send one invoice's e-mail (number, total, due date, link) to its provider's BILLING and
    OWNER members; returns how many people it went to."""
    invoice = Invoice.objects.select_related("provider").get(pk=invoice_id)
    recipients = billing_recipients(provider_id=invoice.provider_id)
    if not recipients or invoice.number is None:
        return 0
    path = reverse("billing:invoice", args=[invoice.pk])
    context = {
        "invoice": invoice,
        "provider": invoice.provider,
        "total": money(invoice.total_cents, invoice.currency),
        "amount_due": money(invoice.amount_due_cents, invoice.currency),
        "url": settings.PORTAL_BASE_URL.rstrip("/") + path,
        "remit_to": settings.BILLING_REMIT_TO,
    }
    subject = render_to_string("billing/email/invoice_issued_subject.txt", context)
    send_mail(
        subject=" ".join(subject.split()),
        message=render_to_string("billing/email/invoice_issued.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        recipient_list=recipients,
    )
    return len(recipients)

"""Collecting open invoices by card: Stripe customers, saved cards, charges, dunning, holds.

A charge is two steps, so that no outcome can be lost:

1. Under the invoice's row lock a PENDING Payment is written and committed *before* Stripe is
   called. It carries attempt N and the idempotency key `invoice-{id}-attempt-{N}`.
2. The Stripe call runs while that Payment row is locked (the lock says "in flight"; a crash
   releases it). The answer is recorded in the same transaction.

If the process dies between Stripe charging and step 2 committing, the PENDING row is still
there: the next run resumes the *same* attempt with the *same* key, which Stripe answers with
the original PaymentIntent instead of charging again; the webhook and the nightly
reconciliation match it by its metadata (invoice_id, attempt) as well. Stripe unreachable
(`GatewayUnavailable`) is the same unknown outcome: the Payment stays PENDING with the error
noted and the invoice stays OPEN, with `next_charge_at` an hour later. Only a refused card is a
FAILED attempt; those follow BILLING_RETRY_DAYS (counted from the first refusal) and e-mail the
provider's billing contacts.
"""

import logging
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import partial

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import F, Max
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from accounts.constants import MembershipRole
from accounts.models import Membership, Provider, User
from accounts.services.providers import provider_billing_hold_set
from billing import stripe_gateway
from billing.constants import InvoiceStatus, PaymentMethodKind, PaymentStatus
from billing.models import BillingAccount, Invoice, Payment
from billing.proration import money
from billing.selectors import billing_today, invoices_past_grace
from billing.services.invoices import invoice_apply_payment
from billing.services.reconciliation import IssueKind, issue_record
from core.audit import audit_record
from core.errors import DomainError

logger = logging.getLogger(__name__)

# Who hears about a refused card or a billing hold.
DUNNING_ROLES = (MembershipRole.BILLING, MembershipRole.OWNER, MembershipRole.ADMIN)
# When a charge's outcome is unknown (Stripe unreachable, still processing, or a crash before
# the answer was saved), it is looked at again after this long. It is well inside the 24 hours
# Stripe keeps an idempotency key, so the resumed attempt cannot charge twice.
RECHECK_AFTER = timedelta(hours=1)
FAILURE_MESSAGE_MAX = Payment._meta.get_field("failure_message").max_length


def _user(actor: User | None) -> User | None:
    return actor if actor is not None and actor.is_authenticated else None


# --- Customers and cards ------------------------------------------------------------------------


def ensure_customer(*, provider: Provider) -> BillingAccount:
    """The provider's Stripe customer, created on first need (exactly one per provider)."""
    account = BillingAccount.objects.filter(provider_id=provider.pk).first()
    if account is not None:
        return account
    with transaction.atomic():
        # The provider's row lock makes a second caller wait, then find the account.
        Provider.objects.select_for_update(no_key=True).filter(pk=provider.pk).first()
        account = BillingAccount.objects.filter(provider_id=provider.pk).first()
        if account is not None:
            return account
        customer = stripe_gateway.customer_create(
            email=provider.contact_email,
            name=provider.legal_name,
            metadata={"provider_id": str(provider.pk)},
            # A crash after Stripe created it: the retry gets the same customer back.
            idempotency_key=f"provider-{provider.pk}-customer",
        )
        account = BillingAccount.objects.create(
            provider_id=provider.pk, stripe_customer_id=customer.id
        )
        audit_record(
            subject=account,
            action="billing_customer_create",
            actor=None,
            provider_id=provider.pk,
            extra={"stripe_customer_id": customer.id},
        )
    return account


def _live_customer(*, provider: Provider) -> BillingAccount:
    """`ensure_customer`, checked against Stripe: a customer Stripe no longer has (deleted in
    its dashboard; in development, a restarted localstripe) is replaced by a new one, and the
    card it held is forgotten, since a card lives on its customer."""
    account = ensure_customer(provider=provider)
    try:
        stripe_gateway.customer_retrieve(customer_id=account.stripe_customer_id)
    except stripe_gateway.CustomerMissing:
        pass
    else:
        return account
    with transaction.atomic():
        locked = BillingAccount.objects.select_for_update().get(pk=account.pk)
        old_id = locked.stripe_customer_id
        customer = stripe_gateway.customer_create(
            email=provider.contact_email,
            name=provider.legal_name,
            metadata={"provider_id": str(provider.pk)},
            idempotency_key=f"provider-{provider.pk}-customer-replaces-{old_id}",
        )
        locked.stripe_customer_id = customer.id
        locked.default_payment_method_id = locked.card_brand = locked.card_last4 = ""
        locked.card_exp_month = locked.card_exp_year = None
        locked.save()
        audit_record(
            subject=locked,
            action="billing_customer_replace",
            actor=None,
            provider_id=provider.pk,
            reason="Stripe no longer had the provider's customer.",
            extra={"old_customer_id": old_id, "stripe_customer_id": customer.id},
        )
    return locked


def setup_intent_create(*, provider: Provider) -> str:
    """A SetupIntent for the portal's card form; returns the client secret Stripe.js needs."""
    account = _live_customer(provider=provider)
    return stripe_gateway.setup_intent_create(
        customer_id=account.stripe_customer_id,
        metadata={"provider_id": str(provider.pk)},
        # One intent per form shown: the key only makes the SDK's own retries safe.
        idempotency_key=f"provider-{provider.pk}-setup-{uuid.uuid4().hex}",
    )


@transaction.atomic
def payment_method_attached(
    *, provider: Provider, payment_method_id: str, actor: User | None = None
) -> BillingAccount:
    """Make the card Stripe.js just saved the provider's default card.

    Open invoices with something due are scheduled for a charge now (the next retry run picks
    them up): a new card is the usual answer to a refused one, or to "no card on file"."""
    account = ensure_customer(provider=provider)
    key = f"provider-{provider.pk}-card-{payment_method_id}"
    card = stripe_gateway.payment_method_attach(
        payment_method_id=payment_method_id,
        customer_id=account.stripe_customer_id,
        idempotency_key=f"{key}-attach",
    )
    stripe_gateway.customer_set_default_payment_method(
        customer_id=account.stripe_customer_id,
        payment_method_id=card.payment_method_id,
        idempotency_key=f"{key}-default",
    )
    account = BillingAccount.objects.select_for_update(no_key=True).get(pk=account.pk)
    account.default_payment_method_id = card.payment_method_id
    account.card_brand = card.brand[:20]
    account.card_last4 = card.last4[:4]
    account.card_exp_month = card.exp_month
    account.card_exp_year = card.exp_year
    account.save()
    audit_record(
        subject=account,
        action="payment_method_set",
        actor=actor,
        provider_id=provider.pk,
        extra={"brand": card.brand, "last4": card.last4},
    )
    Invoice.objects.filter(
        provider_id=provider.pk,
        status=InvoiceStatus.OPEN,
        total_cents__gt=F("credited_cents") + F("paid_cents"),
    ).update(next_charge_at=timezone.now())
    return account


# --- Charging -----------------------------------------------------------------------------------


class ChargeResult:
    SKIPPED = "skipped"
    SUCCEEDED = "succeeded"
    DECLINED = "declined"
    PENDING = "pending"  # outcome unknown for now (Stripe unreachable or still processing)


@dataclass(frozen=True, slots=True)
class ChargeOutcome:
    result: str
    message: str = ""
    payment: Payment | None = None


def charge_invoice(
    *,
    invoice_id: int,
    actor: User | None = None,
    manual: bool = False,
    now: datetime | None = None,
) -> ChargeOutcome:
    """Charge what is due on an OPEN invoice to the provider's default card.

    Automatic runs (the task queued at approval, the retry run) charge only a first time or
    when `next_charge_at` has come, so a repeated task does nothing. `manual` (pay now) charges
    whenever something is due and no charge is in flight.
    """
    now = now or timezone.now()
    started = _attempt_start(invoice_id=invoice_id, manual=manual, now=now, actor=actor)
    if isinstance(started, ChargeOutcome):
        return started
    return _attempt_run(payment_id=started.pk, now=now)


def charge_now(*, invoice: Invoice, actor: User | None) -> ChargeOutcome:
    """The portal's "pay now": charge the default card at once and say what happened."""
    return charge_invoice(invoice_id=invoice.pk, actor=actor, manual=True)


@transaction.atomic
def _attempt_start(
    *, invoice_id: int, manual: bool, now: datetime, actor: User | None
) -> Payment | ChargeOutcome:
    invoice = Invoice.objects.select_for_update(no_key=True).filter(pk=invoice_id).first()
    if invoice is None:
        return ChargeOutcome(ChargeResult.SKIPPED, f"There is no invoice {invoice_id}.")
    if invoice.status != InvoiceStatus.OPEN:
        return ChargeOutcome(
            ChargeResult.SKIPPED, f"{invoice} is {invoice.get_status_display().lower()}."
        )
    pending = (
        invoice.payments.filter(method=PaymentMethodKind.CARD, status=PaymentStatus.PENDING)
        .order_by("-attempt")
        .first()
    )
    if not manual and invoice.charge_attempts and not _due(invoice, now):
        return ChargeOutcome(ChargeResult.SKIPPED, f"{invoice} is not due for a charge yet.")
    # Resume an attempt whose outcome is unknown, with its own key: never a second charge.
    if pending is not None:
        invoice.next_charge_at = now + RECHECK_AFTER
        invoice.save(update_fields=["next_charge_at", "updated_at"])
        return pending
    due = invoice.amount_due_cents
    if due <= 0:
        return ChargeOutcome(ChargeResult.SKIPPED, f"Nothing is due on {invoice}.")
    account = BillingAccount.objects.filter(provider_id=invoice.provider_id).first()
    if account is None or not account.default_payment_method_id:
        return ChargeOutcome(ChargeResult.SKIPPED, "No card is on file.")
    attempt = (invoice.payments.aggregate(last=Max("attempt"))["last"] or 0) + 1
    payment = Payment.objects.create(
        invoice=invoice,
        method=PaymentMethodKind.CARD,
        status=PaymentStatus.PENDING,
        amount_cents=due,
        currency=invoice.currency,
        attempt=attempt,
        idempotency_key=f"invoice-{invoice.pk}-attempt-{attempt}",
        recorded_by=_user(actor),
    )
    invoice.charge_attempts = attempt
    # Were this process to die now, the retry run resumes the attempt after this long.
    invoice.next_charge_at = now + RECHECK_AFTER
    invoice.save(update_fields=["charge_attempts", "next_charge_at", "updated_at"])
    audit_record(
        subject=invoice,
        action="invoice_charge_start",
        actor=actor,
        provider_id=invoice.provider_id,
        extra={
            "number": invoice.number,
            "attempt": attempt,
            "amount_cents": due,
            "manual": manual,
            "card_last4": account.card_last4,
        },
    )
    return payment


def _due(invoice: Invoice, now: datetime) -> bool:
    return invoice.next_charge_at is not None and invoice.next_charge_at <= now


def _attempt_run(*, payment_id: int, now: datetime) -> ChargeOutcome:
    with transaction.atomic():
        # Locked while Stripe is asked; another run finding it locked leaves it alone.
        payment = (
            Payment.objects.select_for_update(no_key=True, skip_locked=True)
            .filter(pk=payment_id, status=PaymentStatus.PENDING)
            .first()
        )
        if payment is None:
            return ChargeOutcome(ChargeResult.SKIPPED, "A charge for this invoice is under way.")
        invoice = Invoice.objects.get(pk=payment.invoice_id)
        try:
            intent = _ask_stripe(payment=payment, invoice=invoice)
        except stripe_gateway.GatewayUnavailable as exc:
            return _outcome_unknown(payment=payment, message=str(exc), now=now)
        except stripe_gateway.PaymentDeclined as exc:
            payment_failure_record(
                payment=payment, message=str(exc), payment_intent_id=exc.payment_intent_id
            )
            return ChargeOutcome(ChargeResult.DECLINED, str(exc), payment)
        except stripe_gateway.PaymentGatewayError as exc:
            # Refused for another reason (the card was removed at Stripe, say): a failed
            # attempt too, so the provider is told and dunning goes on.
            payment_failure_record(payment=payment, message=str(exc))
            return ChargeOutcome(ChargeResult.DECLINED, str(exc), payment)
        if intent is None:
            # We saved this PaymentIntent's id, and Stripe does not know it.
            payment_failure_record(payment=payment, message="Stripe has no such payment.")
            return ChargeOutcome(ChargeResult.DECLINED, "Stripe has no such payment.", payment)
        return _record_intent(payment=payment, intent=intent, now=now)


def _ask_stripe(*, payment: Payment, invoice: Invoice) -> stripe_gateway.StripePaymentIntent | None:
    if payment.stripe_payment_intent_id:
        # Created before (still processing when last seen): look, never charge again.
        return stripe_gateway.payment_intent_retrieve(
            payment_intent_id=payment.stripe_payment_intent_id
        )
    account = BillingAccount.objects.get(provider_id=invoice.provider_id)
    return stripe_gateway.payment_intent_create(
        amount_cents=payment.amount_cents,
        currency=payment.currency,
        customer_id=account.stripe_customer_id,
        payment_method_id=account.default_payment_method_id,
        metadata={
            "invoice_id": str(invoice.pk),
            "invoice_number": invoice.number or "",
            "attempt": str(payment.attempt),
        },
        idempotency_key=payment.idempotency_key,
    )


def _record_intent(
    *, payment: Payment, intent: stripe_gateway.StripePaymentIntent, now: datetime
) -> ChargeOutcome:
    if intent.succeeded:
        payment_success_record(payment=payment, intent=intent)
        return ChargeOutcome(ChargeResult.SUCCEEDED, "", payment)
    if intent.failed or intent.needs_cardholder:
        message = intent.failure_message or (
            "The bank asks the cardholder to confirm this payment: use Pay now in the portal."
            if intent.needs_cardholder
            else "The card was declined."
        )
        payment_failure_record(payment=payment, message=message, payment_intent_id=intent.id)
        return ChargeOutcome(ChargeResult.DECLINED, message, payment)
    # Processing: the webhook will say; until then, look again later.
    payment.stripe_payment_intent_id = intent.id
    payment.save(update_fields=["stripe_payment_intent_id"])
    return _outcome_unknown(
        payment=payment, message=f"Stripe is still processing {intent.id}.", now=now
    )


def _outcome_unknown(*, payment: Payment, message: str, now: datetime) -> ChargeOutcome:
    payment.failure_message = message[:FAILURE_MESSAGE_MAX]
    payment.save(update_fields=["failure_message"])
    Invoice.objects.filter(pk=payment.invoice_id, status=InvoiceStatus.OPEN).update(
        next_charge_at=now + RECHECK_AFTER, updated_at=now
    )
    logger.warning("Charge %s left pending: %s", payment.idempotency_key, message)
    return ChargeOutcome(ChargeResult.PENDING, message, payment)


# --- Outcomes (shared with the webhook handlers) ---------------------------------------------


def payment_success_record(
    *, payment: Payment, intent: stripe_gateway.StripePaymentIntent
) -> Payment:
    """Stripe says the card payment `payment` (locked by the caller) succeeded: record it and
    apply it to its invoice. Idempotent. An amount or currency other than the one we asked for
    is not applied: it goes to finance's reconciliation queue."""
    if payment.status == PaymentStatus.SUCCEEDED:
        return payment
    if intent.amount != payment.amount_cents or intent.currency != payment.currency:
        issue_record(
            kind=IssueKind.AMOUNT_MISMATCH,
            invoice_id=payment.invoice_id,
            payment_intent_id=intent.id,
            detail=(
                f"Stripe collected {money(intent.amount, intent.currency)} for attempt "
                f"{payment.attempt}, which asked for "
                f"{money(payment.amount_cents, payment.currency)}. Not applied."
            ),
        )
        return payment
    payment.status = PaymentStatus.SUCCEEDED
    payment.stripe_payment_intent_id = intent.id
    payment.failure_message = ""
    payment.settled_at = timezone.now()
    payment.save(
        update_fields=["status", "stripe_payment_intent_id", "failure_message", "settled_at"]
    )
    invoice = Invoice.objects.get(pk=payment.invoice_id)
    Invoice.objects.filter(pk=invoice.pk).update(next_charge_at=None)
    try:
        with transaction.atomic():
            invoice_apply_payment(invoice=invoice, payment=payment, actor=None)
    except DomainError as exc:
        issue_record(
            kind=IssueKind.NOT_APPLIED,
            invoice_id=invoice.pk,
            payment_intent_id=intent.id,
            detail=f"Card payment {payment.pk} succeeded at Stripe but was not applied: {exc}",
        )
    return payment


def payment_failure_record(
    *, payment: Payment, message: str, payment_intent_id: str = ""
) -> Payment:
    """The card attempt `payment` (locked by the caller) was refused.

    A payment already SUCCEEDED stays so (a late `payment_failed` un-pays nothing). While the
    invoice is OPEN, the next try is scheduled BILLING_RETRY_DAYS[n-1] days after the first
    refusal (n = refusals so far); after the last there is none, and the billing contacts are
    e-mailed each time."""
    if payment.status == PaymentStatus.SUCCEEDED:
        return payment
    if payment_intent_id and not payment.stripe_payment_intent_id:
        payment.stripe_payment_intent_id = payment_intent_id
        payment.save(update_fields=["stripe_payment_intent_id"])
    if payment.status == PaymentStatus.FAILED:
        return payment
    now = timezone.now()
    payment.status = PaymentStatus.FAILED
    payment.failure_message = message[:FAILURE_MESSAGE_MAX]
    payment.settled_at = now
    payment.save(update_fields=["status", "failure_message", "settled_at"])
    invoice = Invoice.objects.select_for_update(no_key=True).get(pk=payment.invoice_id)
    if invoice.status != InvoiceStatus.OPEN:
        return payment
    invoice.next_charge_at = next_retry_at(invoice=invoice, now=now)
    invoice.save(update_fields=["next_charge_at", "updated_at"])
    audit_record(
        subject=invoice,
        action="invoice_charge_failed",
        actor=None,
        provider_id=invoice.provider_id,
        reason=payment.failure_message,
        extra={
            "number": invoice.number,
            "attempt": payment.attempt,
            "next_charge_at": invoice.next_charge_at.isoformat()
            if invoice.next_charge_at
            else None,
        },
    )
    transaction.on_commit(partial(_send_payment_failed, payment_id=payment.pk), robust=True)
    return payment


def next_retry_at(*, invoice: Invoice, now: datetime) -> datetime | None:
    """When to try a refused card again, or None when the retries are used up."""
    refusals = list(
        invoice.payments.filter(method=PaymentMethodKind.CARD, status=PaymentStatus.FAILED)
        .order_by("created_at")
        .values_list("created_at", flat=True)
    )
    days = settings.BILLING_RETRY_DAYS
    if not refusals or len(refusals) > len(days):
        return None
    # Never sooner than an hour: a "pay now" refused late must not trigger a charge at once.
    return max(refusals[0] + timedelta(days=days[len(refusals) - 1]), now + RECHECK_AFTER)


# --- Runs: retries and billing holds ----------------------------------------------------------


def invoices_due_for_charge(*, now: datetime | None = None) -> list[int]:
    """OPEN invoices whose next charge time has come."""
    return list(
        Invoice.objects.filter(status=InvoiceStatus.OPEN, next_charge_at__lte=now or timezone.now())
        .order_by("next_charge_at", "pk")
        .values_list("pk", flat=True)
    )


def retry_due_charges(*, now: datetime | None = None) -> list[int]:
    """Queue a charge task for each invoice due for one; returns their ids. Each task checks
    again under the invoice's lock, so a repeated run queues harmless repeats."""
    from billing.tasks import charge_invoice as charge_task  # the task module imports this one

    invoice_ids = invoices_due_for_charge(now=now)
    for invoice_id in invoice_ids:
        transaction.on_commit(partial(charge_task.delay, invoice_id), robust=True)
    return invoice_ids


def apply_billing_holds(*, today: date | None = None) -> list[int]:
    """Put on billing hold every provider with an OPEN invoice more than BILLING_GRACE_DAYS
    past due (the same rule B1's lift checks). Idempotent; returns the providers held now."""
    today = today or billing_today()
    oldest: dict[int, Invoice] = {}
    for invoice in invoices_past_grace(today=today).order_by("due_on", "pk"):
        oldest.setdefault(invoice.provider_id, invoice)
    held = []
    for provider_id, invoice in oldest.items():
        with transaction.atomic():
            provider = Provider.objects.select_for_update(no_key=True).get(pk=provider_id)
            if provider.billing_hold:
                continue
            days = (today - invoice.due_on).days
            provider_billing_hold_set(
                provider=provider,
                reason=(
                    f"Invoice {invoice.number} ({money(invoice.amount_due_cents, invoice.currency)}"
                    f" due) is unpaid {days} days after its due date {invoice.due_on:%Y-%m-%d}."
                ),
                actor=None,
            )
            transaction.on_commit(partial(_send_billing_hold, invoice_id=invoice.pk), robust=True)
        held.append(provider_id)
    return held


# --- E-mail ---------------------------------------------------------------------------------


def dunning_recipients(*, provider_id: int) -> list[str]:
    return sorted(
        set(
            Membership.objects.filter(provider_id=provider_id, role__in=DUNNING_ROLES).values_list(
                "user__email", flat=True
            )
        )
    )


def _portal_url(name: str, **kwargs) -> str:
    return settings.PORTAL_BASE_URL.rstrip("/") + reverse(name, kwargs=kwargs or None)


def _send(*, template: str, invoice: Invoice, context: dict) -> int:
    recipients = dunning_recipients(provider_id=invoice.provider_id)
    if not recipients:
        return 0
    context = {
        "invoice": invoice,
        "provider": invoice.provider,
        "amount_due": money(invoice.amount_due_cents, invoice.currency),
        "invoice_url": _portal_url("billing:invoice", pk=invoice.pk),
        "payment_methods_url": _portal_url("billing:payment_methods"),
        "remit_to": settings.BILLING_REMIT_TO,
        **context,
    }
    subject = render_to_string(f"billing/email/{template}_subject.txt", context)
    send_mail(
        subject=" ".join(subject.split()),
        message=render_to_string(f"billing/email/{template}.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        recipient_list=recipients,
    )
    return len(recipients)


def _send_payment_failed(*, payment_id: int) -> int:
    payment = Payment.objects.select_related("invoice__provider").get(pk=payment_id)
    return _send(
        template="payment_failed",
        invoice=payment.invoice,
        context={"payment": payment, "next_charge_at": payment.invoice.next_charge_at},
    )


def _send_billing_hold(*, invoice_id: int) -> int:
    invoice = Invoice.objects.select_related("provider").get(pk=invoice_id)
    return _send(template="billing_hold", invoice=invoice, context={})

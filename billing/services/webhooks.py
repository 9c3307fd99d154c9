"""Stripe webhook events: stored under their unique id first, processed later (a task).

Receiving is INSERT ... ON CONFLICT on `StripeEvent.event_id`: a repeated delivery finds the
row and changes nothing. Processing locks the event row, so it runs once however often its task
is queued, and moves it RECEIVED -> PROCESSED, IGNORED (a type we do not handle) or FAILED
(the error is kept). Handlers are idempotent and safe in any order: a PaymentIntent recorded
as SUCCEEDED stays so whatever arrives after.
"""

import logging
import traceback
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from django.db import transaction
from django.utils import timezone

from billing import stripe_gateway
from billing.constants import PaymentMethodKind, PaymentStatus, StripeEventStatus
from billing.models import Invoice, Payment, StripeEvent
from billing.services.collection import payment_failure_record, payment_success_record
from billing.services.reconciliation import IssueKind, issue_record

logger = logging.getLogger(__name__)

# An event still RECEIVED this long after it arrived lost its task (the broker was down):
# the hourly run queues it again.
STALE_AFTER = timedelta(minutes=10)


def stripe_event_receive(*, event: stripe_gateway.WebhookEvent) -> tuple[StripeEvent, bool]:
    """Store a verified event; queue its processing on commit when it is new. Returns the row
    and whether it was new (a duplicate delivery changes nothing)."""
    from billing.tasks import process_stripe_event  # the task module imports this one

    with transaction.atomic():
        stored, created = StripeEvent.objects.get_or_create(
            event_id=event.id, defaults={"type": event.type, "payload": event.payload}
        )
        if created:
            transaction.on_commit(partial(process_stripe_event.delay, stored.pk), robust=True)
    return stored, created


def stripe_event_process(*, event_pk: int) -> StripeEvent:
    """Apply one stored event, once."""
    with transaction.atomic():
        event = StripeEvent.objects.select_for_update(no_key=True).get(pk=event_pk)
        if event.status != StripeEventStatus.RECEIVED:
            return event
        handler = HANDLERS.get(event.type)
        status, error = StripeEventStatus.PROCESSED, ""
        if handler is None:
            status = StripeEventStatus.IGNORED
        else:
            try:
                with transaction.atomic():
                    handler(event.payload.get("data", {}).get("object", {}))
            except Exception:  # noqa: BLE001 - kept on the row for staff; the rest goes on
                logger.exception("Stripe event %s (%s) failed", event.event_id, event.type)
                status, error = StripeEventStatus.FAILED, traceback.format_exc(limit=5)
        event.status, event.error, event.processed_at = status, error, timezone.now()
        event.save(update_fields=["status", "error", "processed_at"])
    return event


def stripe_events_requeue(*, now: datetime | None = None) -> list[int]:
    """Queue again the events whose processing task was lost; processing is idempotent."""
    from billing.tasks import process_stripe_event

    cutoff = (now or timezone.now()) - STALE_AFTER
    event_pks = list(
        StripeEvent.objects.filter(
            status=StripeEventStatus.RECEIVED, received_at__lt=cutoff
        ).values_list("pk", flat=True)
    )
    for event_pk in event_pks:
        transaction.on_commit(partial(process_stripe_event.delay, event_pk), robust=True)
    return event_pks


# --- Handlers ----------------------------------------------------------------------------------


def _payment_for(intent: stripe_gateway.StripePaymentIntent) -> Payment | None:
    """The card attempt this PaymentIntent is, locked: by its id, else by the invoice and
    attempt its metadata names (a crash, or a refusal, before we learnt the id)."""
    locked = Payment.objects.select_for_update(no_key=True)
    payment = locked.filter(stripe_payment_intent_id=intent.id).first()
    if payment is not None:
        return payment
    try:
        invoice_id = int(intent.metadata["invoice_id"])
        attempt = int(intent.metadata["attempt"])
    except (KeyError, ValueError):
        return None
    return locked.filter(
        invoice_id=invoice_id, attempt=attempt, method=PaymentMethodKind.CARD
    ).first()


def payment_intent_succeeded(data: dict[str, Any]) -> None:
    intent = stripe_gateway.payment_intent_from(data)
    payment = _payment_for(intent)
    if payment is None:
        _unmatched(intent)
        return
    if payment.stripe_payment_intent_id not in (None, intent.id):
        # A second PaymentIntent for one attempt: money we did not expect. Finance decides.
        issue_record(
            kind=IssueKind.SUCCEEDED_NOT_RECORDED,
            invoice_id=payment.invoice_id,
            payment_intent_id=intent.id,
            detail=f"{intent.id} succeeded for attempt {payment.attempt}, which is recorded "
            f"as {payment.stripe_payment_intent_id}.",
        )
        return
    payment_success_record(payment=payment, intent=intent)


def payment_intent_payment_failed(data: dict[str, Any]) -> None:
    intent = stripe_gateway.payment_intent_from(data)
    payment = _payment_for(intent)
    if payment is None or payment.stripe_payment_intent_id not in (None, intent.id):
        return  # nothing of ours was paid by it; the nightly reconciliation lists strangers
    if payment.status == PaymentStatus.SUCCEEDED:
        return  # arrived after `succeeded`: a refusal never un-pays
    payment_failure_record(
        payment=payment,
        message=intent.failure_message or "The card was declined.",
        payment_intent_id=intent.id,
    )


def _unmatched(intent: stripe_gateway.StripePaymentIntent) -> None:
    invoice_id = intent.metadata.get("invoice_id", "")
    if not invoice_id:
        return  # not an invoice charge
    invoice = Invoice.objects.filter(pk=invoice_id).first() if invoice_id.isdigit() else None
    issue_record(
        kind=IssueKind.SUCCEEDED_NOT_RECORDED if invoice else IssueKind.UNKNOWN_INVOICE,
        invoice_id=invoice.pk if invoice else None,
        payment_intent_id=intent.id,
        detail=f"{intent.id} succeeded for invoice {invoice_id} attempt "
        f"{intent.metadata.get('attempt', '?')}, for which we have no payment.",
    )


HANDLERS: dict[str, Callable[[dict[str, Any]], None]] = {
    "payment_intent.succeeded": payment_intent_succeeded,
    "payment_intent.payment_failed": payment_intent_payment_failed,
}

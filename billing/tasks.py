"""Celery tasks of billing: thin, idempotent, ids only.

The monthly run comes first; the collection tasks (charging, retries, holds, reconciliation,
webhook processing) follow below it.
"""

from celery import shared_task

from billing.services.issuing import catch_up

# A run of thousands of providers takes longer than the default task limits (base.py). It stays
# under the broker's visibility timeout (3600 s), after which an unacknowledged task would be
# delivered again; and a run stopped by the limit is simply finished by the next one.
ISSUE_SOFT_TIME_LIMIT = 30 * 60
ISSUE_TIME_LIMIT = 32 * 60


@shared_task(
    acks_late=True,
    ignore_result=True,
    soft_time_limit=ISSUE_SOFT_TIME_LIMIT,
    time_limit=ISSUE_TIME_LIMIT,
)
def issue_monthly_invoices() -> dict[str, object]:
    """Beat, hourly on the 1st-3rd and daily otherwise: the invoices of every ended month that
    lacks some (normally only the previous month's). Repeats find them issued and do nothing."""
    reports = catch_up()
    return {
        "periods": [f"{report.period:%Y-%m}" for report in reports if report.created],
        "created": sum(report.created for report in reports),
        "no_schedule": sum(report.no_schedule for report in reports),
        "failed": sum(len(report.failed) for report in reports),
    }


# --- Collection (Stripe charges, dunning, holds, webhooks, reconciliation) ----------------------
# Thin and idempotent: each loads by id and calls a service that checks again under a row lock.


@shared_task(acks_late=True, ignore_result=True)
def charge_invoice(invoice_id: int) -> str:
    """Charge an OPEN invoice's default card (queued at approval and by the retry run).

    acks_late: a worker dying mid-charge leaves the message to be delivered again; the attempt's
    PENDING row and its idempotency key make that second delivery resume, not charge twice."""
    from billing.services import collection

    return collection.charge_invoice(invoice_id=invoice_id).result


@shared_task(acks_late=True, ignore_result=True)
def retry_due_charges() -> dict[str, int]:
    """Hourly (beat): queue the charges whose retry time has come, and the webhook events
    whose processing task was lost."""
    from billing.services import collection, webhooks

    return {
        "charges": len(collection.retry_due_charges()),
        "events": len(webhooks.stripe_events_requeue()),
    }


@shared_task(acks_late=True, ignore_result=True)
def apply_billing_holds() -> int:
    """Daily (beat): hold providers with an invoice unpaid past the grace period."""
    from billing.services import collection

    return len(collection.apply_billing_holds())


@shared_task(acks_late=True, ignore_result=True)
def reconcile_with_stripe() -> dict[str, int]:
    """Nightly (beat): compare card payments with Stripe's PaymentIntents; record differences."""
    from billing.services import reconciliation

    report = reconciliation.reconcile_with_stripe()
    return {"intents": report.intents, "payments": report.payments, "new_issues": report.new}


@shared_task(acks_late=True, ignore_result=True)
def process_stripe_event(event_pk: int) -> str:
    """Apply one stored Stripe webhook event (once, however often it is queued)."""
    from billing.services import webhooks

    return webhooks.stripe_event_process(event_pk=event_pk).status

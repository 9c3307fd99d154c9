"""Stripe webhooks: signature, storage under the event id, asynchronous idempotent processing
in any order, and one delivery from localstripe itself through a real worker."""

import time

import pytest
import requests
from django.conf import settings
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from billing import stripe_gateway
from billing.constants import (
    InvoiceStatus,
    PaymentMethodKind,
    PaymentStatus,
    ReconciliationStatus,
    StripeEventStatus,
)
from billing.models import Invoice, Payment, ReconciliationIssue, StripeEvent
from billing.services import webhooks
from billing.services.reconciliation import IssueKind
from tests.billing.collection_helpers import (
    add_card,
    intent_payload,
    members,
    open_invoice,
    signed_event,
)

pytestmark = pytest.mark.django_db

URL = "/stripe/webhook/"


def post(client, body: bytes, signature: str | None):
    headers = {} if signature is None else {"HTTP_STRIPE_SIGNATURE": signature}
    return client.post(URL, data=body, content_type="application/json", **headers)


def pending_attempt(invoice, attempt=1) -> Payment:
    """A card attempt whose Stripe answer we have not recorded (the webhook will tell)."""
    Invoice.objects.filter(pk=invoice.pk).update(charge_attempts=attempt)
    return Payment.objects.create(
        invoice=invoice,
        method=PaymentMethodKind.CARD,
        amount_cents=invoice.total_cents,
        attempt=attempt,
        idempotency_key=f"invoice-{invoice.pk}-attempt-{attempt}",
    )


def deliver(client, event_type, data, *, event_id=None, django_capture_on_commit_callbacks):
    """POST a signed event as Stripe would, then run the task it queued (as a worker would)."""
    body, signature = signed_event(event_type, data, event_id=event_id)
    with django_capture_on_commit_callbacks(execute=False) as queued:
        response = post(client, body, signature)
    assert response.status_code == 200
    for event in StripeEvent.objects.filter(status=StripeEventStatus.RECEIVED):
        webhooks.stripe_event_process(event_pk=event.pk)
    return response, queued


def test_the_endpoint_is_mounted_where_stripe_posts():
    assert reverse("stripe_webhook") == URL


@pytest.mark.parametrize(
    "tamper",
    ["body", "secret", "missing header", "stale timestamp", "garbage header"],
)
def test_a_bad_signature_is_refused_and_nothing_is_stored(client, tamper):
    invoice = open_invoice()
    data = intent_payload(
        intent_id="pi_forged", invoice=invoice, attempt=1, amount=1, status="succeeded"
    )
    body, signature = signed_event(
        "payment_intent.succeeded",
        data,
        secret="whsec_someone_else" if tamper == "secret" else None,
        timestamp=int(time.time()) - 3600 if tamper == "stale timestamp" else None,
    )
    if tamper == "body":
        body = body.replace(b'"amount": 1', b'"amount": 2')
    signature = {"missing header": None, "garbage header": "nonsense"}.get(tamper, signature)

    response = post(client, body, signature)

    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/plain")
    assert response.content == b"Invalid Stripe signature."
    assert not StripeEvent.objects.exists()


def test_only_post_is_accepted(client):
    assert client.get(URL).status_code == 405


def test_an_event_is_stored_then_processed_by_its_task(client, django_capture_on_commit_callbacks):
    invoice = open_invoice(total_cents=2_500)
    payment = pending_attempt(invoice)
    data = intent_payload(
        intent_id="pi_ok_1", invoice=invoice, attempt=1, amount=2_500, status="succeeded"
    )
    body, signature = signed_event("payment_intent.succeeded", data, event_id="evt_ok_1")

    with django_capture_on_commit_callbacks(execute=False) as queued:
        response = post(client, body, signature)

    assert response.status_code == 200
    event = StripeEvent.objects.get()
    assert (event.event_id, event.type, event.status) == (
        "evt_ok_1",
        "payment_intent.succeeded",
        StripeEventStatus.RECEIVED,
    )
    assert event.payload["data"]["object"]["id"] == "pi_ok_1"
    assert len(queued) == 1  # processing is queued, not done in the request
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.PENDING

    webhooks.stripe_event_process(event_pk=event.pk)

    event.refresh_from_db()
    assert event.status == StripeEventStatus.PROCESSED
    assert event.processed_at is not None
    payment.refresh_from_db()
    assert (payment.status, payment.stripe_payment_intent_id) == (
        PaymentStatus.SUCCEEDED,
        "pi_ok_1",
    )
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PAID


def test_a_duplicate_delivery_answers_200_and_changes_nothing(
    client, django_capture_on_commit_callbacks
):
    invoice = open_invoice(total_cents=2_500)
    pending_attempt(invoice)
    data = intent_payload(
        intent_id="pi_dup", invoice=invoice, attempt=1, amount=2_500, status="succeeded"
    )
    deliver(
        client,
        "payment_intent.succeeded",
        data,
        event_id="evt_dup",
        django_capture_on_commit_callbacks=django_capture_on_commit_callbacks,
    )
    invoice.refresh_from_db()
    before = (invoice.status, invoice.paid_cents, invoice.updated_at)

    response, queued = deliver(
        client,
        "payment_intent.succeeded",
        data,
        event_id="evt_dup",
        django_capture_on_commit_callbacks=django_capture_on_commit_callbacks,
    )

    assert response.content == b"Already received."
    assert queued == []
    assert StripeEvent.objects.count() == 1
    invoice.refresh_from_db()
    assert (invoice.status, invoice.paid_cents, invoice.updated_at) == before
    assert Payment.objects.filter(status=PaymentStatus.SUCCEEDED).count() == 1


def test_processing_an_event_twice_applies_it_once(client, django_capture_on_commit_callbacks):
    invoice = open_invoice(total_cents=2_500)
    pending_attempt(invoice)
    data = intent_payload(
        intent_id="pi_twice", invoice=invoice, attempt=1, amount=2_500, status="succeeded"
    )
    deliver(
        client,
        "payment_intent.succeeded",
        data,
        django_capture_on_commit_callbacks=django_capture_on_commit_callbacks,
    )
    event = StripeEvent.objects.get()
    processed_at = event.processed_at

    webhooks.stripe_event_process(event_pk=event.pk)

    event.refresh_from_db()
    assert event.processed_at == processed_at
    invoice.refresh_from_db()
    assert invoice.paid_cents == 2_500


def test_an_unknown_event_type_is_stored_and_ignored(client, django_capture_on_commit_callbacks):
    invoice = open_invoice()
    deliver(
        client,
        "customer.created",
        {"id": "cus_x", "object": "customer"},
        django_capture_on_commit_callbacks=django_capture_on_commit_callbacks,
    )

    event = StripeEvent.objects.get()
    assert event.status == StripeEventStatus.IGNORED
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.OPEN


def test_succeeded_then_failed_out_of_order_stays_paid(client, django_capture_on_commit_callbacks):
    invoice = open_invoice(total_cents=3_000)
    members(invoice.provider)
    pending_attempt(invoice)
    common = {"intent_id": "pi_race", "invoice": invoice, "attempt": 1, "amount": 3_000}

    for event_type, status in [
        ("payment_intent.succeeded", "succeeded"),
        ("payment_intent.payment_failed", "requires_payment_method"),
    ]:
        deliver(
            client,
            event_type,
            intent_payload(**common, status=status, message="Your card was declined."),
            django_capture_on_commit_callbacks=django_capture_on_commit_callbacks,
        )

    assert list(StripeEvent.objects.values_list("status", flat=True)) == [
        StripeEventStatus.PROCESSED,
        StripeEventStatus.PROCESSED,
    ]
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PAID
    assert invoice.paid_cents == 3_000
    assert invoice.next_charge_at is None
    payment = Payment.objects.get()
    assert payment.status == PaymentStatus.SUCCEEDED
    assert payment.failure_message == ""
    assert not mail.outbox


def test_a_failed_payment_event_schedules_a_retry_and_emails(
    client, django_capture_on_commit_callbacks
):
    invoice = open_invoice()
    members(invoice.provider)
    payment = pending_attempt(invoice)
    data = intent_payload(
        intent_id="pi_failed",
        invoice=invoice,
        attempt=1,
        amount=invoice.total_cents,
        status="requires_payment_method",
        message="Your card has insufficient funds.",
    )

    with django_capture_on_commit_callbacks(execute=True):
        deliver(
            client,
            "payment_intent.payment_failed",
            data,
            django_capture_on_commit_callbacks=django_capture_on_commit_callbacks,
        )

    payment.refresh_from_db()
    assert payment.status == PaymentStatus.FAILED
    assert payment.failure_message == "Your card has insufficient funds."
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.OPEN
    assert invoice.next_charge_at is not None
    assert len(mail.outbox) == 1
    assert "insufficient funds" in mail.outbox[0].body


def test_a_failed_event_after_the_charge_already_failed_only_names_the_intent(
    client, django_capture_on_commit_callbacks, localstripe
):
    invoice = open_invoice()
    members(invoice.provider)
    add_card(invoice.provider, "pm_card_chargeCustomerFail")
    from billing.services import collection

    with django_capture_on_commit_callbacks(execute=True):
        collection.charge_invoice(invoice_id=invoice.pk)
    payment = Payment.objects.get()
    invoice.refresh_from_db()
    schedule = invoice.next_charge_at
    mail.outbox.clear()

    deliver(
        client,
        "payment_intent.payment_failed",
        intent_payload(
            intent_id="pi_late_news",
            invoice=invoice,
            attempt=1,
            amount=invoice.total_cents,
            status="requires_payment_method",
            message="Your card was declined.",
        ),
        django_capture_on_commit_callbacks=django_capture_on_commit_callbacks,
    )

    payment.refresh_from_db()
    assert payment.status == PaymentStatus.FAILED
    assert payment.stripe_payment_intent_id == "pi_late_news"
    invoice.refresh_from_db()
    assert invoice.next_charge_at == schedule
    assert not mail.outbox


def test_a_payment_for_an_invoice_we_do_not_have_goes_to_finance(
    client, django_capture_on_commit_callbacks
):
    invoice = open_invoice()
    stranger = intent_payload(
        intent_id="pi_stranger", invoice=invoice, attempt=1, amount=100, status="succeeded"
    )
    stranger["metadata"]["invoice_id"] = str(invoice.pk + 1000)

    deliver(
        client,
        "payment_intent.succeeded",
        stranger,
        django_capture_on_commit_callbacks=django_capture_on_commit_callbacks,
    )

    issue = ReconciliationIssue.objects.get()
    assert (issue.kind, issue.stripe_payment_intent_id, issue.status) == (
        IssueKind.UNKNOWN_INVOICE,
        "pi_stranger",
        ReconciliationStatus.OPEN,
    )
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.OPEN
    assert not Payment.objects.exists()


def test_a_succeeded_amount_other_than_asked_is_not_applied(
    client, django_capture_on_commit_callbacks
):
    invoice = open_invoice(total_cents=2_000)
    payment = pending_attempt(invoice)

    deliver(
        client,
        "payment_intent.succeeded",
        intent_payload(
            intent_id="pi_odd", invoice=invoice, attempt=1, amount=1_999, status="succeeded"
        ),
        django_capture_on_commit_callbacks=django_capture_on_commit_callbacks,
    )

    payment.refresh_from_db()
    assert payment.status == PaymentStatus.PENDING
    invoice.refresh_from_db()
    assert (invoice.status, invoice.paid_cents) == (InvoiceStatus.OPEN, 0)
    assert ReconciliationIssue.objects.get().kind == IssueKind.AMOUNT_MISMATCH


def test_a_handler_error_is_kept_on_the_event(client, django_capture_on_commit_callbacks):
    invoice = open_invoice()
    broken = intent_payload(
        intent_id="pi_broken", invoice=invoice, attempt=1, amount=100, status="succeeded"
    )
    del broken["amount"]

    deliver(
        client,
        "payment_intent.succeeded",
        broken,
        django_capture_on_commit_callbacks=django_capture_on_commit_callbacks,
    )

    event = StripeEvent.objects.get()
    assert event.status == StripeEventStatus.FAILED
    assert "KeyError" in event.error


def test_events_whose_task_was_lost_are_queued_again(client, django_capture_on_commit_callbacks):
    body, signature = signed_event("customer.created", {"id": "cus_y"})
    with django_capture_on_commit_callbacks(execute=False):
        post(client, body, signature)
    event = StripeEvent.objects.get()

    with django_capture_on_commit_callbacks(execute=False) as soon:
        assert webhooks.stripe_events_requeue() == []
    later = timezone.now() + webhooks.STALE_AFTER + webhooks.STALE_AFTER
    with django_capture_on_commit_callbacks(execute=False) as queued:
        assert webhooks.stripe_events_requeue(now=later) == [event.pk]

    assert (len(soon), len(queued)) == (0, 1)


# --- End to end: localstripe signs and posts the event; a real worker processes it ---------


@pytest.fixture
def localstripe_webhook(localstripe, live_server):
    """localstripe posting every payment_intent event to this test's live server.

    localstripe keeps webhooks across data wipes, so the fixture switches it off after."""
    config = f"{localstripe}/_config/webhooks/b3-tests"
    response = requests.post(
        config,
        data={
            "url": f"{live_server.url}{URL}",
            "secret": settings.STRIPE_WEBHOOK_SECRET,
            "events[]": ["payment_intent.succeeded", "payment_intent.payment_failed"],
        },
        timeout=5,
    )
    response.raise_for_status()
    yield
    requests.post(
        config,
        data={"url": live_server.url, "secret": "off", "events[]": ["none.disabled"]},
        timeout=5,
    ).raise_for_status()


@pytest.mark.celery_worker
def test_a_charge_stripe_made_is_paid_through_its_webhook(localstripe_webhook, celery_worker):
    invoice = open_invoice(total_cents=6_400)
    account = add_card(invoice.provider)
    payment = pending_attempt(invoice)
    # Stripe charged, and the worker that asked died before saving the answer: only the
    # webhook can tell us.
    stripe_gateway.payment_intent_create(
        amount_cents=6_400,
        currency="usd",
        customer_id=account.stripe_customer_id,
        payment_method_id=account.default_payment_method_id,
        metadata={"invoice_id": str(invoice.pk), "invoice_number": invoice.number, "attempt": "1"},
        idempotency_key=payment.idempotency_key,
    )

    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        invoice.refresh_from_db()
        if invoice.status == InvoiceStatus.PAID:
            break
        time.sleep(0.2)

    assert invoice.status == InvoiceStatus.PAID
    event = StripeEvent.objects.get(type="payment_intent.succeeded")
    assert event.status == StripeEventStatus.PROCESSED
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.SUCCEEDED
    assert payment.stripe_payment_intent_id == event.payload["data"]["object"]["id"]

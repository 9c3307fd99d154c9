"""The Stripe SDK against the real localstripe server (no mocks)."""

import hashlib
import hmac
import json
import socket
import time
from datetime import timedelta

import pytest
from django.conf import settings
from django.test import override_settings
from django.utils import timezone

from billing import stripe_gateway


def test_customer_create_against_localstripe(localstripe):
    customer = stripe_gateway.customer_create(
        email="ops@example.com", name="Example Analytics", idempotency_key="test-customer-1"
    )

    assert customer.id.startswith("cus_")
    fetched = stripe_gateway.customer_retrieve(customer_id=customer.id)
    assert fetched == customer
    assert fetched.email == "ops@example.com"


def test_unknown_customer_raises_a_gateway_error(localstripe):
    with pytest.raises(stripe_gateway.PaymentGatewayError, match="cus_missing"):
        stripe_gateway.customer_retrieve(customer_id="cus_missing")


# --- Cards, charges, listing, webhooks ----------------------------------------------------------


@pytest.fixture
def customer(localstripe):
    return stripe_gateway.customer_create(
        email="billing@example.com", name="Example", idempotency_key="test-customer-cards"
    )


def _card(customer, payment_method_id="pm_card_visa"):
    return stripe_gateway.payment_method_attach(
        payment_method_id=payment_method_id,
        customer_id=customer.id,
        idempotency_key=f"test-attach-{payment_method_id}",
    )


def _charge(customer, card, *, amount=1_234, key="test-charge-1"):
    return stripe_gateway.payment_intent_create(
        amount_cents=amount,
        currency="usd",
        customer_id=customer.id,
        payment_method_id=card.payment_method_id,
        metadata={"invoice_id": "7", "invoice_number": "TAP-2026-000007", "attempt": "1"},
        idempotency_key=key,
    )


def test_a_setup_intent_returns_its_client_secret(customer):
    secret = stripe_gateway.setup_intent_create(
        customer_id=customer.id, idempotency_key="test-setup-1"
    )

    assert secret.startswith("seti_")
    assert "_secret_" in secret


def test_a_card_is_attached_once_and_described(customer):
    card = _card(customer)

    assert card.customer_id == customer.id
    assert (card.brand, card.last4, card.exp_month, card.exp_year) == ("visa", "4242", 12, 2030)
    # Attaching what is already attached (a confirmed SetupIntent did it) returns it as is.
    again = stripe_gateway.payment_method_attach(
        payment_method_id=card.payment_method_id,
        customer_id=customer.id,
        idempotency_key="test-attach-again",
    )
    assert again == card
    stripe_gateway.customer_set_default_payment_method(
        customer_id=customer.id, payment_method_id=card.payment_method_id, idempotency_key="k"
    )


def test_a_charge_carries_amount_currency_and_invoice_metadata(customer):
    intent = _charge(customer, _card(customer))

    assert intent.succeeded
    assert (intent.amount, intent.currency) == (1_234, "usd")
    assert intent.metadata == {
        "invoice_id": "7",
        "invoice_number": "TAP-2026-000007",
        "attempt": "1",
    }
    assert stripe_gateway.payment_intent_retrieve(payment_intent_id=intent.id) == intent


def test_a_refused_card_raises_payment_declined(customer):
    card = _card(customer, "pm_card_chargeCustomerFail")

    with pytest.raises(stripe_gateway.PaymentDeclined) as refused:
        _charge(customer, card)

    assert refused.value.code == "card_declined"
    assert "declined" in str(refused.value)


def test_an_unknown_payment_intent_is_none(localstripe):
    assert stripe_gateway.payment_intent_retrieve(payment_intent_id="pi_missing") is None


def test_stripe_unreachable_is_gateway_unavailable(localstripe):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]

    with override_settings(STRIPE_API_BASE=f"http://127.0.0.1:{port}"):
        with pytest.raises(stripe_gateway.GatewayUnavailable):
            stripe_gateway.customer_retrieve(customer_id="cus_any")


def test_payment_intents_are_listed_across_pages_within_the_window(customer):
    card = _card(customer)
    made = {_charge(customer, card, amount=100 + n, key=f"test-list-{n}").id for n in range(5)}

    listed = list(
        stripe_gateway.payment_intents_since(
            since=timezone.now() - timedelta(minutes=5), page_size=2
        )
    )
    assert {intent.id for intent in listed} == made
    assert list(stripe_gateway.payment_intents_since(since=timezone.now() + timedelta(1))) == []


def _signed(body: bytes, *, secret: str | None = None, timestamp: int | None = None) -> str:
    timestamp = timestamp or int(time.time())
    key = (secret or settings.STRIPE_WEBHOOK_SECRET).encode()
    digest = hmac.new(key, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


EVENT = json.dumps(
    {"id": "evt_1", "object": "event", "type": "payment_intent.succeeded", "data": {"object": {}}}
).encode()


def test_a_signed_webhook_is_verified_and_returned_as_sent():
    event = stripe_gateway.webhook_event(payload=EVENT, signature=_signed(EVENT))

    assert (event.id, event.type) == ("evt_1", "payment_intent.succeeded")
    assert event.payload == json.loads(EVENT)


@pytest.mark.parametrize(
    "signature",
    [
        _signed(EVENT, secret="whsec_other"),
        _signed(EVENT, timestamp=int(time.time()) - 3600),
        _signed(EVENT + b" "),
        "",
    ],
    ids=["other secret", "too old", "other body", "none"],
)
def test_a_badly_signed_webhook_is_refused(signature):
    with pytest.raises(stripe_gateway.WebhookSignatureError):
        stripe_gateway.webhook_event(payload=EVENT, signature=signature)

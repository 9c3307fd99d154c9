"""The Stripe SDK against the real localstripe server (no mocks)."""

import pytest

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

"""The one door to Stripe. No other module imports `stripe`.

It pins the API base and timeouts from settings and passes idempotency keys derived from our
own rows. In development and tests the base points at localstripe.
"""

from dataclasses import dataclass

import stripe
from django.conf import settings


class PaymentGatewayError(Exception):
    """Stripe refused or could not be reached; the message is safe to show to staff."""


def client() -> stripe.StripeClient:
    return stripe.StripeClient(
        settings.STRIPE_SECRET_KEY,
        base_addresses={"api": settings.STRIPE_API_BASE},
        http_client=stripe.RequestsClient(timeout=settings.STRIPE_TIMEOUT_SECONDS),
        max_network_retries=2,
    )


@dataclass(frozen=True, slots=True)
class StripeCustomer:
    id: str
    email: str
    name: str


def customer_create(*, email: str, name: str, idempotency_key: str) -> StripeCustomer:
    try:
        customer = client().v1.customers.create(
            params={"email": email, "name": name},
            options={"idempotency_key": idempotency_key},
        )
    except stripe.StripeError as exc:
        raise PaymentGatewayError(f"Stripe could not create the customer: {exc}") from exc
    return StripeCustomer(id=customer["id"], email=customer["email"], name=customer["name"])


def customer_retrieve(*, customer_id: str) -> StripeCustomer:
    try:
        customer = client().v1.customers.retrieve(customer_id)
    except stripe.StripeError as exc:
        raise PaymentGatewayError(f"Stripe could not load customer {customer_id}: {exc}") from exc
    return StripeCustomer(id=customer["id"], email=customer["email"], name=customer["name"])

"""The one door to Stripe. No other module imports `stripe`.

It pins the API base and timeouts from settings and passes idempotency keys derived from our
own rows. In development and tests the base points at localstripe.

Errors come out as `PaymentGatewayError` or one of its two kinds the caller must tell apart:
`PaymentDeclined` (Stripe answered: the card was refused) and `GatewayUnavailable` (no answer,
or Stripe failed on its side: the request may or may not have taken effect, so it must be
repeated with the same idempotency key, never with a new one).
"""

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import stripe
from django.conf import settings


class PaymentGatewayError(Exception):
    """Stripe refused or could not be reached; the message is safe to show to staff."""


class GatewayUnavailable(PaymentGatewayError):
    """No usable answer from Stripe (network, timeout, rate limit, 5xx, our keys refused):
    the outcome is unknown."""


class PaymentDeclined(PaymentGatewayError):
    """The card was refused. Real Stripe names the PaymentIntent it created for the attempt."""

    def __init__(self, message: str, *, code: str = "", payment_intent_id: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.payment_intent_id = payment_intent_id


class CustomerMissing(PaymentGatewayError):
    """Stripe has no such customer (deleted in the dashboard, or a test server restarted)."""


class WebhookSignatureError(Exception):
    """The webhook body is not signed with our endpoint secret (or is not JSON)."""


def client() -> stripe.StripeClient:
    return stripe.StripeClient(
        settings.STRIPE_SECRET_KEY,
        base_addresses={"api": settings.STRIPE_API_BASE},
        http_client=stripe.RequestsClient(timeout=settings.STRIPE_TIMEOUT_SECONDS),
        max_network_retries=2,
    )


# No usable answer. Our own keys refused is in the list too: nothing was charged, the provider
# is not to blame (no "card refused" e-mail), and the charge must run again once fixed.
_UNAVAILABLE = (
    stripe.APIConnectionError,
    stripe.RateLimitError,
    stripe.APIError,
    stripe.AuthenticationError,
    stripe.PermissionError,
)


def _error(exc: stripe.StripeError, what: str) -> PaymentGatewayError:
    message = f"{what}: {exc.user_message or exc}"
    if isinstance(exc, _UNAVAILABLE):
        return GatewayUnavailable(message)
    if isinstance(exc, stripe.CardError):
        intent = getattr(exc.error, "payment_intent", None) if exc.error else None
        return PaymentDeclined(
            message,
            code=exc.code or "",
            payment_intent_id=(intent["id"] if intent else ""),
        )
    return PaymentGatewayError(message)


def _missing(exc: stripe.StripeError) -> bool:
    return isinstance(exc, stripe.InvalidRequestError) and exc.http_status == 404


# --- Customers -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StripeCustomer:
    id: str
    email: str
    name: str


def customer_create(
    *, email: str, name: str, idempotency_key: str, metadata: Mapping[str, str] | None = None
) -> StripeCustomer:
    params: dict[str, Any] = {"email": email, "name": name}
    if metadata:
        params["metadata"] = dict(metadata)
    try:
        customer = client().v1.customers.create(
            params=params, options={"idempotency_key": idempotency_key}
        )
    except stripe.StripeError as exc:
        raise _error(exc, "Stripe could not create the customer") from exc
    return StripeCustomer(id=customer["id"], email=customer["email"], name=customer["name"])


def customer_retrieve(*, customer_id: str) -> StripeCustomer:
    try:
        customer = client().v1.customers.retrieve(customer_id)
    except stripe.StripeError as exc:
        if _missing(exc):
            raise CustomerMissing(f"Stripe has no customer {customer_id}.") from exc
        raise _error(exc, f"Stripe could not load customer {customer_id}") from exc
    if "deleted" in customer and customer["deleted"]:
        raise CustomerMissing(f"Stripe customer {customer_id} was deleted.")
    return StripeCustomer(id=customer["id"], email=customer["email"], name=customer["name"])


def customer_set_default_payment_method(
    *, customer_id: str, payment_method_id: str, idempotency_key: str
) -> None:
    """The card off-session charges use (and that Stripe's own dashboard shows as default)."""
    try:
        client().v1.customers.update(
            customer_id,
            params={"invoice_settings": {"default_payment_method": payment_method_id}},
            options={"idempotency_key": idempotency_key},
        )
    except stripe.StripeError as exc:
        raise _error(exc, f"Stripe could not set the default card of {customer_id}") from exc


# --- Cards: SetupIntents and PaymentMethods ------------------------------------------------


@dataclass(frozen=True, slots=True)
class StripeCard:
    payment_method_id: str
    customer_id: str  # "" while attached to no customer
    brand: str
    last4: str
    exp_month: int | None
    exp_year: int | None


def setup_intent_create(
    *, customer_id: str, idempotency_key: str, metadata: Mapping[str, str] | None = None
) -> str:
    """A SetupIntent that saves a card for later off-session charges; returns its client
    secret, which the browser's Stripe.js confirms."""
    try:
        intent = client().v1.setup_intents.create(
            params={
                "customer": customer_id,
                "usage": "off_session",
                "payment_method_types": ["card"],
                "metadata": dict(metadata or {}),
            },
            options={"idempotency_key": idempotency_key},
        )
    except stripe.StripeError as exc:
        raise _error(exc, "Stripe could not start saving a card") from exc
    return intent["client_secret"]


def _card(payment_method: Any) -> StripeCard:
    card = payment_method["card"] if payment_method["type"] == "card" else None
    if card is None:
        raise PaymentGatewayError(
            f"Payment method {payment_method['id']} is not a card ({payment_method['type']})."
        )
    return StripeCard(
        payment_method_id=payment_method["id"],
        customer_id=payment_method["customer"] or "",
        brand=card["brand"] or "",
        last4=card["last4"] or "",
        exp_month=card["exp_month"],
        exp_year=card["exp_year"],
    )


def payment_method_retrieve(*, payment_method_id: str) -> StripeCard:
    try:
        payment_method = client().v1.payment_methods.retrieve(payment_method_id)
    except stripe.StripeError as exc:
        raise _error(exc, f"Stripe could not load payment method {payment_method_id}") from exc
    return _card(payment_method)


def payment_method_attach(
    *, payment_method_id: str, customer_id: str, idempotency_key: str
) -> StripeCard:
    """Attach the card to the customer unless it already is (a confirmed SetupIntent has done
    it). Returns the card as attached; use its id from here on."""
    card = payment_method_retrieve(payment_method_id=payment_method_id)
    if card.customer_id == customer_id:
        return card
    if card.customer_id:
        raise PaymentGatewayError(
            f"Payment method {payment_method_id} belongs to another Stripe customer."
        )
    try:
        attached = client().v1.payment_methods.attach(
            payment_method_id,
            params={"customer": customer_id},
            options={"idempotency_key": idempotency_key},
        )
    except stripe.StripeError as exc:
        raise _error(exc, "Stripe could not save the card") from exc
    return _card(attached)


# --- PaymentIntents ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StripePaymentIntent:
    id: str
    status: str
    amount: int
    currency: str
    created: datetime
    metadata: dict[str, str] = field(default_factory=dict)
    failure_message: str = ""

    @property
    def succeeded(self) -> bool:
        return self.status == "succeeded"

    @property
    def failed(self) -> bool:
        """Stripe tried and the card was refused (it waits for another payment method)."""
        return self.status in ("requires_payment_method", "canceled")

    @property
    def needs_cardholder(self) -> bool:
        return self.status == "requires_action"


def payment_intent_from(data: Any) -> StripePaymentIntent:
    """From a PaymentIntent as the SDK returns it or as a webhook event's JSON carries it."""
    if not isinstance(data, dict):
        data = data.to_dict()
    error = data.get("last_payment_error") or {}
    return StripePaymentIntent(
        id=data["id"],
        status=data["status"],
        amount=int(data["amount"]),
        currency=str(data["currency"]).lower(),
        created=datetime.fromtimestamp(int(data["created"]), tz=UTC),
        metadata={str(key): str(value) for key, value in (data.get("metadata") or {}).items()},
        failure_message=error.get("message") or "",
    )


def payment_intent_create(
    *,
    amount_cents: int,
    currency: str,
    customer_id: str,
    payment_method_id: str,
    metadata: Mapping[str, str],
    idempotency_key: str,
) -> StripePaymentIntent:
    """Charge a saved card now, off-session (nobody is at the keyboard to authenticate).

    Cards only: other methods may need a redirect, which an off-session charge cannot follow.
    A refused card raises PaymentDeclined; no answer raises GatewayUnavailable.
    """
    try:
        intent = client().v1.payment_intents.create(
            params={
                "amount": amount_cents,
                "currency": currency,
                "customer": customer_id,
                "payment_method": payment_method_id,
                "payment_method_types": ["card"],
                "confirm": True,
                "off_session": True,
                "metadata": dict(metadata),
            },
            options={"idempotency_key": idempotency_key},
        )
    except stripe.StripeError as exc:
        raise _error(exc, "Stripe could not charge the card") from exc
    return payment_intent_from(intent)


def payment_intent_retrieve(*, payment_intent_id: str) -> StripePaymentIntent | None:
    """The PaymentIntent, or None when Stripe has no such id."""
    try:
        intent = client().v1.payment_intents.retrieve(payment_intent_id)
    except stripe.StripeError as exc:
        if _missing(exc):
            return None
        raise _error(exc, f"Stripe could not load payment intent {payment_intent_id}") from exc
    return payment_intent_from(intent)


def payment_intents_since(
    *, since: datetime, page_size: int = 100
) -> Iterator[StripePaymentIntent]:
    """Every PaymentIntent created at or after `since`, page by page.

    The window is applied here, not as a `created` filter of the list call: localstripe
    rejects that filter, and a nightly scan of one intent per charge attempt is small.
    """
    try:
        page = client().v1.payment_intents.list(params={"limit": page_size})
        for intent in page.auto_paging_iter():
            found = payment_intent_from(intent)
            if found.created >= since:
                yield found
    except stripe.StripeError as exc:
        raise _error(exc, "Stripe could not list payment intents") from exc


# --- Webhooks ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WebhookEvent:
    id: str
    type: str
    payload: dict[str, Any]  # the whole event, as Stripe sent it

    @property
    def data_object(self) -> dict[str, Any]:
        return self.payload.get("data", {}).get("object", {})


def webhook_event(*, payload: bytes, signature: str) -> WebhookEvent:
    """Verify the `Stripe-Signature` header against STRIPE_WEBHOOK_SECRET (with Stripe's
    replay tolerance of five minutes) and return the event."""
    try:
        event = stripe.Webhook.construct_event(payload, signature, settings.STRIPE_WEBHOOK_SECRET)
    except (ValueError, stripe.SignatureVerificationError) as exc:
        raise WebhookSignatureError(str(exc)) from exc
    # The body as received, not the SDK's object: it is what we store and process.
    body = json.loads(payload)
    return WebhookEvent(id=event["id"], type=event["type"], payload=body)

"""Set-up shared by the collection, webhook and reconciliation tests: open invoices written
directly (the lifecycle is B1's and tested there), cards saved through the real service
against localstripe, signed webhook bodies, and a port where nothing listens."""

import hashlib
import hmac
import itertools
import json
import socket
import time
from datetime import date, timedelta

import requests
from django.conf import settings

from accounts.constants import MembershipRole
from billing.constants import InvoiceStatus
from billing.models import Invoice
from billing.selectors import billing_today
from billing.services import collection
from tests.factories import MembershipFactory, ProviderFactory

_numbers = itertools.count(1)


def open_invoice(*, provider=None, total_cents=12_500, due_on=None, period=None) -> Invoice:
    """An OPEN invoice as B1's approval leaves it (numbered, issued, due)."""
    provider = provider or ProviderFactory()
    today = billing_today()
    due_on = due_on or today + timedelta(days=settings.BILLING_NET_DAYS)
    return Invoice.objects.create(
        provider=provider,
        period=period or _a_month(),
        status=InvoiceStatus.OPEN,
        total_cents=total_cents,
        number=f"TAP-2099-{next(_numbers):06d}",
        issued_on=due_on - timedelta(days=settings.BILLING_NET_DAYS),
        due_on=due_on,
    )


def _a_month() -> date:
    """A billed month no other test invoice of the run uses (one invoice per provider and
    month is a database constraint)."""
    months = next(_numbers)
    return date(2000 + months // 12 % 90, months % 12 + 1, 1)


def members(provider) -> dict[str, str]:
    """One member per role; returns role -> e-mail."""
    return {
        role: MembershipFactory(provider=provider, role=role).user.email
        for role in MembershipRole.values
    }


def add_card(provider, payment_method_id="pm_card_visa"):
    """Save a localstripe test card as the provider's default, through the real service."""
    return collection.payment_method_attached(
        provider=provider, payment_method_id=payment_method_id
    )


def stripe_get(path: str) -> dict:
    """Read an object straight from localstripe (what Stripe holds, not what we recorded)."""
    response = requests.get(
        f"{settings.STRIPE_API_BASE}{path}", auth=(settings.STRIPE_SECRET_KEY, ""), timeout=5
    )
    response.raise_for_status()
    return response.json()


def closed_port() -> int:
    """A local TCP port nothing listens on: connections to it are refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def signed_event(
    event_type: str,
    data_object: dict,
    *,
    event_id: str | None = None,
    secret: str | None = None,
    timestamp: int | None = None,
) -> tuple[bytes, str]:
    """A webhook body and its Stripe-Signature header, signed as Stripe signs them:
    v1 = hex(HMAC-SHA256(secret, f"{t}." + body))."""
    timestamp = timestamp or int(time.time())
    body = json.dumps(
        {
            "id": event_id or f"evt_test_{next(_numbers)}",
            "object": "event",
            "type": event_type,
            "created": timestamp,
            "data": {"object": data_object},
        }
    ).encode()
    key = (secret or settings.STRIPE_WEBHOOK_SECRET).encode()
    signature = hmac.new(key, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return body, f"t={timestamp},v1={signature}"


def intent_payload(
    *, intent_id: str, invoice, attempt: int, amount: int, status: str, message: str = ""
) -> dict:
    """A PaymentIntent as a webhook event carries it."""
    return {
        "id": intent_id,
        "object": "payment_intent",
        "amount": amount,
        "currency": invoice.currency,
        "status": status,
        "created": int(time.time()),
        "metadata": {
            "invoice_id": str(invoice.pk),
            "invoice_number": invoice.number or "",
            "attempt": str(attempt),
        },
        "last_payment_error": {"message": message} if message else None,
    }

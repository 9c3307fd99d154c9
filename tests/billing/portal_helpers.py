"""Set-up shared by the portal billing tests: issued invoices made by the real services, members
signed in, and what localstripe's fake Stripe.js does in the browser, done over HTTP."""

from datetime import date

import requests
from django.conf import settings

from accounts.constants import MembershipRole
from billing.models import Invoice
from billing.services.invoices import invoice_approve
from tests.factories import InvoiceFactory, InvoiceLineFactory, MembershipFactory

FEE_COMPUTATION = "$1,000.00 × 17/30 days (Nov 14–30, 2026) = $566.67"


def member_of(provider, role=MembershipRole.BILLING):
    return MembershipFactory(provider=provider, role=role).user


def signed_in(client, provider, role=MembershipRole.BILLING):
    client.force_login(member_of(provider, role))
    return client


def draft(provider, *, period=date(2026, 10, 1), total_cents=56_667, overage_cents=0) -> Invoice:
    """A DRAFT as the monthly run leaves it: a fee line (and an overage line)."""
    invoice = InvoiceFactory(
        provider=provider, period=period, total_cents=total_cents + overage_cents, line=None
    )
    InvoiceLineFactory(
        invoice=invoice,
        description="Monthly access fee, November 2026",
        computation=FEE_COMPUTATION,
        amount_cents=total_cents,
    )
    if overage_cents:
        InvoiceLineFactory(
            invoice=invoice,
            kind="OVERAGE",
            description="API calls over the 100,000 included",
            computation="12,345 calls over 100,000 included: 13 started thousands × $0.50",
            amount_cents=overage_cents,
        )
    return invoice


def issued(provider, **kwargs) -> Invoice:
    """An OPEN invoice, numbered and dated by finance's approval (the real service)."""
    return invoice_approve(invoice=draft(provider, **kwargs), actor=None)


def overdue(invoice: Invoice, *, days: int) -> Invoice:
    """Move an open invoice's dates back so it fell due `days` ago (test set-up only)."""
    from datetime import timedelta

    from billing.selectors import billing_today

    due_on = billing_today() - timedelta(days=days)
    Invoice.objects.filter(pk=invoice.pk).update(
        due_on=due_on, issued_on=due_on - timedelta(days=settings.BILLING_NET_DAYS)
    )
    invoice.refresh_from_db()
    return invoice


def confirm_setup_intent(client_secret: str, *, number: str = "4242424242424242") -> dict:
    """What Stripe.js's confirmCardSetup does in the browser (localstripe's fake posts exactly
    this, with the publishable key): the card goes to Stripe, never to the portal."""
    setup_intent_id = client_secret.split("_secret_")[0]
    response = requests.post(
        f"{settings.STRIPE_API_BASE}/v1/setup_intents/{setup_intent_id}/confirm",
        json={
            "key": settings.STRIPE_PUBLISHABLE_KEY,
            "use_stripe_sdk": True,
            "client_secret": client_secret,
            "payment_method_data": {
                "type": "card",
                "card": {"number": number, "exp_month": "12", "exp_year": "2034", "cvc": "123"},
            },
        },
        timeout=5,
    )
    return response.json()

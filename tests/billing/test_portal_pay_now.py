""" "Pay now" on an invoice: the real charge path (billing.services.collection.charge_now)
against localstripe. A good card pays the invoice; a refused one says so and leaves it open; a
second click charges nothing twice; without a card nothing is charged."""

import pytest
from django.urls import reverse

from accounts.constants import MembershipRole
from billing.constants import InvoiceStatus, PaymentStatus
from billing.models import Payment
from billing.services.collection import payment_method_attached
from tests.billing.portal_helpers import issued, overdue, signed_in
from tests.factories import ProviderFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def provider():
    return ProviderFactory(legal_name="Parcel Insights LLC")


def with_card(provider, payment_method="pm_card_visa"):
    return payment_method_attached(provider=provider, payment_method_id=payment_method)


def pay_now(client, invoice, submission="first-click"):
    return client.post(
        reverse("billing:invoice_pay", args=[invoice.pk]), {"submission": submission}, follow=True
    )


def test_pay_now_charges_the_card_on_file_and_the_invoice_is_paid(client, provider, localstripe):
    with_card(provider)
    invoice = issued(provider, total_cents=56_667)
    signed_in(client, provider, MembershipRole.BILLING)

    response = pay_now(client, invoice)

    invoice.refresh_from_db()
    payment = Payment.objects.get(invoice=invoice)
    assert invoice.status == InvoiceStatus.PAID
    assert invoice.paid_cents == 56_667
    assert payment.status == PaymentStatus.SUCCEEDED
    assert payment.stripe_payment_intent_id.startswith("pi_")
    page = response.content.decode()
    assert "Thank you: $566.67 was charged to your card." in page
    assert "Paid in full" in page


def test_pay_now_lifts_a_billing_hold_and_access_returns(client, localstripe):
    from agreements.decision import decide
    from billing.services.collection import apply_billing_holds
    from tests.tracking.api_helpers import MID, allowed_provider

    provider = allowed_provider(legal_name="Route Metrics LLC")
    with_card(provider)
    invoice = overdue(issued(provider), days=30)
    apply_billing_holds()
    assert decide(provider=provider, mid=MID).reason_codes == ["BILLING_HOLD"]
    signed_in(client, provider, MembershipRole.OWNER)

    pay_now(client, invoice)

    provider.refresh_from_db()
    assert not provider.billing_hold
    assert decide(provider=provider, mid=MID).allowed


def test_a_refused_card_is_reported_and_the_invoice_stays_open(client, provider, localstripe):
    with_card(provider, "pm_card_chargeCustomerFail")
    invoice = issued(provider)
    signed_in(client, provider, MembershipRole.ADMIN)

    response = pay_now(client, invoice)

    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.OPEN
    assert Payment.objects.get(invoice=invoice).status == PaymentStatus.FAILED
    page = response.content.decode()
    assert "Your card was not charged" in page
    assert "Add another card on the Payment methods page" in page
    # The failed attempt is listed with Stripe's reason.
    assert "Failed" in page


def test_a_second_click_charges_nothing_twice(client, provider, localstripe):
    with_card(provider)
    invoice = issued(provider)
    signed_in(client, provider)

    pay_now(client, invoice, submission="same-token")
    response = pay_now(client, invoice, submission="same-token")

    assert Payment.objects.filter(invoice=invoice).count() == 1
    assert "Your first click already started this payment." in response.content.decode()


def test_pay_now_on_a_paid_invoice_charges_nothing(client, provider, localstripe):
    with_card(provider)
    invoice = issued(provider)
    signed_in(client, provider)
    pay_now(client, invoice, submission="one")

    response = pay_now(client, invoice, submission="two")

    assert Payment.objects.filter(invoice=invoice).count() == 1
    assert "No payment was made" in response.content.decode()


def test_pay_now_without_a_card_charges_nothing(client, provider, localstripe):
    invoice = issued(provider)
    signed_in(client, provider)

    response = pay_now(client, invoice)

    assert not Payment.objects.exists()
    assert "No payment was made: No card is on file." in response.content.decode()


def test_pay_now_is_a_post(client, provider):
    invoice = issued(provider)
    signed_in(client, provider)

    response = client.get(reverse("billing:invoice_pay", args=[invoice.pk]))

    assert response.status_code == 302
    assert response["Location"] == reverse("billing:invoice", args=[invoice.pk])
    assert not Payment.objects.exists()


def test_a_pay_now_without_its_token_charges_nothing(client, provider):
    from tests.factories import BillingAccountFactory

    BillingAccountFactory(provider=provider)
    invoice = issued(provider)
    signed_in(client, provider)

    response = client.post(reverse("billing:invoice_pay", args=[invoice.pk]), {})

    assert response.status_code == 200
    assert "This form was sent incomplete" in response.content.decode()
    assert not Payment.objects.exists()

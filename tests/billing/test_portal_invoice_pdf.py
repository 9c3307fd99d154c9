"""The invoice PDF: a real PDF (reportlab, uncompressed, so its text is in the bytes) with the
number, provider, period, lines, totals, status and how to pay; an attachment nobody caches."""

from datetime import date

import pytest
from django.urls import reverse

from accounts.constants import MembershipRole
from billing.constants import PaymentMethodKind
from billing.pdf import invoice_pdf
from billing.selectors import provider_invoice
from billing.services.invoices import credit_note_create, payment_record_offline
from tests.agreements.test_agreement_pdf import PAGE, pdf_text
from tests.billing.portal_helpers import issued, signed_in
from tests.factories import BillingAccountFactory, ProviderFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def provider():
    return ProviderFactory(
        legal_name="Parcel Insights LLC", crid="31415926", address_line1="1 Main St"
    )


def download(client, invoice):
    return client.get(reverse("billing:invoice_pdf", args=[invoice.pk]))


def test_the_pdf_is_an_attachment_with_the_number_in_its_name(client, provider):
    invoice = issued(provider)
    signed_in(client, provider, MembershipRole.BILLING)

    response = download(client, invoice)

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == (
        f'attachment; filename="invoice-{invoice.number.lower()}.pdf"'
    )
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "no-store" in response["Cache-Control"]
    assert response.content.startswith(b"%PDF-") and response.content.rstrip().endswith(b"%%EOF")
    assert len(PAGE.findall(response.content)) == 1


def test_the_pdf_says_what_the_invoice_page_says(client, provider, settings):
    settings.BILLING_REMIT_TO = "USPS Finance, PO Box 1, Washington, DC 20260"
    invoice = issued(provider, period=date(2026, 10, 1), total_cents=56_667, overage_cents=650)
    credit_note_create(invoice=invoice, amount_cents=1_000, reason="Outage <Nov 3>", actor=None)
    payment_record_offline(
        invoice=invoice,
        amount_cents=20_000,
        method=PaymentMethodKind.WIRE,
        reference="FED-77",
        actor=None,
    )
    BillingAccountFactory(provider=provider, card_brand="visa", card_last4="4242")
    signed_in(client, provider, MembershipRole.OWNER)

    text = pdf_text(download(client, invoice).content)

    for expected in (
        f"Invoice {invoice.number}",
        "Parcel Insights LLC",
        "31415926",
        "October 2026",
        f"{invoice.issued_on:%Y-%m-%d}",
        f"{invoice.due_on:%Y-%m-%d}",
        "Open",
        "Monthly access fee, November 2026",
        "$566.67",
        "13 started thousands",
        "$573.17",  # total
        "-$10.00",
        "Wire transfer (FED-77)",
        "-$200.00",
        "$363.17",  # amount due
        "Visa ending 4242",
        "USPS Finance, PO Box 1, Washington, DC 20260",
    ):
        assert expected in text, expected
    # Typed text is escaped, not parsed as reportlab markup (drawn in pieces around "<").
    assert "Outage<Nov3>" in "".join(text.split())


def test_a_paid_invoice_pdf_says_paid_and_gives_no_payment_instructions(provider):
    invoice = issued(provider, total_cents=10_000)
    payment_record_offline(
        invoice=invoice,
        amount_cents=10_000,
        method=PaymentMethodKind.CHECK,
        reference="Check 9",
        actor=None,
    )
    loaded = provider_invoice(provider=provider, invoice_id=invoice.pk)

    text = pdf_text(invoice_pdf(invoice=loaded, account=None))

    assert "Paid in full" in text
    assert "How to pay" not in text

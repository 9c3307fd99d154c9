"""The provider's invoice pages: the list (overdue highlighted), the detail (lines with their
computation, credit notes, payments, totals, how to pay), for every role, with drafts hidden
and another tenant's ids a 404 on every URL and method, nothing changed."""

from datetime import date

import pytest
from django.urls import reverse

from accounts.constants import MembershipRole, ProviderType
from accounts.services.providers import provider_billing_hold_set
from billing.constants import InvoiceStatus, PaymentMethodKind
from billing.models import Invoice, Payment
from billing.services.invoices import (
    credit_note_create,
    invoice_void,
    payment_record_offline,
)
from tests.billing.portal_helpers import (
    FEE_COMPUTATION,
    draft,
    issued,
    overdue,
    signed_in,
)
from tests.factories import BillingAccountFactory, ProviderFactory, UserFactory

pytestmark = pytest.mark.django_db

BILLING_ROLES = [MembershipRole.OWNER, MembershipRole.ADMIN, MembershipRole.BILLING]
METHODS = ["get", "post", "put", "patch", "delete", "head", "options"]


@pytest.fixture
def provider():
    return ProviderFactory(
        legal_name="Parcel Insights LLC", provider_type=ProviderType.SERVICE_PROVIDER
    )


@pytest.fixture
def stranger_invoice():
    return issued(ProviderFactory(legal_name="Stranger Freight LLC"), total_cents=77_700)


def invoice_urls(invoice) -> dict[str, str]:
    return {
        "detail": reverse("billing:invoice", args=[invoice.pk]),
        "pdf": reverse("billing:invoice_pdf", args=[invoice.pk]),
        "pay": reverse("billing:invoice_pay", args=[invoice.pk]),
    }


@pytest.mark.parametrize("role", BILLING_ROLES)
def test_billing_members_see_the_pages(client, provider, role):
    invoice = issued(provider)
    signed_in(client, provider, role)

    pages = [
        reverse("billing:invoices"),
        reverse("billing:invoice", args=[invoice.pk]),
        reverse("billing:invoice_pdf", args=[invoice.pk]),
        reverse("billing:payment_methods"),
    ]

    assert {url: client.get(url).status_code for url in pages} == {url: 200 for url in pages}


def test_a_developer_is_refused_every_billing_page(client, provider):
    invoice = issued(provider)
    signed_in(client, provider, MembershipRole.DEVELOPER)
    urls = [
        reverse("billing:invoices"),
        reverse("billing:payment_methods"),
        reverse("billing:card_add"),
        *invoice_urls(invoice).values(),
    ]

    statuses = {url: client.get(url).status_code for url in urls}
    pay = client.post(reverse("billing:invoice_pay", args=[invoice.pk]), {"submission": "x"})
    add = client.post(reverse("billing:card_add"), {"payment_method_id": "pm_x", "submission": "x"})

    assert statuses == {url: 403 for url in urls}
    assert (pay.status_code, add.status_code) == (403, 403)
    assert not Payment.objects.exists()


def test_the_billing_link_is_in_the_navigation_for_those_who_see_invoices(client, provider):
    link = f'href="{reverse("billing:invoices")}"'

    signed_in(client, provider, MembershipRole.BILLING)
    billing_page = client.get(reverse("agreements:dashboard")).content.decode()
    signed_in(client, provider, MembershipRole.DEVELOPER)
    developer_page = client.get(reverse("agreements:dashboard")).content.decode()

    assert link in billing_page and ">Billing</a>" in billing_page
    assert link not in developer_page


def test_the_list_shows_issued_invoices_newest_first_with_overdue_ones_marked(client, provider):
    older = overdue(issued(provider, period=date(2026, 8, 1), total_cents=100_000), days=3)
    paid = issued(provider, period=date(2026, 9, 1), total_cents=90_000)
    payment_record_offline(
        invoice=paid,
        amount_cents=90_000,
        method=PaymentMethodKind.WIRE,
        reference="FED-REF-1",
        actor=None,
    )
    current = issued(provider, period=date(2026, 10, 1), total_cents=56_667)
    signed_in(client, provider)

    response = client.get(reverse("billing:invoices"))
    page = response.content.decode()

    assert [i.number for i in response.context["invoices"]] == [
        current.number,
        paid.number,
        older.number,
    ]
    assert [i.overdue for i in response.context["invoices"]] == [False, False, True]
    for text in ("October 2026", "$566.67", f"{current.due_on:%Y-%m-%d}", "Paid", "$1,000.00"):
        assert text in page
    assert page.count('class="portal-overdue"') == 1
    assert "1 invoice is overdue" in page


def test_drafts_are_never_shown_and_answer_404(client, provider):
    hidden = draft(provider, period=date(2026, 10, 1))
    voided_draft = draft(provider, period=date(2026, 9, 1))
    invoice_void(invoice=voided_draft, actor=None, reason="Issued by mistake")
    signed_in(client, provider, MembershipRole.OWNER)

    listed = client.get(reverse("billing:invoices")).context["invoices"]
    statuses = {
        (name, invoice.pk): client.get(url).status_code
        for invoice in (hidden, voided_draft)
        for name, url in invoice_urls(invoice).items()
    }

    assert listed == []
    assert set(statuses.values()) == {404}


@pytest.mark.parametrize("method", METHODS)
def test_another_providers_invoice_is_a_404_on_every_url_and_method(
    client, provider, stranger_invoice, method
):
    signed_in(client, provider, MembershipRole.OWNER)
    BillingAccountFactory(provider=stranger_invoice.provider)

    statuses = {
        name: getattr(client, method)(url).status_code
        for name, url in invoice_urls(stranger_invoice).items()
    }

    assert statuses == {"detail": 404, "pdf": 404, "pay": 404}
    stranger_invoice.refresh_from_db()
    assert stranger_invoice.status == InvoiceStatus.OPEN
    assert not Payment.objects.exists()


def test_another_providers_invoice_is_not_listed(client, provider, stranger_invoice):
    issued(provider)
    signed_in(client, provider)

    page = client.get(reverse("billing:invoices")).content.decode()

    assert stranger_invoice.number not in page and "$777.00" not in page


def test_the_detail_shows_lines_credits_payments_totals_and_how_to_pay(client, provider, settings):
    settings.BILLING_REMIT_TO = "USPS Finance, PO Box 1, Washington, DC 20260"
    invoice = issued(provider, total_cents=56_667, overage_cents=650)
    credit_note_create(
        invoice=invoice, amount_cents=1_000, reason="Outage on November 3", actor=None
    )
    payment_record_offline(
        invoice=invoice,
        amount_cents=20_000,
        method=PaymentMethodKind.CHECK,
        reference="Check 1042",
        actor=None,
    )
    signed_in(client, provider)

    response = client.get(reverse("billing:invoice", args=[invoice.pk]))
    page = response.content.decode()

    assert response.status_code == 200
    for text in (
        invoice.number,
        "Monthly access fee, November 2026",
        "$1,000.00 × 17/30 days (Nov 14–30, 2026) = $566.67",
        "13 started thousands × $0.50",
        "$6.50",
        "$573.17",  # total
        "Outage on November 3",
        "−$10.00",
        "Check (Check 1042)",
        "$200.00",
        "$363.17",  # due: 573.17 - 10.00 - 200.00
        "USPS Finance, PO Box 1, Washington, DC 20260",
        f"due by {invoice.due_on:%Y-%m-%d}",
    ):
        assert text in page, text
    assert FEE_COMPUTATION in [line.computation for line in response.context["lines"]]
    # No card on file: the page says how to add one, and offers no "pay now".
    assert reverse("billing:card_add") in page
    assert reverse("billing:invoice_pay", args=[invoice.pk]) not in page


def test_pay_now_is_offered_only_with_a_card_and_the_permission(client, provider):
    invoice = issued(provider)
    BillingAccountFactory(provider=provider, card_brand="visa", card_last4="4242")
    pay_url = reverse("billing:invoice_pay", args=[invoice.pk])

    signed_in(client, provider, MembershipRole.BILLING)
    page = client.get(reverse("billing:invoice", args=[invoice.pk])).content.decode()

    assert pay_url in page
    assert "Visa ending 4242 is charged automatically" in page
    assert "3, 5 and 7 days after the first refusal" in page


def test_a_paid_invoice_shows_no_way_to_pay(client, provider):
    invoice = issued(provider, total_cents=10_000)
    payment_record_offline(
        invoice=invoice,
        amount_cents=10_000,
        method=PaymentMethodKind.WIRE,
        reference="W1",
        actor=None,
    )
    BillingAccountFactory(provider=provider)
    signed_in(client, provider)

    response = client.get(reverse("billing:invoice", args=[invoice.pk]))
    page = response.content.decode()

    assert Invoice.objects.get(pk=invoice.pk).status == InvoiceStatus.PAID
    assert "Paid in full" in page
    assert "How to pay" not in page
    assert reverse("billing:invoice_pay", args=[invoice.pk]) not in page


def test_an_overdue_invoice_and_a_billing_hold_are_explained(client, provider):
    invoice = overdue(issued(provider), days=20)
    provider_billing_hold_set(
        provider=provider,
        reason=f"Invoice {invoice.number} is unpaid 20 days after its due date.",
        actor=None,
    )
    signed_in(client, provider)

    page = client.get(reverse("billing:invoice", args=[invoice.pk])).content.decode()

    assert f"overdue since {invoice.due_on:%Y-%m-%d}" in page
    assert "Tracking data is not served: billing hold" in page
    assert f"Invoice {invoice.number} is unpaid 20 days after its due date." in page


def test_the_invoice_list_stays_within_a_query_budget(
    client, provider, django_assert_max_num_queries
):
    for month in range(1, 9):
        issued(provider, period=date(2026, month, 1))
    signed_in(client, provider)
    client.get(reverse("billing:invoices"))

    with django_assert_max_num_queries(8):
        response = client.get(reverse("billing:invoices"))

    assert len(response.context["invoices"]) == 8


def test_someone_without_a_provider_is_sent_to_create_one(client):
    client.force_login(UserFactory())

    response = client.get(reverse("billing:invoices"))

    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:organisation_create")


def test_anonymous_people_are_sent_to_sign_in(client, provider):
    invoice = issued(provider)
    urls = [
        reverse("billing:invoices"),
        reverse("billing:payment_methods"),
        reverse("billing:card_add"),
        *invoice_urls(invoice).values(),
    ]

    locations = {url: client.get(url)["Location"] for url in urls}

    assert all(location.startswith(reverse("account_login")) for location in locations.values())

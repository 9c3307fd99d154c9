"""Billing in a real browser, against the real localstripe and its fake Stripe.js: a BILLING
member finds an open invoice, adds a card by typing 4242 4242 4242 4242 into the Stripe.js card
field (the number goes from the browser to Stripe, never to the portal), sees it on file, pays
the invoice with "Pay now" and sees it PAID; the next invoice is charged to the card by the
collection task. axe-core finds no serious violation, and nothing is wider than a phone.
Screenshots go to artifacts/<test name>/."""

import re
from datetime import date

import pytest
from playwright.sync_api import Page, expect

from accounts.constants import MembershipRole
from billing.constants import InvoiceStatus
from billing.models import BillingAccount, Invoice
from billing.tasks import charge_invoice
from tests.billing.portal_helpers import draft, issued
from tests.browser.conftest import serious_accessibility_violations
from tests.factories import MembershipFactory
from tests.tracking.api_helpers import allowed_provider

pytestmark = pytest.mark.django_db(transaction=True)

PHONE = {"width": 375, "height": 800}


def signed_in(page: Page, client, live_server, user) -> None:
    client.force_login(user)
    page.context.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}]
    )


def fits_a_phone(page: Page) -> bool:
    return page.evaluate("() => document.documentElement.scrollWidth") <= PHONE["width"]


def type_card(page: Page, number: str) -> None:
    """Type into the card field the way a person does. localstripe's fake draws plain inputs
    named by their placeholders; real Stripe.js draws them in an iframe."""
    field = page.locator("#card-element")
    field.get_by_placeholder("number").press_sequentially(number)
    field.get_by_placeholder("exp_month").fill("12")
    field.get_by_placeholder("exp_year").fill("34")
    field.get_by_placeholder("cvc").fill("123")
    field.get_by_placeholder("postal_code").fill("20260")


@pytest.fixture
def billing_member(localstripe):
    provider = allowed_provider(legal_name="Parcel Insights LLC")
    membership = MembershipFactory(provider=provider, role=MembershipRole.BILLING)
    return membership.user, provider


def test_a_billing_member_adds_a_card_and_pays_an_invoice(
    live_server, page, client, shot, billing_member
):
    user, provider = billing_member
    invoice = issued(provider, period=date(2026, 10, 1), total_cents=56_667)
    signed_in(page, client, live_server, user)
    found = {}

    page.goto(f"{live_server.url}/dashboard/")
    page.get_by_role("navigation", name="Side navigation").get_by_role(
        "link", name="Billing"
    ).click()
    expect(page.get_by_role("heading", name="Invoices", level=1)).to_be_visible()
    row = page.get_by_role("row", name=re.compile(invoice.number))
    expect(row).to_contain_text("Open")
    expect(row).to_contain_text("$566.67")
    shot("invoices-open")
    found["invoices"] = serious_accessibility_violations(page)

    page.get_by_role("link", name="Payment methods").click()
    expect(page.get_by_text("No card is on file.")).to_be_visible()
    page.get_by_role("link", name="Add a card").click()
    expect(page.get_by_role("heading", name="Add a card", level=1)).to_be_visible()
    expect(page.get_by_role("button", name="Save the card")).to_be_enabled()
    found["add a card"] = serious_accessibility_violations(page)

    # A declined card: Stripe says so on the page, nothing is saved.
    type_card(page, "4000000000000002")
    page.get_by_role("button", name="Save the card").click()
    expect(page.get_by_role("alert")).to_contain_text("Your card was declined.")
    shot("card-declined")
    assert BillingAccount.objects.get(provider=provider).default_payment_method_id == ""

    page.reload()
    type_card(page, "4242424242424242")
    shot("card-typed")
    page.get_by_role("button", name="Save the card").click()
    expect(page.get_by_text("Your Visa ending 4242 is saved")).to_be_visible()
    on_file = page.locator("#card-on-file")
    expect(on_file).to_contain_text("Visa ending 4242")
    expect(on_file).to_contain_text("Expires 12/2034")
    shot("card-on-file")
    found["payment methods"] = serious_accessibility_violations(page)
    account = BillingAccount.objects.get(provider=provider)
    assert (account.card_brand, account.card_last4) == ("visa", "4242")
    assert account.default_payment_method_id.startswith("pm_")

    page.goto(f"{live_server.url}/billing/invoices/")
    page.get_by_role("link", name=invoice.number).click()
    expect(page.get_by_text("Visa ending 4242 is charged automatically")).to_be_visible()
    shot("invoice-open")
    found["invoice"] = serious_accessibility_violations(page)
    page.get_by_role("button", name="Pay $566.67 now").click()
    expect(page.get_by_text("Thank you: $566.67 was charged to your card.")).to_be_visible()
    expect(page.get_by_role("heading", name=re.compile("Paid in full"))).to_be_visible()
    expect(page.locator("#payments-table")).to_contain_text("Succeeded")
    shot("invoice-paid")
    assert Invoice.objects.get(pk=invoice.pk).status == InvoiceStatus.PAID

    # Finance approves next month's invoice: the collection task charges the card on file.
    november = issued(provider, period=date(2026, 11, 1), total_cents=100_000)
    charge_invoice(november.pk)
    page.goto(f"{live_server.url}/billing/invoices/")
    expect(page.get_by_role("row", name=re.compile(november.number))).to_contain_text("Paid")
    shot("next-invoice-paid-automatically")

    assert {name: v for name, v in found.items() if v} == {}


def test_the_billing_pages_fit_a_phone_and_have_no_serious_violations(
    live_server, page, client, shot, billing_member
):
    user, provider = billing_member
    invoice = issued(provider, total_cents=56_667, overage_cents=650)
    draft(provider, period=date(2026, 11, 1))  # never shown
    signed_in(page, client, live_server, user)
    page.set_viewport_size(PHONE)
    found, overflowing = {}, {}

    for name, path in {
        "invoices": "/billing/invoices/",
        "invoice": f"/billing/invoices/{invoice.pk}/",
        "payment methods": "/billing/payment-methods/",
        "add a card": "/billing/payment-methods/add/",
    }.items():
        page.goto(f"{live_server.url}{path}")
        if name == "add a card":
            expect(page.get_by_role("button", name="Save the card")).to_be_enabled()
        shot(f"{name.replace(' ', '-')}-phone")
        found[name] = serious_accessibility_violations(page)
        overflowing[name] = fits_a_phone(page)

    assert {name: v for name, v in found.items() if v} == {}
    assert {name for name, fits in overflowing.items() if not fits} == set()

"""seed_demo's billing part: fee schedules, the demo card on localstripe, a paid, an open and an
overdue invoice made by the real services, the billing hold it causes, and what --json and the
human output say about them. Idempotence is covered with everything else in
test_seed_demo.py (a second run changes no row of any table, billing's included)."""

import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse

from accounts.models import Provider, User
from agreements.constants import ReasonCode
from agreements.decision import decide
from billing.constants import InvoiceStatus, PaymentMethodKind, PaymentStatus
from billing.models import BillingAccount, FeeSchedule, Invoice
from billing.selectors import billing_today

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("staff_groups")]


def run_seed(*args: str) -> str:
    out = StringIO()
    call_command("seed_demo", *args, stdout=out)
    return out.getvalue()


def seeded(*args: str) -> dict:
    return json.loads(run_seed("--json", *args))["billing"]


def test_the_fee_schedules_service_providers_pay_and_others_are_free(localstripe):
    billing = seeded()

    assert [
        (s["provider_type"], s["monthly_fee"], s["included_calls"], s["overage_cents_per_1000"])
        for s in billing["fee_schedules"]
    ] == [
        ("SERVICE_PROVIDER", "$1,000.00", 100_000, 50),
        ("SHIPPER", "$0.00", None, 0),
        ("PLATFORM", "$0.00", None, 0),
    ]
    assert FeeSchedule.objects.count() == 3


def test_parcel_insights_has_the_demo_card_and_a_paid_and_an_open_invoice(localstripe):
    billing = seeded()

    insights = Provider.objects.get(legal_name="Parcel Insights LLC")
    account = BillingAccount.objects.get(provider=insights)
    assert billing["card"] == {
        "provider": "Parcel Insights LLC",
        "stripe_customer_id": account.stripe_customer_id,
        "payment_method_id": account.default_payment_method_id,
        "brand": "visa",
        "last4": "4242",
        "exp_month": account.card_exp_month,
        "exp_year": account.card_exp_year,
        "created": True,
    }
    invoices = {i["demo_state"]: i for i in billing["invoices"]}
    paid, open_ = invoices["paid"], invoices["open"]
    assert (paid["provider"], paid["status"]) == ("Parcel Insights LLC", "PAID")
    assert (open_["provider"], open_["status"], open_["overdue"]) == (
        "Parcel Insights LLC",
        "OPEN",
        False,
    )
    assert open_["period"] > paid["period"]
    assert open_["amount_due_cents"] == open_["total_cents"] == 100_000
    # Paid by card: a real PaymentIntent on localstripe, through "pay now".
    payment = Invoice.objects.get(number=paid["number"]).payments.get()
    assert (payment.method, payment.status) == (PaymentMethodKind.CARD, PaymentStatus.SUCCEEDED)
    assert payment.stripe_payment_intent_id.startswith("pi_")
    # The open one was approved before the card existed: nothing was charged on it.
    assert not Invoice.objects.get(number=open_["number"]).payments.exists()


def test_route_metrics_is_on_billing_hold_for_an_invoice_past_the_grace_period(
    localstripe, settings
):
    billing = seeded()

    overdue = next(i for i in billing["invoices"] if i["demo_state"] == "overdue")
    invoice = Invoice.objects.get(number=overdue["number"])
    metrics = Provider.objects.get(legal_name="Route Metrics LLC")
    assert (overdue["provider"], overdue["status"], overdue["overdue"]) == (
        "Route Metrics LLC",
        "OPEN",
        True,
    )
    assert (billing_today() - invoice.due_on).days > settings.BILLING_GRACE_DAYS
    assert metrics.billing_hold
    assert billing["billing_holds"] == [
        {"provider": "Route Metrics LLC", "reason": metrics.billing_hold_reason}
    ]
    assert invoice.number in metrics.billing_hold_reason
    assert ReasonCode.BILLING_HOLD in decide(provider=metrics, mid="612345").reason_codes


def test_without_stripe_there_is_no_card_and_the_paid_invoice_was_wired(settings):
    settings.STRIPE_API_BASE = "http://127.0.0.1:9"  # nothing listens there

    billing = seeded()

    assert billing["card"] is None
    assert "Start localstripe and run seed_demo again." in billing["card_note"]
    paid = next(i for i in billing["invoices"] if i["demo_state"] == "paid")
    payment = Invoice.objects.get(number=paid["number"]).payments.get()
    assert (paid["status"], payment.method) == (InvoiceStatus.PAID, PaymentMethodKind.WIRE)


def test_a_later_run_with_stripe_adds_the_card(settings, localstripe):
    base = settings.STRIPE_API_BASE
    settings.STRIPE_API_BASE = "http://127.0.0.1:9"
    seeded()
    settings.STRIPE_API_BASE = base

    billing = seeded()

    assert billing["card"]["last4"] == "4242" and billing["card"]["created"]
    assert [i["status"] for i in billing["invoices"]] == ["PAID", "OPEN", "OPEN"]


def test_the_demo_owners_see_their_invoices_in_the_portal(client, localstripe):
    billing = seeded()
    numbers = {i["demo_state"]: i["number"] for i in billing["invoices"]}

    client.force_login(User.objects.get(email="owner@parcelinsights.example"))
    insights_page = client.get(reverse("billing:invoices")).content.decode()
    client.force_login(User.objects.get(email="owner@routemetrics.example"))
    metrics_page = client.get(reverse("billing:invoices")).content.decode()

    assert numbers["paid"] in insights_page and numbers["open"] in insights_page
    assert numbers["overdue"] not in insights_page
    assert numbers["overdue"] in metrics_page
    assert "Tracking data is not served: billing hold" in metrics_page


def test_the_human_output_lists_the_billing_demo(localstripe):
    run_seed()
    numbers = list(Invoice.objects.order_by("number").values_list("number", flat=True))

    out = run_seed()

    assert "Billing:" in out
    assert "SERVICE_PROVIDER" in out and "$1,000.00/month" in out
    assert "visa ending 4242" in out
    for number in numbers:
        assert number in out
    assert "Route Metrics LLC is on billing hold" in out

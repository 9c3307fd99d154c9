"""Payment methods: the card on file, and adding one with Stripe.js and a SetupIntent against
localstripe. The browser's part (confirmCardSetup) is done over HTTP exactly as localstripe's
fake Stripe.js does it; the Playwright journey runs the real page."""

import json
import re

import pytest
from django.urls import reverse

from accounts.constants import MembershipRole
from billing.models import BillingAccount
from billing.services.collection import payment_method_attached, setup_intent_create
from core.models import AuditEntry
from tests.billing.portal_helpers import confirm_setup_intent, signed_in
from tests.factories import BillingAccountFactory, ProviderFactory

pytestmark = pytest.mark.django_db

SETUP_DATA = re.compile(r'<script id="card-setup-data" type="application/json">(.*?)</script>')


@pytest.fixture
def provider():
    return ProviderFactory(legal_name="Parcel Insights LLC")


def setup_data(response) -> dict:
    match = SETUP_DATA.search(response.content.decode())
    assert match, "the page carries the SetupIntent for card-setup.js"
    return json.loads(match.group(1))


def submission(response) -> str:
    return response.context["form"]["submission"].value()


def test_no_card_yet(client, provider):
    signed_in(client, provider, MembershipRole.BILLING)

    page = client.get(reverse("billing:payment_methods")).content.decode()

    assert "No card is on file." in page
    assert reverse("billing:card_add") in page


def test_the_card_on_file_is_shown_without_its_number(client, provider):
    BillingAccountFactory(
        provider=provider,
        card_brand="visa",
        card_last4="4242",
        card_exp_month=3,
        card_exp_year=2031,
    )
    signed_in(client, provider, MembershipRole.BILLING)

    page = client.get(reverse("billing:payment_methods")).content.decode()

    assert "Visa ending 4242" in page
    assert "Expires 03/2031" in page
    assert "Replace the card" in page


def test_the_add_card_page_carries_a_setup_intent_and_loads_stripe_js(
    client, provider, localstripe, settings
):
    signed_in(client, provider, MembershipRole.BILLING)

    response = client.get(reverse("billing:card_add"))
    page = response.content.decode()

    data = setup_data(response)
    assert response.status_code == 200
    assert data["publishableKey"] == settings.STRIPE_PUBLISHABLE_KEY
    assert re.match(r"^seti_\w+_secret_\w+$", data["clientSecret"])
    assert f'<script src="{settings.STRIPE_JS_URL}" defer></script>' in page
    assert "billing/card-setup.js" in page
    # No inline script: the data is JSON, the code a static file (CSP-friendly).
    assert re.findall(r"<script(?![^>]*(?:src=|type=\"application/json\"))", page) == []
    assert "no-store" in response["Cache-Control"]
    # The provider got its Stripe customer on the way.
    assert BillingAccount.objects.get(provider=provider).stripe_customer_id.startswith("cus_")


def test_a_card_confirmed_by_stripe_js_becomes_the_card_on_file(client, provider, localstripe):
    signed_in(client, provider, MembershipRole.BILLING)
    form_page = client.get(reverse("billing:card_add"))
    confirmed = confirm_setup_intent(setup_data(form_page)["clientSecret"])
    assert confirmed["status"] == "succeeded"

    response = client.post(
        reverse("billing:card_add"),
        {"payment_method_id": confirmed["payment_method"], "submission": submission(form_page)},
        follow=True,
    )

    account = BillingAccount.objects.get(provider=provider)
    assert account.default_payment_method_id == confirmed["payment_method"]
    assert (account.card_brand, account.card_last4) == ("visa", "4242")
    assert (account.card_exp_month, account.card_exp_year) == (12, 2034)
    page = response.content.decode()
    assert "Your Visa ending 4242 is saved" in page
    assert "Visa ending 4242" in page
    assert AuditEntry.objects.filter(action="payment_method_set", provider_id=provider.pk).exists()
    dashboard = client.get(reverse("agreements:dashboard"))
    steps = {step.title: step.state for step in dashboard.context["steps"]}
    assert steps["Payment method"] == "done"


def test_a_declined_card_never_reaches_the_server_and_nothing_changes(
    client, provider, localstripe
):
    signed_in(client, provider, MembershipRole.OWNER)
    form_page = client.get(reverse("billing:card_add"))

    refused = confirm_setup_intent(setup_data(form_page)["clientSecret"], number="4000000000000002")

    assert refused["error"]["message"] == "Your card was declined."
    assert BillingAccount.objects.get(provider=provider).default_payment_method_id == ""


def test_a_posted_id_that_is_no_payment_method_is_refused(client, provider, localstripe):
    signed_in(client, provider, MembershipRole.BILLING)
    form_page = client.get(reverse("billing:card_add"))

    response = client.post(
        reverse("billing:card_add"),
        {"payment_method_id": "4242424242424242", "submission": submission(form_page)},
    )

    assert response.status_code == 400
    assert "The card form sent no card. Enter the card again." in response.content.decode()
    assert BillingAccount.objects.get(provider=provider).default_payment_method_id == ""


def test_another_customers_card_is_refused_with_a_clear_message(client, provider, localstripe):
    stranger = ProviderFactory(legal_name="Stranger Freight LLC")
    theirs = confirm_setup_intent(setup_intent_create(provider=stranger))["payment_method"]
    payment_method_attached(provider=stranger, payment_method_id=theirs)
    signed_in(client, provider, MembershipRole.BILLING)
    form_page = client.get(reverse("billing:card_add"))

    response = client.post(
        reverse("billing:card_add"),
        {"payment_method_id": theirs, "submission": submission(form_page)},
    )

    assert response.status_code == 400
    assert "The card could not be saved" in response.content.decode()
    assert "belongs to another Stripe customer" in response.content.decode()
    assert BillingAccount.objects.get(provider=provider).default_payment_method_id == ""
    # A new SetupIntent is on the page, so the person can try another card at once.
    assert setup_data(response)["clientSecret"] != setup_data(form_page)["clientSecret"]


def test_when_stripe_is_down_the_page_says_so_and_the_card_on_file_still_shows(
    client, provider, settings
):
    BillingAccountFactory(provider=provider, card_last4="4242")
    # A port nothing listens on: a real connection refusal, no mock.
    settings.STRIPE_API_BASE = "http://127.0.0.1:9"
    signed_in(client, provider, MembershipRole.BILLING)

    add = client.get(reverse("billing:card_add"))
    methods = client.get(reverse("billing:payment_methods"))

    assert add.status_code == 503
    assert "The payment service is unavailable" in add.content.decode()
    assert "card-setup-data" not in add.content.decode()
    assert methods.status_code == 200
    assert "ending 4242" in methods.content.decode()

"""The dashboard: onboarding checklist, access panel from `decide`, tracking-number check."""

import pytest
from django.urls import reverse

from accounts.constants import MembershipRole, ProviderStatus, ProviderType
from agreements.constants import AgreementStatus, MidLinkStatus
from core.tracking_numbers import make_impb
from tests.factories import (
    AgreementFactory,
    AgreementVersionFactory,
    MembershipFactory,
    MidLinkFactory,
    ProviderFactory,
)

pytestmark = pytest.mark.django_db

MID = "901234567"
AMBIGUOUS = "4202026093009312345123456789012340"


@pytest.fixture
def member(client):
    provider = ProviderFactory(provider_type=ProviderType.SERVICE_PROVIDER)
    AgreementFactory(provider=provider, version=AgreementVersionFactory())
    MidLinkFactory(provider=provider, mid=MID)
    membership = MembershipFactory(provider=provider, role=MembershipRole.DEVELOPER)
    client.force_login(membership.user)
    return membership


def steps(response):
    return {step.title: step.state for step in response.context["steps"]}


def test_a_new_pending_provider_sees_what_is_left_to_do(client):
    membership = MembershipFactory(provider=ProviderFactory(status=ProviderStatus.PENDING_REVIEW))
    client.force_login(membership.user)

    response = client.get(reverse("agreements:dashboard"))

    assert steps(response) == {
        "Organisation": "pending",
        "IP agreement signed": "todo",
        "IP agreement approved": "todo",
        "Mailer IDs verified": "todo",
        "API credentials": "todo",
        "Payment method": "todo",
    }
    assert response.context["rows"] == []


def test_steps_follow_the_records(client):
    provider = ProviderFactory(provider_type=ProviderType.SHIPPER)
    AgreementFactory(provider=provider, status=AgreementStatus.SUBMITTED)
    MidLinkFactory(provider=provider, status=MidLinkStatus.REQUESTED)
    client.force_login(MembershipFactory(provider=provider).user)

    response = client.get(reverse("agreements:dashboard"))

    assert steps(response) == {
        "Organisation": "done",
        "IP agreement signed": "done",
        "IP agreement approved": "pending",
        "Mailer IDs verified": "pending",
        "API credentials": "todo",
        "Payment method": "not_needed",
    }


def test_the_credentials_step_is_done_once_an_app_holds_credentials(client):
    from tracking.services.apps import app_create

    provider = ProviderFactory()
    client.force_login(MembershipFactory(provider=provider).user)
    app_create(provider=provider, name="Reporting", actor=None)

    response = client.get(reverse("agreements:dashboard"))

    assert steps(response)["API credentials"] == "done"


@pytest.mark.parametrize(
    ("provider_type", "fee_cents", "state"),
    [
        (ProviderType.SERVICE_PROVIDER, None, "todo"),  # no schedule yet: the default, paid
        (ProviderType.SHIPPER, None, "not_needed"),
        (ProviderType.PLATFORM, 0, "not_needed"),
        (ProviderType.SHIPPER, 2500, "todo"),  # finance made shippers pay
        (ProviderType.SERVICE_PROVIDER, 0, "not_needed"),  # and service providers free
    ],
)
def test_the_payment_step_follows_the_fee_schedule_in_effect(
    client, provider_type, fee_cents, state
):
    from datetime import date

    from billing.models import FeeSchedule

    provider = ProviderFactory(provider_type=provider_type)
    client.force_login(MembershipFactory(provider=provider).user)
    if fee_cents is not None:
        FeeSchedule.objects.create(
            provider_type=provider_type,
            effective_from=date(2020, 1, 1),
            monthly_fee_cents=fee_cents,
        )
        # A later row not yet in effect changes nothing today.
        FeeSchedule.objects.create(
            provider_type=provider_type,
            effective_from=date(2999, 1, 1),
            monthly_fee_cents=0 if fee_cents else 100_000,
        )

    response = client.get(reverse("agreements:dashboard"))

    assert steps(response)["Payment method"] == state


def test_the_payment_step_is_done_once_a_card_is_on_file(client):
    from billing.models import BillingAccount

    provider = ProviderFactory(provider_type=ProviderType.SERVICE_PROVIDER)
    client.force_login(MembershipFactory(provider=provider).user)
    account = BillingAccount.objects.create(provider=provider, stripe_customer_id="cus_demo1")

    assert steps(client.get(reverse("agreements:dashboard")))["Payment method"] == "todo"

    account.default_payment_method_id = "pm_demo1"
    account.save()
    response = client.get(reverse("agreements:dashboard"))

    assert steps(response)["Payment method"] == "done"
    assert reverse("billing:payment_methods") in response.content.decode()


def test_the_access_panel_shows_each_mid_with_the_decisions_reasons(client, member):
    MidLinkFactory(provider=member.provider, mid="123456", status=MidLinkStatus.REQUESTED)

    response = client.get(reverse("agreements:dashboard"))

    rows = {row.mid: row for row in response.context["rows"]}
    assert rows[MID].decision.allowed
    assert rows["123456"].decision.reason_codes == ["MID_NOT_AUTHORIZED"]
    assert rows["123456"].via == "owned (pending review)"
    page = response.content.decode()
    assert "1 of 2 Mailer IDs can be read today." in page
    assert "The provider is not authorized for this Mailer ID." in page


def test_the_access_panel_follows_a_billing_hold_at_once(client, member):
    from accounts import services

    assert client.get(reverse("agreements:dashboard")).context["rows"][0].decision.allowed
    services.provider_billing_hold_set(
        provider=member.provider, reason="Invoice 3 unpaid", actor=None
    )

    row = client.get(reverse("agreements:dashboard")).context["rows"][0]

    assert row.decision.reason_codes == ["BILLING_HOLD"]


@pytest.mark.parametrize(
    ("number", "allowed", "text"),
    [
        (make_impb(mid=MID, service_type_code="001", serial="1234567"), True, "Allowed"),
        (make_impb(mid="123456", service_type_code="001", serial="1234567890"), False, "Denied"),
        ("RB123456785US", False, "carries no shipper Mailer ID"),
    ],
)
def test_checking_a_tracking_number_explains_the_answer(client, member, number, allowed, text):
    response = client.get(reverse("agreements:dashboard"), {"number": number})

    assert response.context["checked"].allowed is allowed
    assert text in response.content.decode()


@pytest.mark.parametrize(
    ("number", "message"),
    [
        ("9400 1112 0620 6406 2607 88", "check digit is 8, expected 7"),
        (AMBIGUOUS, "Send the tracking number (PIC) without the 420 + ZIP routing prefix."),
        ("", "This field is required."),
    ],
)
def test_an_unreadable_tracking_number_is_a_field_error(client, member, number, message):
    response = client.get(reverse("agreements:dashboard"), {"number": number})

    assert message in " ".join(response.context["check_form"].errors["number"])
    assert 'id="check-result"' not in response.content.decode()


def test_the_dashboard_shows_nothing_of_another_provider(client, member):
    stranger = ProviderFactory(legal_name="Stranger Freight LLC")
    MidLinkFactory(provider=stranger, mid="555555")

    page = client.get(reverse("agreements:dashboard")).content.decode()

    assert "555555" not in page and "Stranger Freight" not in page


def test_the_dashboard_stays_within_a_query_budget(client, member, django_assert_max_num_queries):
    for n in range(5):
        MidLinkFactory(provider=member.provider, mid=f"12345{n}")
    client.get(reverse("agreements:dashboard"))  # warm the decision cache

    with django_assert_max_num_queries(12):
        client.get(reverse("agreements:dashboard"))


@pytest.mark.parametrize(
    ("role", "shown"), [(MembershipRole.OWNER, True), (MembershipRole.DEVELOPER, False)]
)
def test_an_owner_sees_consent_requests_waiting_for_it(client, role, shown):
    from agreements import services
    from agreements.constants import MidRelation

    shipper = ProviderFactory(provider_type=ProviderType.SHIPPER)
    MidLinkFactory(provider=shipper, mid=MID, relation=MidRelation.OWNED)
    platform = ProviderFactory(provider_type=ProviderType.PLATFORM)
    services.mid_link_request(
        provider=platform,
        mid=MID,
        relation=MidRelation.AUTHORIZED_BY_OWNER,
        requested_by=MembershipFactory(provider=platform).user,
    )
    client.force_login(MembershipFactory(provider=shipper, role=role).user)

    response = client.get(reverse("agreements:dashboard"))

    assert response.context["consent_requests_waiting"] == (1 if shown else 0)
    assert ("1 request to read your Mailer IDs" in response.content.decode()) is shown

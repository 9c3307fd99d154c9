"""Where a provider stands (accounts.standing): what its status lets it do, in plain words, with
the reason postal staff recorded for a suspension or closure."""

import ast
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from accounts import services
from accounts import standing as standing_module
from accounts.constants import ProviderStatus, SuspensionCause
from accounts.standing import provider_standing, provider_status_reason
from tests.factories import ProviderFactory, StaffFactory

pytestmark = pytest.mark.django_db


def suspended(reason="Letters of authorization did not match the MIDs", **provider):
    active = ProviderFactory(legal_name="Parcel Insights LLC", **provider)
    services.provider_suspend(
        provider=active, actor=StaffFactory(), reason=reason, cause=SuspensionCause.STAFF_ACTION
    )
    return active


def closed(reason="Company dissolved"):
    provider = ProviderFactory(legal_name="Gone LLC")
    services.provider_close(provider=provider, actor=StaffFactory(), reason=reason)
    return provider


@pytest.mark.parametrize(
    ("status", "capabilities"),
    [
        # serves data, claim, withdraw, consents, invite, sign, notice on portal pages
        (ProviderStatus.PENDING_REVIEW, (False, True, True, True, True, True, False)),
        (ProviderStatus.ACTIVE, (True, True, True, True, True, True, False)),
        (ProviderStatus.SUSPENDED, (False, True, True, True, True, True, True)),
        (ProviderStatus.CLOSED, (False, False, True, False, False, False, True)),
    ],
)
def test_what_each_status_still_allows(status, capabilities):
    provider = ProviderFactory(
        status=status,
        suspension_cause="STAFF_ACTION" if status == ProviderStatus.SUSPENDED else "",
    )

    standing = provider_standing(provider=provider)

    assert standing.status == status
    assert (
        standing.serves_tracking_data,
        standing.can_claim,
        standing.can_withdraw_claims,
        standing.can_manage_consents,
        standing.can_invite,
        standing.can_sign,
        standing.notice,
    ) == capabilities
    assert standing.heading and standing.text
    assert standing.alert in {"info", "success", "warning", "error"}


def test_a_suspension_says_that_no_data_is_served_why_and_what_still_works(
    django_assert_num_queries,
):
    provider = suspended()
    provider.refresh_from_db()

    with django_assert_num_queries(1):
        standing = provider_standing(provider=provider)

    assert "Suspended" in standing.heading
    text = standing.text
    assert "no tracking data is served" in text
    assert "Letters of authorization did not match the MIDs" in text
    assert f"{timezone.localdate():%Y-%m-%d}" in text
    for still in ("claim Mailer IDs", "withdraw", "approve", "grant", "revoke", "team", "sign"):
        assert still in text, still
    assert standing.reason == "Letters of authorization did not match the MIDs"


def test_a_suspension_for_non_payment_says_so():
    provider = ProviderFactory()
    services.provider_suspend(
        provider=provider, actor=None, reason="Invoice 12 unpaid", cause=SuspensionCause.NON_PAYMENT
    )
    provider.refresh_from_db()

    text = provider_standing(provider=provider).text

    assert "for non-payment" in text and "Invoice 12 unpaid" in text


def test_a_closure_says_it_is_final_why_and_what_members_can_still_do(django_assert_num_queries):
    provider = closed()
    provider.refresh_from_db()

    with django_assert_num_queries(1):
        standing = provider_standing(provider=provider)

    assert standing.heading.startswith("Closed")
    assert "Company dissolved" in standing.text
    assert "final" in standing.text
    for gone in ("claim Mailer IDs", "decide who reads", "sign", "new members"):
        assert gone in standing.text, gone
    for still in ("withdraw", "change roles", "leave"):
        assert still in standing.text, still


@pytest.mark.parametrize("status", [ProviderStatus.PENDING_REVIEW, ProviderStatus.ACTIVE])
def test_open_statuses_cost_no_query(status, django_assert_num_queries):
    provider = ProviderFactory(status=status)

    with django_assert_num_queries(0):
        standing = provider_standing(provider=provider)

    assert standing.reason == "" and standing.reason_at is None


def test_the_reason_is_the_newest_one_of_this_provider_for_its_current_status():
    provider = suspended(reason="First warning")
    services.provider_reinstate(provider=provider, actor=StaffFactory(), reason="Fixed")
    services.provider_suspend(
        provider=provider,
        actor=StaffFactory(),
        reason="Second time",
        cause=SuspensionCause.STAFF_ACTION,
    )
    suspended(reason="Someone else's suspension")  # another provider, later
    provider.refresh_from_db()

    found = provider_status_reason(provider=provider)

    assert found.reason == "Second time"
    assert timezone.now() - found.at < timedelta(minutes=1)
    assert "Second time" in provider_standing(provider=provider).text
    assert "First warning" not in provider_standing(provider=provider).text


def test_a_closed_provider_shows_the_closure_reason_not_an_earlier_suspension():
    provider = suspended(reason="Late payment")
    services.provider_close(provider=provider, actor=StaffFactory(), reason="Dissolved")
    provider.refresh_from_db()

    standing = provider_standing(provider=provider)

    assert standing.reason == "Dissolved" and "Late payment" not in standing.text


def test_a_status_without_a_recorded_reason_still_explains_itself():
    provider = ProviderFactory(status=ProviderStatus.CLOSED)  # set directly, no audit entry

    standing = provider_standing(provider=provider)

    assert standing.reason == "" and "closed" in standing.text


def test_the_module_depends_on_no_view_or_request():
    """The dashboard and organisation page reuse it: it must import without any view."""
    tree = ast.parse(Path(standing_module.__file__).read_text(encoding="utf-8"))
    imported = [
        node.module if isinstance(node, ast.ImportFrom) else alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    ]
    assert not [name for name in imported if "views" in name or name.endswith("portal")]

"""Two reviewers deciding the same item at once (issue 8, part 7), on real PostgreSQL
connections: one wins, the other is refused with a message naming the item's status now, and
nothing is applied twice (one status change, one audit entry, one e-mail).

The services lock the row and re-read its status under the lock (core.transitions), so the
second reviewer's decision waits for the first to commit and is then checked against it.
"""

import pytest
from django.urls import reverse

from accounts import services as account_services
from accounts.constants import ProviderStatus
from agreements import services
from agreements.constants import AgreementStatus, ScheduleLineStatus
from agreements.models import Agreement
from core.errors import DomainError, ImmutableRecord, InvalidTransition
from core.models import AuditEntry
from tests.concurrency import race_past_the_precheck, run_together
from tests.factories import AgreementFactory, ProviderFactory, ScheduleLineFactory, StaffFactory
from tests.review_admin import (
    decide,
    messages_of,
    open_reason_page,
    record_notifications,
    reviewer_client,
)

pytestmark = pytest.mark.django_db(transaction=True)

AGREEMENTS = reverse("admin:agreements_agreement_changelist")
PROVIDERS = reverse("admin:accounts_provider_changelist")


def _one_winner(outcomes):
    """Exactly one call succeeded and the other was refused with a domain error."""
    errors = [o for o in outcomes if isinstance(o, Exception)]
    assert len(errors) == 1, outcomes
    assert isinstance(errors[0], DomainError), errors[0]
    return errors[0]


def _actions():
    return list(AuditEntry.objects.order_by("pk").values_list("action", flat=True))


# --- The services, raced on two connections -----------------------------------------------------


def test_the_second_approval_of_a_provider_waits_then_is_refused_naming_its_status():
    provider = ProviderFactory(legal_name="Parcel Co", status=ProviderStatus.PENDING_REVIEW)
    alice, bob = StaffFactory(), StaffFactory()

    # Bob's approval starts while Alice's has locked the row and not yet committed.
    outcomes = race_past_the_precheck(
        lambda: account_services.provider_approve(provider=provider, actor=alice, reason="A"),
        lambda: account_services.provider_approve(provider=provider, actor=bob, reason="B"),
    )

    assert not isinstance(outcomes[0], Exception), outcomes
    error = outcomes[1]
    assert isinstance(error, InvalidTransition)
    assert "Cannot provider approve Parcel Co: it is Active" in error.message
    provider.refresh_from_db()
    assert provider.status == ProviderStatus.ACTIVE
    (entry,) = AuditEntry.objects.filter(action="provider_approve")
    assert (entry.actor, entry.reason) == (alice, "A")


def test_two_approvals_of_one_provider_at_once_apply_it_once():
    provider = ProviderFactory(status=ProviderStatus.PENDING_REVIEW)
    alice, bob = StaffFactory(), StaffFactory()

    _one_winner(
        run_together(
            lambda: account_services.provider_approve(provider=provider, actor=alice),
            lambda: account_services.provider_approve(provider=provider, actor=bob),
        )
    )

    assert _actions() == ["provider_approve"]


def test_the_second_approval_of_an_agreement_waits_then_is_refused_naming_its_status():
    agreement = AgreementFactory(status=AgreementStatus.SUBMITTED)
    alice, bob = StaffFactory(), StaffFactory()

    outcomes = race_past_the_precheck(
        lambda: services.agreement_approve(agreement=agreement, actor=alice, reason="A"),
        lambda: services.agreement_approve(agreement=agreement, actor=bob, reason="B"),
    )

    assert not isinstance(outcomes[0], Exception), outcomes
    assert isinstance(outcomes[1], InvalidTransition)
    assert "it is Approved" in outcomes[1].message
    assert _actions() == ["agreement_approve"]
    assert Agreement.objects.get(pk=agreement.pk).decided_by == alice


# The reject-first order used to deadlock: agreement_reject locked the agreement row, and its
# audit entry's foreign key to the provider takes FOR KEY SHARE on the provider row, while
# agreement_approve held that row FOR UPDATE (_lock_provider) and waited for the agreement
# row. Row locks are now FOR NO KEY UPDATE (core/transitions.py), which KEY SHARE does not
# conflict with; both orders must apply exactly one decision.
@pytest.mark.parametrize("first", ["approve", "reject"])
def test_approve_and_reject_of_one_agreement_at_once_apply_exactly_one(first):
    agreement = AgreementFactory(status=AgreementStatus.SUBMITTED)
    staff = StaffFactory()
    approve = lambda: services.agreement_approve(agreement=agreement, actor=staff)  # noqa: E731
    reject = lambda: services.agreement_reject(agreement=agreement, actor=staff, reason="r")  # noqa: E731
    calls = (approve, reject) if first == "approve" else (reject, approve)

    error = _one_winner(race_past_the_precheck(*calls))

    winner = "agreement_approve" if first == "approve" else "agreement_reject"
    assert _actions() == [winner]
    expected = "Approved" if first == "approve" else "Rejected"
    assert f"it is {expected}" in error.message
    agreement.refresh_from_db()
    assert agreement.status == expected.upper()


def test_two_rejections_of_one_agreement_at_once_apply_it_once():
    agreement = AgreementFactory(status=AgreementStatus.SUBMITTED)
    alice, bob = StaffFactory(), StaffFactory()

    error = _one_winner(
        run_together(
            lambda: services.agreement_reject(agreement=agreement, actor=alice, reason="A"),
            lambda: services.agreement_reject(agreement=agreement, actor=bob, reason="B"),
        )
    )

    assert "it is Rejected" in error.message
    assert _actions() == ["agreement_reject"]


def test_approve_and_reject_of_one_schedule_line_at_once_apply_exactly_one():
    line = ScheduleLineFactory(status=ScheduleLineStatus.REQUESTED)
    staff = StaffFactory()

    _one_winner(
        run_together(
            lambda: services.schedule_line_approve(line=line, actor=staff, reason="a"),
            lambda: services.schedule_line_reject(line=line, actor=staff, reason="r"),
        )
    )

    line.refresh_from_db()
    (action,) = _actions()
    assert (
        line.status
        == {"schedule_line_approve": "APPROVED", "schedule_line_reject": "REJECTED"}[action]
    )


def test_publishing_one_draft_twice_at_once_publishes_it_once():
    from django.utils import timezone

    version = services.agreement_version_create(
        label="v9", text="Terms.", effective_at=timezone.now(), applies_to=["SERVICE_PROVIDER"]
    )

    error = _one_winner(
        run_together(
            lambda: services.agreement_version_publish(version=version),
            lambda: services.agreement_version_publish(version=version),
        )
    )

    assert isinstance(error, ImmutableRecord)
    assert _actions() == ["agreement_version_create", "agreement_version_publish"]


# --- Through the admin: two reviewers, two browsers ------------------------------------------


def test_the_second_reviewer_to_confirm_gets_the_current_status_and_nothing_twice(monkeypatch):
    notified = record_notifications(monkeypatch)
    agreement = AgreementFactory(status=AgreementStatus.SUBMITTED)
    alice, bob = StaffFactory(email="alice@usps.example"), StaffFactory(email="bob@usps.example")
    alice_client, bob_client = reviewer_client(alice), reviewer_client(bob)

    # Both open the reason page while the signature is still SUBMITTED...
    for client in (alice_client, bob_client):
        page = open_reason_page(client, AGREEMENTS, "approve_agreements", [agreement])
        assert page.status_code == 200
    # ...Alice confirms first (committed), then Bob.
    first = decide(alice_client, AGREEMENTS, "approve_agreements", [agreement], reason="Alice")
    second = decide(bob_client, AGREEMENTS, "approve_agreements", [agreement], reason="Bob")

    assert messages_of(first) == ["1 item decided."]
    (message,) = messages_of(second)
    assert message.startswith(f"{agreement.provider} / {agreement.version.label}")
    assert "Cannot agreement approve" in message
    assert "it is Approved" in message
    agreement.refresh_from_db()
    assert (agreement.status, agreement.decided_by, agreement.decision_reason) == (
        AgreementStatus.APPROVED,
        alice,
        "Alice",
    )
    (entry,) = AuditEntry.objects.all()
    assert (entry.action, entry.actor) == ("agreement_approve", alice)
    assert notified == [entry.pk]  # queued on commit, once


def test_a_provider_suspended_by_one_reviewer_cannot_be_approved_by_another(monkeypatch):
    notified = record_notifications(monkeypatch)
    provider = ProviderFactory(legal_name="Parcel Co", status=ProviderStatus.PENDING_REVIEW)
    alice_client, bob_client = reviewer_client(), reviewer_client()
    open_reason_page(bob_client, PROVIDERS, "approve_providers", [provider])

    decide(alice_client, PROVIDERS, "close_providers", [provider], reason="Fraudulent")
    late = decide(bob_client, PROVIDERS, "approve_providers", [provider], reason="Looks fine")

    (message,) = messages_of(late)
    assert message.startswith("Parcel Co: Cannot provider approve Parcel Co: it is Closed")
    provider.refresh_from_db()
    assert provider.status == ProviderStatus.CLOSED
    assert _actions() == ["provider_close"]
    assert len(notified) == 1


def test_two_reviewers_confirming_at_the_same_moment_apply_it_once(monkeypatch):
    notified = record_notifications(monkeypatch)
    agreement = AgreementFactory(status=AgreementStatus.SUBMITTED)
    clients = [reviewer_client(), reviewer_client()]

    responses = run_together(
        *(
            lambda client=client: decide(
                client, AGREEMENTS, "approve_agreements", [agreement], reason="Approved"
            )
            for client in clients
        )
    )

    assert [r.status_code for r in responses] == [302, 302], responses
    outcomes = sorted(messages_of(r)[0] for r in responses)
    assert outcomes[0] == "1 item decided."
    assert "Cannot agreement approve" in outcomes[1] and "it is Approved" in outcomes[1]
    assert _actions() == ["agreement_approve"]
    assert len(notified) == 1

"""Concurrent actions on real PostgreSQL connections: no deadlock, no double grant, and a
duplicate that slips past a service's pre-check gets the same DomainError as a sequential one
(issue 6, defect 7), never a raw IntegrityError."""

import pytest
from django.utils import timezone

from accounts import services as account_services
from agreements import services
from agreements.constants import AgreementStatus, MidLinkStatus
from agreements.models import Agreement, AgreementVersion, MidLink
from core.errors import DomainError
from tests.concurrency import race_past_the_precheck, run_together
from tests.factories import (
    AgreementFactory,
    MembershipFactory,
    MidLinkFactory,
    ProviderFactory,
    StaffFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db(transaction=True)


def test_two_approvals_for_one_provider_serialise_without_deadlock():
    provider = ProviderFactory()
    first = AgreementFactory(provider=provider, status=AgreementStatus.SUBMITTED)
    second = AgreementFactory(provider=provider, status=AgreementStatus.SUBMITTED)
    staff = StaffFactory()

    outcomes = run_together(
        lambda: services.agreement_approve(agreement=first, actor=staff),
        lambda: services.agreement_approve(agreement=second, actor=staff),
    )

    unexpected = [
        o for o in outcomes if isinstance(o, Exception) and not isinstance(o, DomainError)
    ]
    assert unexpected == []
    statuses = sorted(Agreement.objects.filter(provider=provider).values_list("status", flat=True))
    # Whichever ran second either superseded the first or was refused as going backwards.
    assert statuses.count(AgreementStatus.APPROVED) == 1
    assert set(statuses) <= {
        AgreementStatus.APPROVED,
        AgreementStatus.SUPERSEDED,
        AgreementStatus.SUBMITTED,
    }


def test_two_providers_verified_as_owner_at_once_only_one_wins():
    a = MidLinkFactory(mid="123456", status=MidLinkStatus.REQUESTED)
    b = MidLinkFactory(mid="123456", status=MidLinkStatus.REQUESTED)
    staff = StaffFactory()

    outcomes = run_together(
        lambda: services.mid_link_verify(link=a, actor=staff),
        lambda: services.mid_link_verify(link=b, actor=staff),
    )

    errors = [o for o in outcomes if isinstance(o, Exception)]
    assert len(errors) == 1
    assert isinstance(errors[0], DomainError)
    assert "123456" in errors[0].message
    assert MidLink.objects.filter(mid="123456", status=MidLinkStatus.VERIFIED).count() == 1


def _only_domain_errors(outcomes):
    errors = [o for o in outcomes if isinstance(o, Exception)]
    assert [type(e).__name__ for e in errors] == ["DomainError"], outcomes
    return errors[0]


def test_two_identical_mid_link_requests_at_once_get_one_link_and_one_domain_error():
    provider = ProviderFactory()
    user = UserFactory()

    def request():
        return services.mid_link_request(
            provider=provider, mid="123456", relation="OWNED", requested_by=user
        )

    error = _only_domain_errors(race_past_the_precheck(request, request))

    assert "already has an open claim on MID 123456" in error.message
    assert MidLink.objects.filter(provider=provider, mid="123456").count() == 1


def test_adding_one_member_twice_at_once_gets_one_membership_and_one_domain_error():
    provider = ProviderFactory()
    user = UserFactory()
    actor = MembershipFactory(provider=provider).user

    def add():
        return account_services.membership_add(
            provider=provider, user=user, role="DEVELOPER", actor=actor
        )

    error = _only_domain_errors(race_past_the_precheck(add, add))

    assert "already a member" in error.message
    assert provider.memberships.filter(user=user).count() == 1


def test_creating_one_version_label_twice_at_once_gets_one_version_and_one_domain_error():
    def create():
        return services.agreement_version_create(
            label="v7",
            text="Terms.",
            effective_at=timezone.now(),
            applies_to=["SERVICE_PROVIDER"],
        )

    error = _only_domain_errors(race_past_the_precheck(create, create))

    assert error.field_errors == {"label": [error.field_errors["label"][0]]}
    assert "v7" in error.message
    assert AgreementVersion.objects.filter(label="v7").count() == 1

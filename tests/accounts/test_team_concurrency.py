"""Team changes racing on real PostgreSQL connections: a provider never ends up without an
owner, and one address never gets two pending invitations."""

import pytest

from accounts import services
from accounts.constants import InvitationStatus, MembershipRole
from accounts.models import Invitation, Membership
from core.errors import DomainError
from core.models import AuditEntry
from tests.concurrency import race_past_the_precheck, run_together
from tests.factories import MembershipFactory, ProviderFactory

pytestmark = pytest.mark.django_db(transaction=True)

OWNER, ADMIN = MembershipRole.OWNER, MembershipRole.ADMIN


@pytest.fixture
def two_owners():
    provider = ProviderFactory(legal_name="Parcel Insights LLC")
    return (
        provider,
        MembershipFactory(provider=provider, role=OWNER),
        MembershipFactory(provider=provider, role=OWNER),
    )


def _outcome(outcomes):
    """Exactly one call was refused, and with a DomainError (or a subclass), nothing rawer."""
    errors = [o for o in outcomes if isinstance(o, Exception)]
    assert len(errors) == 1, outcomes
    assert isinstance(errors[0], DomainError), outcomes
    return errors[0]


def test_the_two_last_owners_demoting_themselves_at_once_leave_one_owner(two_owners):
    provider, first, second = two_owners

    error = _outcome(
        run_together(
            lambda: services.membership_change_role(membership=first, role=ADMIN, actor=first.user),
            lambda: services.membership_change_role(
                membership=second, role=ADMIN, actor=second.user
            ),
        )
    )

    assert "last owner" in error.message
    assert Membership.objects.filter(provider=provider, role=OWNER).count() == 1
    assert AuditEntry.objects.filter(action="membership_change_role").count() == 1


def test_two_owners_demoting_each_other_at_once_leave_one_owner(two_owners):
    provider, first, second = two_owners

    _outcome(
        run_together(
            lambda: services.membership_change_role(
                membership=second, role=ADMIN, actor=first.user
            ),
            lambda: services.membership_change_role(
                membership=first, role=ADMIN, actor=second.user
            ),
        )
    )

    assert Membership.objects.filter(provider=provider, role=OWNER).count() == 1


def test_the_two_last_owners_leaving_at_once_leave_one_owner(two_owners):
    provider, first, second = two_owners

    error = _outcome(
        run_together(
            lambda: services.membership_remove(membership=first, actor=first.user),
            lambda: services.membership_remove(membership=second, actor=second.user),
        )
    )

    assert "last owner" in error.message
    assert Membership.objects.filter(provider=provider, role=OWNER).count() == 1


def test_a_demotion_and_a_removal_at_once_leave_one_owner(two_owners):
    provider, first, second = two_owners

    _outcome(
        run_together(
            lambda: services.membership_change_role(membership=first, role=ADMIN, actor=first.user),
            lambda: services.membership_remove(membership=second, actor=second.user),
        )
    )

    assert Membership.objects.filter(provider=provider, role=OWNER).count() == 1


def test_inviting_one_address_twice_at_once_makes_one_invitation(two_owners):
    provider, first, second = two_owners

    def invite(actor):
        return lambda: services.invitation_create(
            provider=provider,
            email="pat@example.com",
            role=ADMIN,
            actor=actor,
            accept_url=lambda token: f"https://portal.example/{token}/",
        )

    error = _outcome(race_past_the_precheck(invite(first.user), invite(second.user)))

    assert "already has a pending invitation" in error.message
    assert error.field_errors == {"email": [error.message]}
    assert Invitation.objects.filter(status=InvitationStatus.PENDING).count() == 1


def test_accepting_while_it_is_revoked_does_one_or_the_other(two_owners):
    provider, first, _second = two_owners
    invitation = services.invitation_create(
        provider=provider,
        email="pat@example.com",
        role=ADMIN,
        actor=first.user,
        accept_url=lambda token: f"https://portal.example/{token}/",
    )
    pat = MembershipFactory(user__email="pat@example.com").user  # a member elsewhere

    outcomes = run_together(
        lambda: services.invitation_accept(invitation=invitation, user=pat),
        lambda: services.invitation_revoke(invitation=invitation, actor=first.user),
    )

    _outcome(outcomes)
    invitation.refresh_from_db()
    joined = Membership.objects.filter(provider=provider, user=pat).exists()
    assert invitation.status in {InvitationStatus.ACCEPTED, InvitationStatus.REVOKED}
    assert joined == (invitation.status == InvitationStatus.ACCEPTED)

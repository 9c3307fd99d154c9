"""Team services: invitations (create, accept, revoke, expire), role changes and removals.

Each refusal is a DomainError that leaves nothing behind: no row, no audit entry, no e-mail.
"""

import re
from datetime import timedelta
from unittest import mock

import pytest
from django.utils import timezone

from accounts import selectors, services
from accounts.constants import InvitationStatus, MembershipRole, ProviderStatus
from accounts.models import Invitation, Membership
from core.errors import DomainError
from core.models import AuditEntry
from tests.factories import MembershipFactory, ProviderFactory, UserFactory

pytestmark = pytest.mark.django_db

OWNER, ADMIN, BILLING, DEVELOPER = (
    MembershipRole.OWNER,
    MembershipRole.ADMIN,
    MembershipRole.BILLING,
    MembershipRole.DEVELOPER,
)


def accept_url(token: str) -> str:
    return f"https://portal.example/team/invitations/accept/{token}/"


@pytest.fixture
def team():
    """A provider with one member of each role, keyed by role."""
    provider = ProviderFactory(legal_name="Parcel Insights LLC")
    members = {
        role: MembershipFactory(
            provider=provider, role=role, user=UserFactory(email=f"{role.lower()}@parcel.example")
        )
        for role in (OWNER, ADMIN, BILLING, DEVELOPER)
    }
    return provider, members


def invite(provider, actor, email="new@parcel.example", role=DEVELOPER):
    return services.invitation_create(
        provider=provider, email=email, role=role, actor=actor, accept_url=accept_url
    )


def actions() -> list[str]:
    return list(AuditEntry.objects.order_by("pk").values_list("action", flat=True))


def assert_nothing_written(before_audit: int):
    assert not Invitation.objects.exists()
    assert AuditEntry.objects.count() == before_audit


# --- invitation_create ------------------------------------------------------------------------


def test_an_owner_invites_and_the_email_leaves_only_on_commit(
    team, mailoutbox, django_capture_on_commit_callbacks
):
    provider, members = team

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        invitation = invite(provider, members[OWNER].user, email="  New.Person@Parcel.Example ")
        assert mailoutbox == []

    assert invitation.status == InvitationStatus.PENDING
    assert invitation.email == "new.person@parcel.example"
    assert invitation.invited_by == members[OWNER].user
    assert timedelta(days=6, hours=23) < invitation.expires_at - timezone.now() <= timedelta(7)
    entry = AuditEntry.objects.get(action="invitation_create")
    assert (entry.actor, entry.provider_id, entry.to_status) == (
        members[OWNER].user,
        provider.pk,
        "PENDING",
    )
    assert entry.extra["email"] == "new.person@parcel.example"

    for callback in callbacks:
        callback()
    assert len(mailoutbox) == 1
    mail = mailoutbox[0]
    assert mail.to == ["new.person@parcel.example"]
    assert "Parcel Insights LLC" in mail.subject
    token = re.search(r"/team/invitations/accept/([^/\s]+)/", mail.body).group(1)
    assert selectors.invitation_for_token(token=token) == invitation
    assert "Developer" in mail.body
    assert "owner@parcel.example" in mail.body


def test_a_refused_invitation_sends_no_email(team, mailoutbox, django_capture_on_commit_callbacks):
    provider, members = team

    with django_capture_on_commit_callbacks(execute=True), pytest.raises(DomainError):
        invite(provider, members[BILLING].user)

    assert mailoutbox == []
    assert not Invitation.objects.exists()


def test_the_invitation_lifetime_comes_from_the_setting(team, settings):
    settings.INVITATION_TTL_DAYS = 2
    provider, members = team

    invitation = invite(provider, members[ADMIN].user)

    assert timedelta(days=1, hours=23) < invitation.expires_at - timezone.now() <= timedelta(2)


@pytest.mark.parametrize("role", [BILLING, DEVELOPER])
def test_roles_without_manage_members_cannot_invite(team, role):
    provider, members = team
    before = AuditEntry.objects.count()

    with pytest.raises(DomainError, match="cannot invite people"):
        invite(provider, members[role].user)

    assert_nothing_written(before)


def test_a_member_of_another_provider_cannot_invite(team):
    provider, _members = team
    outsider = MembershipFactory(role=OWNER).user

    with pytest.raises(DomainError, match="not a member of Parcel Insights"):
        invite(provider, outsider)

    assert not Invitation.objects.exists()


def test_only_an_owner_may_invite_an_owner(team):
    provider, members = team

    with pytest.raises(DomainError, match="Only an owner can invite an owner") as excinfo:
        invite(provider, members[ADMIN].user, role=OWNER)
    assert "role" in excinfo.value.field_errors
    assert not Invitation.objects.exists()

    assert invite(provider, members[OWNER].user, role=OWNER).role == OWNER


def test_an_existing_member_in_any_case_cannot_be_invited(team):
    provider, members = team

    with pytest.raises(DomainError, match="already a member") as excinfo:
        invite(provider, members[OWNER].user, email="Developer@PARCEL.example")

    assert list(excinfo.value.field_errors) == ["email"]
    assert not Invitation.objects.exists()


def test_a_second_pending_invitation_is_refused_until_the_first_is_revoked(team):
    provider, members = team
    first = invite(provider, members[OWNER].user)

    with pytest.raises(DomainError, match="already has a pending invitation") as excinfo:
        invite(provider, members[ADMIN].user, email="NEW@parcel.example", role=BILLING)
    assert list(excinfo.value.field_errors) == ["email"]
    assert Invitation.objects.count() == 1

    services.invitation_revoke(invitation=first, actor=members[ADMIN].user)
    second = invite(provider, members[ADMIN].user, role=BILLING)

    assert second.status == InvitationStatus.PENDING
    assert Invitation.objects.count() == 2


def test_the_same_address_may_be_invited_by_two_providers(team):
    provider, members = team
    other = MembershipFactory(role=OWNER)

    invite(provider, members[OWNER].user)
    invite(other.provider, other.user)

    assert Invitation.objects.filter(email="new@parcel.example").count() == 2


def test_an_expired_pending_invitation_is_marked_expired_when_the_person_is_invited_again(team):
    provider, members = team
    old = invite(provider, members[OWNER].user)
    Invitation.objects.filter(pk=old.pk).update(expires_at=timezone.now() - timedelta(minutes=1))

    new = invite(provider, members[OWNER].user)

    old.refresh_from_db()
    assert old.status == InvitationStatus.EXPIRED
    assert old.decided_at is not None
    assert new.status == InvitationStatus.PENDING
    assert actions() == ["invitation_create", "invitation_expire", "invitation_create"]


def test_pending_invitations_are_capped_per_provider_and_a_refusal_sends_nothing(
    team, settings, mailoutbox, django_capture_on_commit_callbacks
):
    settings.INVITATIONS_PENDING_MAX = 2
    provider, members = team
    first = invite(provider, members[OWNER].user, email="a@example.com")
    invite(provider, members[ADMIN].user, email="b@example.com")
    before = (Invitation.objects.count(), AuditEntry.objects.count())

    with django_capture_on_commit_callbacks(execute=True):
        with pytest.raises(DomainError, match="already has 2 pending invitations") as refused:
            invite(provider, members[OWNER].user, email="c@example.com")

    assert "email" not in refused.value.field_errors  # about the provider, not the address
    assert (Invitation.objects.count(), AuditEntry.objects.count()) == before
    assert mailoutbox == []
    # Another provider is not affected, and a revocation frees a place.
    other = MembershipFactory(role=OWNER)
    invite(other.provider, other.user, email="c@example.com")
    services.invitation_revoke(invitation=first, actor=members[OWNER].user)
    assert invite(provider, members[OWNER].user, email="c@example.com").status == "PENDING"


def test_invitations_past_their_expiry_do_not_count_against_the_cap(team, settings):
    settings.INVITATIONS_PENDING_MAX = 1
    provider, members = team
    old = invite(provider, members[OWNER].user, email="a@example.com")
    Invitation.objects.filter(pk=old.pk).update(expires_at=timezone.now() - timedelta(minutes=1))

    assert invite(provider, members[OWNER].user, email="b@example.com").status == "PENDING"


def test_the_pending_cap_defaults_to_50(team, settings):
    del settings.INVITATIONS_PENDING_MAX  # unset: the default applies
    provider, members = team
    Invitation.objects.bulk_create(
        Invitation(provider=provider, email=f"p{n}@example.com", role=DEVELOPER) for n in range(50)
    )

    with pytest.raises(DomainError, match="already has 50 pending invitations"):
        invite(provider, members[OWNER].user)


def test_a_closed_provider_takes_no_invitations(team):
    provider, members = team
    provider.status = ProviderStatus.CLOSED
    provider.save(update_fields=["status"])

    with pytest.raises(DomainError, match="closed"):
        invite(provider, members[OWNER].user)

    assert not Invitation.objects.exists()


@pytest.mark.parametrize(
    ("email", "role", "field"),
    [("not-an-address", DEVELOPER, "email"), ("ok@example.com", "GOD", "role")],
)
def test_bad_input_names_its_field(team, email, role, field):
    provider, members = team

    with pytest.raises(DomainError) as excinfo:
        invite(provider, members[OWNER].user, email=email, role=role)

    assert field in excinfo.value.field_errors
    assert not Invitation.objects.exists()
    assert not AuditEntry.objects.exists()


def test_a_duplicate_past_the_precheck_gets_the_same_domain_error_from_the_constraint(team):
    """If the pre-check misses a pending invitation (a race), the partial unique index stops
    the second one with the same message, and the caller's transaction stays usable."""
    provider, members = team
    invite(provider, members[OWNER].user)

    with (
        mock.patch("accounts.services.team.pending_invitation_for_email", return_value=None),
        pytest.raises(DomainError, match="already has a pending invitation") as excinfo,
    ):
        invite(provider, members[OWNER].user)

    assert list(excinfo.value.field_errors) == ["email"]
    assert Invitation.objects.count() == 1
    assert actions() == ["invitation_create"]


# --- invitation_accept ------------------------------------------------------------------------


def test_the_invitee_accepts_and_becomes_a_member_with_the_invited_role(team):
    provider, members = team
    invitation = invite(provider, members[ADMIN].user, email="Pat@Example.com", role=BILLING)
    pat = UserFactory(email="pat@example.com")

    membership = services.invitation_accept(invitation=invitation, user=pat)

    assert (membership.provider, membership.user, membership.role) == (provider, pat, BILLING)
    invitation.refresh_from_db()
    assert invitation.status == InvitationStatus.ACCEPTED
    assert invitation.accepted_by == pat
    assert invitation.accepted_at is not None
    assert actions() == ["invitation_create", "membership_add", "invitation_accept"]
    entry = AuditEntry.objects.get(action="invitation_accept")
    assert (entry.actor, entry.from_status, entry.to_status) == (pat, "PENDING", "ACCEPTED")


def _refused_acceptance(invitation, user, match):
    memberships = Membership.objects.count()
    audit = AuditEntry.objects.count()
    status = Invitation.objects.get(pk=invitation.pk).status

    with pytest.raises(DomainError, match=match):
        services.invitation_accept(invitation=invitation, user=user)

    assert Membership.objects.count() == memberships
    assert AuditEntry.objects.count() == audit
    assert Invitation.objects.get(pk=invitation.pk).status == status


def test_someone_else_cannot_accept_and_is_told_why(team):
    provider, members = team
    invitation = invite(provider, members[OWNER].user, email="pat@example.com")

    _refused_acceptance(
        invitation,
        UserFactory(email="mallory@example.com"),
        "sent to pat@example.com, but you are signed in as mallory@example.com",
    )


def test_an_expired_invitation_cannot_be_accepted(team):
    provider, members = team
    invitation = invite(provider, members[OWNER].user, email="pat@example.com")
    Invitation.objects.filter(pk=invitation.pk).update(expires_at=timezone.now())
    invitation.refresh_from_db()

    _refused_acceptance(invitation, UserFactory(email="pat@example.com"), "expired on")


def test_a_revoked_invitation_cannot_be_accepted(team):
    provider, members = team
    invitation = invite(provider, members[OWNER].user, email="pat@example.com")
    services.invitation_revoke(invitation=invitation, actor=members[OWNER].user)

    _refused_acceptance(invitation, UserFactory(email="pat@example.com"), "was withdrawn")


def test_an_invitation_is_accepted_once(team):
    provider, members = team
    invitation = invite(provider, members[OWNER].user, email="pat@example.com")
    pat = UserFactory(email="pat@example.com")
    services.invitation_accept(invitation=invitation, user=pat)

    _refused_acceptance(invitation, pat, "already accepted")


def test_someone_already_a_member_cannot_accept_again(team):
    provider, members = team
    invitation = invite(provider, members[OWNER].user, email="pat@example.com")
    pat = UserFactory(email="pat@example.com")
    MembershipFactory(provider=provider, user=pat, role=DEVELOPER)

    _refused_acceptance(invitation, pat, "already a member")


def test_a_closed_provider_takes_no_new_members(team):
    provider, members = team
    invitation = invite(provider, members[OWNER].user, email="pat@example.com")
    services.provider_close(provider=provider, actor=None, reason="Wound up")

    _refused_acceptance(invitation, UserFactory(email="pat@example.com"), "closed")


# --- invitation_revoke and invitation_expire --------------------------------------------------


def test_an_admin_revokes_a_pending_invitation_and_it_is_audited(team):
    provider, members = team
    invitation = invite(provider, members[OWNER].user)

    services.invitation_revoke(invitation=invitation, actor=members[ADMIN].user, reason="typo")

    invitation.refresh_from_db()
    assert invitation.status == InvitationStatus.REVOKED
    assert (invitation.decided_by, invitation.decision_reason) == (members[ADMIN].user, "typo")
    entry = AuditEntry.objects.get(action="invitation_revoke")
    assert (entry.from_status, entry.to_status, entry.reason) == ("PENDING", "REVOKED", "typo")


@pytest.mark.parametrize("role", [BILLING, DEVELOPER])
def test_roles_without_manage_members_cannot_revoke(team, role):
    provider, members = team
    invitation = invite(provider, members[OWNER].user)

    with pytest.raises(DomainError, match="cannot revoke invitations"):
        services.invitation_revoke(invitation=invitation, actor=members[role].user)

    assert Invitation.objects.get().status == InvitationStatus.PENDING
    assert actions() == ["invitation_create"]


def test_only_an_owner_revokes_an_owner_invitation(team):
    provider, members = team
    invitation = invite(provider, members[OWNER].user, role=OWNER)

    with pytest.raises(DomainError, match="Only an owner"):
        services.invitation_revoke(invitation=invitation, actor=members[ADMIN].user)

    assert Invitation.objects.get().status == InvitationStatus.PENDING


def test_only_a_pending_invitation_can_be_revoked(team):
    provider, members = team
    invitation = invite(provider, members[OWNER].user)
    services.invitation_revoke(invitation=invitation, actor=members[OWNER].user)

    with pytest.raises(DomainError, match="already revoked"):
        services.invitation_revoke(invitation=invitation, actor=members[OWNER].user)

    assert actions() == ["invitation_create", "invitation_revoke"]


def test_an_invitation_in_date_cannot_be_marked_expired(team):
    provider, members = team
    invitation = invite(provider, members[OWNER].user)

    with pytest.raises(DomainError, match="not expired yet"):
        services.invitation_expire(invitation=invitation)

    assert Invitation.objects.get().status == InvitationStatus.PENDING


# --- membership_change_role -------------------------------------------------------------------


def test_a_manager_changes_a_role_and_it_is_audited(team):
    provider, members = team

    services.membership_change_role(
        membership=members[DEVELOPER], role=BILLING, actor=members[ADMIN].user
    )

    assert Membership.objects.get(pk=members[DEVELOPER].pk).role == BILLING
    entry = AuditEntry.objects.get()
    assert entry.action == "membership_change_role"
    assert entry.extra == {
        "user": "developer@parcel.example",
        "from_role": "DEVELOPER",
        "to_role": "BILLING",
    }
    assert (entry.actor, entry.provider_id) == (members[ADMIN].user, provider.pk)


def test_giving_the_same_role_changes_nothing(team):
    _provider, members = team

    services.membership_change_role(
        membership=members[DEVELOPER], role=DEVELOPER, actor=members[OWNER].user
    )

    assert not AuditEntry.objects.exists()


@pytest.mark.parametrize("role", [BILLING, DEVELOPER])
def test_roles_without_manage_members_cannot_change_roles(team, role):
    _provider, members = team
    target = members[DEVELOPER if role == BILLING else BILLING]

    with pytest.raises(DomainError, match="cannot change roles"):
        services.membership_change_role(membership=target, role=ADMIN, actor=members[role].user)

    assert Membership.objects.get(pk=target.pk).role == target.role
    assert not AuditEntry.objects.exists()


def test_an_admin_can_neither_make_an_owner_nor_change_one(team):
    _provider, members = team

    with pytest.raises(DomainError, match="Only an owner can make someone an owner"):
        services.membership_change_role(
            membership=members[DEVELOPER], role=OWNER, actor=members[ADMIN].user
        )
    with pytest.raises(DomainError, match="Only an owner can make someone an owner"):
        services.membership_change_role(
            membership=members[ADMIN], role=OWNER, actor=members[ADMIN].user
        )
    with pytest.raises(DomainError, match="Only an owner can change an owner's role"):
        services.membership_change_role(
            membership=members[OWNER], role=DEVELOPER, actor=members[ADMIN].user
        )

    assert dict(Membership.objects.values_list("user__email", "role")) == {
        "owner@parcel.example": OWNER,
        "admin@parcel.example": ADMIN,
        "billing@parcel.example": BILLING,
        "developer@parcel.example": DEVELOPER,
    }
    assert not AuditEntry.objects.exists()


def test_the_last_owner_cannot_be_demoted_but_one_of_two_can(team):
    _provider, members = team
    owner = members[OWNER]

    with pytest.raises(DomainError, match="last owner of Parcel Insights LLC"):
        services.membership_change_role(membership=owner, role=ADMIN, actor=owner.user)
    assert Membership.objects.get(pk=owner.pk).role == OWNER

    services.membership_change_role(membership=members[ADMIN], role=OWNER, actor=owner.user)
    services.membership_change_role(membership=owner, role=ADMIN, actor=owner.user)

    assert Membership.objects.get(pk=owner.pk).role == ADMIN
    assert Membership.objects.get(pk=members[ADMIN].pk).role == OWNER


def test_an_unknown_role_is_refused(team):
    _provider, members = team

    with pytest.raises(DomainError, match="Unknown role") as excinfo:
        services.membership_change_role(
            membership=members[DEVELOPER], role="ROOT", actor=members[OWNER].user
        )

    assert "role" in excinfo.value.field_errors


# --- membership_remove ------------------------------------------------------------------------


def test_a_manager_removes_a_member_and_it_is_audited(team):
    provider, members = team

    services.membership_remove(membership=members[DEVELOPER], actor=members[ADMIN].user)

    assert not Membership.objects.filter(pk=members[DEVELOPER].pk).exists()
    entry = AuditEntry.objects.get()
    assert (entry.action, entry.actor, entry.provider_id) == (
        "membership_remove",
        members[ADMIN].user,
        provider.pk,
    )
    assert entry.subject_id == members[DEVELOPER].pk
    assert entry.extra == {"user": "developer@parcel.example", "role": "DEVELOPER"}


@pytest.mark.parametrize("role", [BILLING, DEVELOPER])
def test_any_member_may_leave(team, role):
    _provider, members = team

    services.membership_remove(membership=members[role], actor=members[role].user)

    assert not Membership.objects.filter(pk=members[role].pk).exists()
    assert actions() == ["membership_leave"]


def test_a_member_without_manage_members_cannot_remove_someone_else(team):
    _provider, members = team

    with pytest.raises(DomainError, match="cannot remove members"):
        services.membership_remove(membership=members[ADMIN], actor=members[DEVELOPER].user)

    assert Membership.objects.filter(pk=members[ADMIN].pk).exists()
    assert not AuditEntry.objects.exists()


def test_an_admin_cannot_remove_an_owner(team):
    _provider, members = team

    with pytest.raises(DomainError, match="Only an owner can remove an owner"):
        services.membership_remove(membership=members[OWNER], actor=members[ADMIN].user)

    assert Membership.objects.filter(pk=members[OWNER].pk).exists()


def test_the_last_owner_can_neither_leave_nor_be_removed(team):
    _provider, members = team
    owner = members[OWNER]

    with pytest.raises(DomainError, match="last owner"):
        services.membership_remove(membership=owner, actor=owner.user)

    assert Membership.objects.filter(pk=owner.pk).exists()
    assert not AuditEntry.objects.exists()

    second = MembershipFactory(provider=owner.provider, role=OWNER)
    services.membership_remove(membership=owner, actor=second.user)
    assert not Membership.objects.filter(pk=owner.pk).exists()
    with pytest.raises(DomainError, match="last owner"):
        services.membership_remove(membership=second, actor=second.user)


def test_a_member_removed_meanwhile_is_refused_clearly(team):
    _provider, members = team
    stale = Membership.objects.get(pk=members[DEVELOPER].pk)
    services.membership_remove(membership=members[DEVELOPER], actor=members[OWNER].user)

    with pytest.raises(DomainError, match="no longer a member"):
        services.membership_change_role(membership=stale, role=ADMIN, actor=members[OWNER].user)
    with pytest.raises(DomainError, match="no longer a member"):
        services.membership_remove(membership=stale, actor=members[OWNER].user)

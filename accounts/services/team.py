"""The team: memberships, invitations, roles, and never a provider without an owner."""

from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone

from accounts.constants import (
    INVITATION_TRANSITIONS,
    INVITATIONS_PENDING_MAX_DEFAULT,
    InvitationStatus,
    MembershipRole,
    ProviderStatus,
)
from accounts.models import Invitation, Membership, Provider, User
from accounts.permissions import Permission, role_can, role_can_manage_role
from accounts.selectors import (
    invitation_acceptance_problem,
    invitation_token,
    pending_invitation_for_email,
    provider_membership_of,
)
from core.audit import audit_record
from core.errors import (
    DomainError,
    InvalidTransition,
    unique_violations_as_domain_errors,
)
from core.transitions import transition


@transaction.atomic
def membership_add(*, provider: Provider, user: User, role: str, actor: User | None) -> Membership:
    if role not in MembershipRole.values:
        raise DomainError(f"Unknown role {role!r}; choose one of {', '.join(MembershipRole)}.")
    duplicate = DomainError(f"{user} is already a member of {provider}.", field="user")
    if Membership.objects.filter(provider=provider, user=user).exists():
        raise duplicate
    with unique_violations_as_domain_errors({"accounts_membership_unique": duplicate}):
        membership = Membership.objects.create(provider=provider, user=user, role=role)
    audit_record(
        subject=membership,
        action="membership_add",
        actor=actor,
        provider_id=provider.pk,
        extra={"user": user.email, "role": role},
    )
    return membership


def _lock_provider(provider_id: int) -> Provider:
    return Provider.objects.select_for_update(no_key=True).get(pk=provider_id)


def _manager_membership(*, provider: Provider, actor: User, doing: str) -> Membership:
    """The actor's membership, if it may manage members; otherwise refuse, naming the reason."""
    membership = provider_membership_of(provider_id=provider.pk, user=actor)
    if membership is None:
        raise DomainError(f"You are not a member of {provider}, so you cannot {doing}.")
    if not role_can(membership.role, Permission.MANAGE_MEMBERS):
        raise DomainError(
            f"Your role in {provider} ({membership.get_role_display()}) cannot {doing}; "
            "ask an owner or administrator."
        )
    return membership


def _check_role(role: str) -> None:
    if role not in MembershipRole.values:
        raise DomainError(
            f"Unknown role {role!r}; choose one of {', '.join(MembershipRole.values)}.",
            field="role",
        )


def _refuse_owner_business(*, manager: Membership, role: str, doing: str) -> None:
    if not role_can_manage_role(manager.role, role):
        raise DomainError(
            f"Only an owner can {doing}; your role is {manager.get_role_display()}.", field="role"
        )


def _refuse_losing_the_last_owner(
    *, membership: Membership, provider: Provider, doing: str
) -> None:
    """Call with the provider row locked, so the count cannot change before the write."""
    if membership.role != MembershipRole.OWNER:
        return
    owners = Membership.objects.filter(provider_id=provider.pk, role=MembershipRole.OWNER)
    if not owners.exclude(pk=membership.pk).exists():
        raise DomainError(
            f"{membership.user} is the last owner of {provider} and cannot be {doing}. "
            "Make another member an owner first."
        )


def _send_invitation_email(*, invitation_id: int, accept_url: str) -> None:
    invitation = Invitation.objects.select_related("provider", "invited_by").get(pk=invitation_id)
    context = {
        "invitation": invitation,
        "provider": invitation.provider,
        "inviter": invitation.invited_by,
        "accept_url": accept_url,
        "expires_at": timezone.localtime(invitation.expires_at),
    }
    subject = render_to_string("accounts/email/invitation_subject.txt", context)
    send_mail(
        subject=" ".join(subject.split()),
        message=render_to_string("accounts/email/invitation_message.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        recipient_list=[invitation.email],
    )


def _refuse_too_many_pending(*, provider: Provider) -> None:
    """At most settings.INVITATIONS_PENDING_MAX (50) invitations in date wait for an answer per
    provider, so a member cannot turn the portal into a mass mailer. Call with the provider row
    locked (as invitation_create does), so concurrent invitations cannot both take the last
    place. Invitations past their expiry no longer count: their links stopped working."""
    limit = getattr(settings, "INVITATIONS_PENDING_MAX", INVITATIONS_PENDING_MAX_DEFAULT)
    pending = Invitation.objects.filter(
        provider_id=provider.pk, status=InvitationStatus.PENDING, expires_at__gt=timezone.now()
    ).count()
    if pending >= limit:
        raise DomainError(
            f"{provider} already has {pending} pending invitation{'' if pending == 1 else 's'}, "
            "the most it may have at once. Revoke those nobody will answer, or wait until they "
            "are accepted or expire, then invite more."
        )


@transaction.atomic
def invitation_create(
    *,
    provider: Provider,
    email: str,
    role: str,
    actor: User,
    accept_url: Callable[[str], str],
) -> Invitation:
    """Invite `email` to join `provider` as `role`, and e-mail them the signed accept link.

    `accept_url` turns the link's token into the absolute URL to send (the caller knows the
    site's address; this service does not). The e-mail goes out only once the invitation is
    committed. An earlier invitation found PENDING past its expiry is marked EXPIRED first.
    A provider holds at most settings.INVITATIONS_PENDING_MAX pending invitations (the portal
    also limits how many one person sends per hour: accounts.ratelimits).
    """
    email = User.normalize_email_address(email)
    _check_role(role)
    provider = _lock_provider(provider.pk)
    manager = _manager_membership(provider=provider, actor=actor, doing="invite people")
    _refuse_owner_business(manager=manager, role=role, doing="invite an owner")
    if provider.status == ProviderStatus.CLOSED:
        raise DomainError(f"{provider} is closed and cannot take new members.")
    if Membership.objects.filter(
        provider_id=provider.pk, user__in=User.objects.with_email(email)
    ).exists():
        raise DomainError(f"{email} is already a member of {provider}.", field="email")
    _refuse_too_many_pending(provider=provider)

    duplicate = DomainError(
        f"{email} already has a pending invitation to {provider}. Revoke it first to send a "
        "new one.",
        field="email",
    )
    earlier = pending_invitation_for_email(provider_id=provider.pk, email=email)
    if earlier is not None:
        if not earlier.is_expired:
            raise duplicate
        invitation_expire(invitation=earlier, actor=None)

    invitation = Invitation(provider=provider, email=email, role=role, invited_by=actor)
    try:
        # The pending-invitation constraint is the database's to enforce (below), with the
        # message above; Django's own check of it would say only "Constraint ... is violated".
        invitation.full_clean(validate_constraints=False)
    except ValidationError as exc:
        raise DomainError.from_validation_error(exc) from exc
    with unique_violations_as_domain_errors(
        {"accounts_invitation_one_pending_per_email": duplicate}
    ):
        invitation.save()
    audit_record(
        subject=invitation,
        action="invitation_create",
        actor=actor,
        provider_id=provider.pk,
        to_status=invitation.status,
        extra={"email": email, "role": role, "expires_at": invitation.expires_at.isoformat()},
    )
    url = accept_url(invitation_token(invitation=invitation))
    # robust: a mail server that is down must not turn a committed invitation into an error
    # page; the failure is logged and the invitation can be revoked and sent again.
    transaction.on_commit(
        lambda: _send_invitation_email(invitation_id=invitation.pk, accept_url=url), robust=True
    )
    return invitation


@transaction.atomic
def invitation_accept(*, invitation: Invitation, user: User) -> Membership:
    """The invitee joins the provider with the invited role: PENDING -> ACCEPTED.

    Only the person the invitation was sent to (the signed-in user's e-mail address), only
    while it is pending and unexpired, and only into a provider that is not closed.
    """
    provider = _lock_provider(invitation.provider_id)
    locked = Invitation.objects.select_for_update(no_key=True).get(pk=invitation.pk)
    locked.provider = provider
    problem = invitation_acceptance_problem(invitation=locked, user=user)
    if problem is not None:
        raise DomainError(problem)
    membership = membership_add(provider=provider, user=user, role=locked.role, actor=user)
    transition(
        instance=invitation,
        to_status=InvitationStatus.ACCEPTED,
        table=INVITATION_TRANSITIONS,
        action="invitation_accept",
        actor=user,
        changes={"accepted_by": user, "accepted_at": timezone.now()},
        provider_id_of=_invitation_provider_id,
        extra={"email": locked.email, "role": locked.role, "membership": membership.pk},
        decision_fields=False,
    )
    return membership


def _invitation_provider_id(invitation: Invitation) -> int:
    return invitation.provider_id


@transaction.atomic
def invitation_revoke(*, invitation: Invitation, actor: User, reason: str = "") -> Invitation:
    """Withdraw a pending invitation: PENDING -> REVOKED. Its link stops working at once."""
    provider = _lock_provider(invitation.provider_id)
    manager = _manager_membership(provider=provider, actor=actor, doing="revoke invitations")
    locked = Invitation.objects.select_for_update(no_key=True).get(pk=invitation.pk)
    _refuse_owner_business(manager=manager, role=locked.role, doing="revoke an owner invitation")
    if locked.status != InvitationStatus.PENDING:
        raise InvalidTransition(
            f"The invitation of {locked.email} is already {locked.get_status_display().lower()}"
            "; only a pending invitation can be revoked."
        )
    return transition(
        instance=invitation,
        to_status=InvitationStatus.REVOKED,
        table=INVITATION_TRANSITIONS,
        action="invitation_revoke",
        actor=actor,
        reason=reason,
        provider_id_of=_invitation_provider_id,
        extra={"email": locked.email, "role": locked.role},
    )


@transaction.atomic
def invitation_expire(*, invitation: Invitation, actor: User | None = None) -> Invitation:
    """Mark a pending invitation past its expiry EXPIRED (PENDING -> EXPIRED).

    Its link already stopped working at `expires_at`; this records it, and frees the address
    for a new invitation (only one may be pending). Refuses an invitation still in date.
    """
    if timezone.now() < invitation.expires_at:
        raise DomainError(f"The invitation of {invitation.email} has not expired yet.")
    return transition(
        instance=invitation,
        to_status=InvitationStatus.EXPIRED,
        table=INVITATION_TRANSITIONS,
        action="invitation_expire",
        actor=actor,
        provider_id_of=_invitation_provider_id,
        extra={"email": invitation.email, "expires_at": invitation.expires_at.isoformat()},
    )


@transaction.atomic
def membership_change_role(*, membership: Membership, role: str, actor: User) -> Membership:
    """Give a member another role. Only an owner changes an owner or makes one, and the last
    owner cannot be demoted. Giving the role the member already has changes nothing."""
    _check_role(role)
    provider = _lock_provider(membership.provider_id)
    manager = _manager_membership(provider=provider, actor=actor, doing="change roles")
    locked = _locked_membership(membership)
    if locked.role == role:
        return locked
    _refuse_owner_business(manager=manager, role=locked.role, doing="change an owner's role")
    _refuse_owner_business(manager=manager, role=role, doing="make someone an owner")
    _refuse_losing_the_last_owner(membership=locked, provider=provider, doing="demoted")
    previous = locked.role
    locked.role = role
    locked.save(update_fields=["role"])
    audit_record(
        subject=locked,
        action="membership_change_role",
        actor=actor,
        provider_id=provider.pk,
        extra={"user": locked.user.email, "from_role": previous, "to_role": role},
    )
    membership.role = role
    return locked


@transaction.atomic
def membership_remove(*, membership: Membership, actor: User) -> None:
    """Take a member out of the provider. Members may always leave themselves; removing someone
    else needs MANAGE_MEMBERS (and an owner to remove an owner). The last owner stays."""
    provider = _lock_provider(membership.provider_id)
    locked = _locked_membership(membership)
    leaving = locked.user_id == actor.pk
    if not leaving:
        manager = _manager_membership(provider=provider, actor=actor, doing="remove members")
        _refuse_owner_business(manager=manager, role=locked.role, doing="remove an owner")
    _refuse_losing_the_last_owner(membership=locked, provider=provider, doing="removed")
    audit_record(
        subject=locked,
        action="membership_leave" if leaving else "membership_remove",
        actor=actor,
        provider_id=provider.pk,
        extra={"user": locked.user.email, "role": locked.role},
    )
    locked.delete()


def _locked_membership(membership: Membership) -> Membership:
    locked = (
        Membership.objects.select_for_update(of=("self",), no_key=True)
        .select_related("user")
        .filter(pk=membership.pk)
        .first()
    )
    if locked is None:
        raise DomainError(f"{membership.user} is no longer a member.")
    return locked

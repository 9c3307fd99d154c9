"""Reads for users, providers, memberships and invitations, always scoped to the person asking."""

from dataclasses import dataclass
from datetime import datetime

from django.core import signing
from django.db.models import Count, Min, QuerySet
from django.db.models.functions import Lower
from django.utils import timezone

from accounts.constants import INVITATION_TOKEN_SALT, InvitationStatus, ProviderStatus
from accounts.models import Invitation, Membership, Provider, User


def memberships_for_user(*, user: User) -> QuerySet[Membership]:
    """The user's memberships with their providers, in the order the switcher lists them."""
    return (
        Membership.objects.filter(user=user)
        .select_related("provider")
        .order_by("provider__legal_name", "provider_id")
    )


def provider_members(*, provider_id: int) -> QuerySet[Membership]:
    return (
        Membership.objects.filter(provider_id=provider_id)
        .select_related("user")
        .order_by("user__email")
    )


def provider_membership_of(*, provider_id: int, user: User) -> Membership | None:
    """`user`'s membership in the provider, or None (anonymous users are members of nothing)."""
    if user is None or not user.is_authenticated:
        return None
    return Membership.objects.filter(provider_id=provider_id, user=user).first()


def provider_invitations(*, provider_id: int) -> QuerySet[Invitation]:
    """Every invitation the provider ever sent, newest first."""
    return Invitation.objects.filter(provider_id=provider_id).select_related("invited_by")


def provider_pending_invitations(*, provider_id: int) -> QuerySet[Invitation]:
    """Invitations nobody has accepted, revoked or marked expired yet, soonest to expire first.

    Includes those already past `expires_at` (their links no longer work) so the team page can
    say so; `Invitation.is_expired` tells them apart."""
    return (
        provider_invitations(provider_id=provider_id)
        .filter(status=InvitationStatus.PENDING)
        .order_by("expires_at", "pk")
    )


def pending_invitation_for_email(*, provider_id: int, email: str) -> Invitation | None:
    """The provider's one PENDING invitation for this address in any case, if there is one.

    Compares Lower("email"), the expression of the partial unique index, so the index serves it.
    """
    return (
        Invitation.objects.alias(email_lower=Lower("email"))
        .filter(
            provider_id=provider_id,
            status=InvitationStatus.PENDING,
            email_lower=User.normalize_email_address(email),
        )
        .first()
    )


def invitation_token(*, invitation: Invitation) -> str:
    """The signed, URL-safe token of the accept link. Only its signature makes it valid; whether
    the invitation can still be accepted is decided when it is used."""
    return signing.dumps(invitation.pk, salt=INVITATION_TOKEN_SALT, compress=False)


def invitation_for_token(*, token: str) -> Invitation | None:
    """The invitation a signed token names; None when the token is tampered with, signed for
    something else, or names no invitation."""
    try:
        invitation_id = signing.loads(token, salt=INVITATION_TOKEN_SALT)
    except signing.BadSignature:
        return None
    if not isinstance(invitation_id, int) or isinstance(invitation_id, bool):
        return None
    return (
        Invitation.objects.select_related("provider", "invited_by").filter(pk=invitation_id).first()
    )


def _when(moment) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M %Z")


def invitation_acceptance_problem(*, invitation: Invitation, user: User) -> str | None:
    """Why `user` cannot accept `invitation` now, in words for them; None when they can.

    The one statement of the acceptance rules: the accept page asks it before offering the
    button, and invitation_accept asks it again under lock before acting.
    """
    provider = invitation.provider
    if invitation.status == InvitationStatus.ACCEPTED:
        if invitation.accepted_by_id == user.pk:
            return f"You have already accepted this invitation: you are a member of {provider}."
        return "This invitation has already been used."
    if invitation.status == InvitationStatus.REVOKED:
        return (
            f"This invitation to {provider} was withdrawn. Ask an owner or administrator of "
            f"{provider} to invite you again if you still need access."
        )
    if invitation.is_expired:
        return (
            f"This invitation to {provider} expired on {_when(invitation.expires_at)}. Ask an "
            f"owner or administrator of {provider} to invite you again."
        )
    if User.normalize_email_address(user.email) != User.normalize_email_address(invitation.email):
        return (
            f"This invitation was sent to {invitation.email}, but you are signed in as "
            f"{user.email}. Sign out, then sign in (or create an account) with "
            f"{invitation.email} to accept it."
        )
    if provider.status == ProviderStatus.CLOSED:
        return f"{provider} is closed and takes no new members."
    if Membership.objects.filter(provider_id=provider.pk, user=user).exists():
        return f"You are already a member of {provider}."
    return None


# --- Staff review (the admin's queues). Postal staff see every provider: these reads are not
# scoped to a tenant; the admin's permissions decide who reaches them. -----------------------


@dataclass(frozen=True)
class PendingCount:
    """How many items wait for a staff decision, and since when the oldest has been waiting."""

    count: int
    oldest: datetime | None


def pending_count(queryset: QuerySet, *, since: str) -> PendingCount:
    """Count `queryset` (the pending items of one queue) and its earliest `since`. One query."""
    row = queryset.aggregate(count=Count("pk"), oldest=Min(since))
    return PendingCount(count=row["count"], oldest=row["oldest"])


def providers_pending_review() -> PendingCount:
    """Providers waiting for approval; they wait from the moment they formed the organisation."""
    return pending_count(
        Provider.objects.filter(status=ProviderStatus.PENDING_REVIEW), since="created_at"
    )

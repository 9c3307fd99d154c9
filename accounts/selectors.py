"""Reads for users, providers and memberships, always scoped to the person asking."""

from django.db.models import QuerySet

from accounts.models import Membership, User


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

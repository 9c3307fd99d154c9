"""Reads for the Mailer IDs and "Who can read my MIDs" pages, each scoped to the provider asking:
as the claimant (its own links) or as the owner (other providers' links to the MIDs it holds a
verified OWNED link for). Views fetch every object through these, so another provider's ids
are simply not found."""

import re

from django.db.models import Q, QuerySet

from accounts.constants import ProviderStatus
from accounts.models import Provider
from agreements.constants import MidLinkStatus, MidRelation
from agreements.models import MidLink
from core.errors import DomainError

_ASCII_DIGITS = re.compile(r"[0-9]+")


def mid_links_for_provider(*, provider: Provider) -> QuerySet[MidLink]:
    """The provider's own MID links, every status, newest claim first."""
    return (
        MidLink.objects.filter(provider=provider)
        .select_related("owner_provider")
        .order_by("-requested_at", "-pk")
    )


def mid_links_for_staff() -> QuerySet[MidLink]:
    """Every link, for postal staff (the evidence download from the admin)."""
    return MidLink.objects.all()


def verified_owner_link(*, mid: str) -> MidLink | None:
    """The verified OWNED link of `mid` held by a provider registered here (not closed)."""
    return (
        MidLink.objects.filter(mid=mid, relation=MidRelation.OWNED, status=MidLinkStatus.VERIFIED)
        .exclude(provider__status=ProviderStatus.CLOSED)
        .select_related("provider")
        .first()
    )


def owned_mids(*, provider: Provider) -> QuerySet[MidLink]:
    """The MIDs the provider holds a verified OWNED link for (as a values list of `mid`)."""
    return (
        MidLink.objects.filter(
            provider=provider, relation=MidRelation.OWNED, status=MidLinkStatus.VERIFIED
        )
        .order_by("mid")
        .values_list("mid", flat=True)
    )


def _others_links_to_owned_mids(*, owner: Provider) -> QuerySet[MidLink]:
    return (
        MidLink.objects.filter(
            relation=MidRelation.AUTHORIZED_BY_OWNER,
            mid__in=owned_mids(provider=owner).order_by(),
        )
        .exclude(provider=owner)
        .select_related("provider", "consented_by", "owner_provider")
    )


def consent_requests_for_owner(*, owner: Provider) -> QuerySet[MidLink]:
    """Requests routed to the owner for consent that wait for its decision, oldest first.
    Only while it still holds the MID: a former owner sees nothing."""
    return (
        _others_links_to_owned_mids(owner=owner)
        .filter(owner_provider=owner, status=MidLinkStatus.REQUESTED)
        .order_by("requested_at", "pk")
    )


def consent_grants_for_owner(*, owner: Provider) -> QuerySet[MidLink]:
    """Every provider now authorized for one of the owner's MIDs: by the owner's consent here,
    or by a letter of authorization staff verified."""
    return (
        _others_links_to_owned_mids(owner=owner)
        .filter(status=MidLinkStatus.VERIFIED)
        .order_by("mid", "provider__legal_name", "pk")
    )


def consent_links_for_owner(*, owner: Provider) -> QuerySet[MidLink]:
    """What the owner's decision pages may address: requests routed to it (in any status, so
    a second click finds the first one's result) and authorizations of its MIDs, current or
    revoked. Another provider's claim that staff are checking on a letter is not among them."""
    return _others_links_to_owned_mids(owner=owner).filter(
        Q(owner_provider=owner) | Q(status__in=[MidLinkStatus.VERIFIED, MidLinkStatus.REVOKED])
    )


def _grantable(*, owner: Provider) -> QuerySet[Provider]:
    """The providers an owner may grant access to: ACTIVE ones (reviewed by postal staff), other
    than itself. Anybody can register a provider under any name; until staff approve it, it is
    invisible here, so a newcomer cannot squat on a real company's name or CRID."""
    return Provider.objects.filter(status=ProviderStatus.ACTIVE).exclude(pk=owner.pk)


def consent_grantee_find(*, identifier: str, owner: Provider) -> Provider:
    """The one ACTIVE provider (not the owner) whose CRID or legal name is exactly `identifier`
    (the name compared without regard to case or repeated spaces).

    Refuses rather than guesses, and never lists candidates: a user learns only whether the
    exact CRID or name they typed names exactly one active provider. The portal then shows the
    provider found for the user to confirm before anything is granted (see
    `consent_grantee_get`).
    """
    wanted = " ".join(identifier.split())
    if not wanted:
        raise DomainError("Give the provider's CRID or exact legal name.", field="grantee")
    match = Q(legal_name__iexact=wanted)
    if _ASCII_DIGITS.fullmatch(wanted):
        match |= Q(crid=wanted)
    found = list(_grantable(owner=owner).filter(match).order_by("pk")[:2])
    if not found:
        raise DomainError(
            f"No active provider registered here has the CRID or exact legal name {wanted!r}. "
            "Ask them for the legal name or CRID they registered with. A provider postal staff "
            "have not approved yet cannot be granted access.",
            field="grantee",
        )
    if len(found) > 1:
        raise DomainError(
            f"More than one provider matches {wanted!r}. Use the provider's CRID, or its full "
            "legal name if you used the CRID.",
            field="grantee",
        )
    return found[0]


GRANTEE_GONE = (
    "The provider you confirmed cannot be granted access: it is not an active provider "
    "registered here. Give its CRID or exact legal name again."
)


def consent_grantee_get(*, provider_id: object, owner: Provider) -> Provider:
    """The ACTIVE provider (not the owner) with this id, as posted by the grant's confirmation.

    Any active provider's id is acceptable (providers are not a tenant's objects, and the owner
    saw this one's name and CRID before confirming), but nothing else: a pending, suspended or
    closed provider's id, the owner's own, an unknown id or junk all get the one same error on
    `grantee`, so the id tells nothing about providers that are not active.
    """
    try:
        pk = int(str(provider_id))
    except ValueError:
        raise DomainError(GRANTEE_GONE, field="grantee") from None
    found = _grantable(owner=owner).filter(pk=pk).first()
    if found is None:
        raise DomainError(GRANTEE_GONE, field="grantee")
    return found

"""Owner consent: the provider holding a MID's verified OWNED link decides who else reads it.

This is the shipper's side of the USPS rule that platforms read "MIDs their shippers
authorized". The owner's OWNER and ADMIN members (Permission.MANAGE_CONSENTS) approve or
decline the requests routed to them (see mid_link_request), grant access to a named provider
themselves, and revoke any authorization of their MIDs at any time. Each decision is a
transition of the grantee's MidLink through core.transitions.transition, so it is locked,
checked, audited and invalidates the grantee's cached access decisions on commit: a
revocation cuts access at once. The consent itself (who, when) is kept on the link in
`consented_by` / `consented_at`, next to `owner_provider`.

Every service first checks that the acting provider holds the MID's VERIFIED OWNED link now
(locking it, so ownership cannot change under the decision) and that the actor may manage
its consents; otherwise it refuses and changes nothing.
"""

from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.constants import ProviderStatus
from accounts.models import Membership, Provider, User
from accounts.permissions import Permission, role_can
from agreements.constants import (
    MID_LINK_OPEN_STATUSES,
    MID_LINK_TRANSITIONS,
    MidLinkStatus,
    MidRelation,
)
from agreements.models import MidLink
from core.audit import audit_record
from core.errors import DomainError, unique_violations_as_domain_errors, validate
from core.tracking_numbers import is_valid_mid
from core.transitions import transition


def _check_actor(*, owner: Provider, actor: User) -> None:
    membership = Membership.objects.filter(provider=owner, user=actor).first()
    if membership is None or not role_can(membership.role, Permission.MANAGE_CONSENTS):
        raise DomainError(
            f"{actor} cannot decide who reads {owner}'s Mailer IDs: only its owners and "
            "administrators can."
        )
    if owner.status == ProviderStatus.CLOSED:
        raise DomainError(f"{owner} is closed and can no longer decide who reads its MIDs.")


def _lock_ownership(*, owner: Provider, mid: str) -> MidLink:
    """The owner's verified OWNED link of `mid`, locked until the transaction ends."""
    owned = (
        MidLink.objects.select_for_update(no_key=True)
        .filter(provider=owner, mid=mid, relation=MidRelation.OWNED, status=MidLinkStatus.VERIFIED)
        .first()
    )
    if owned is None:
        raise DomainError(
            f"{owner} is not the verified owner of MID {mid}, so it cannot decide who reads it.",
            field="mid",
        )
    return owned


def _extra(link: MidLink, owner: Provider, side: str) -> dict[str, Any]:
    return {
        "mid": link.mid,
        "relation": link.relation,
        "owner_provider_id": owner.pk,
        "owner_provider": owner.legal_name,
        "grantee_provider_id": link.provider_id,
        "side": side,
    }


def _link_provider_id(link: MidLink) -> int:
    return link.provider_id


def _consent_transition(
    *,
    link: MidLink,
    owner: Provider,
    from_status: str,
    to_status: str,
    action: str,
    actor: User,
    reason: str,
    reason_required: bool,
    changes: dict[str, Any] | None = None,
) -> MidLink:
    """The grantee's link changes status (audited for the grantee, its cache bumped); a second
    audit entry puts the same decision on the owner's timeline. `from_status` is the one status
    the table allows `to_status` from (the transition refuses any other)."""
    transition(
        instance=link,
        to_status=to_status,
        table=MID_LINK_TRANSITIONS,
        action=action,
        actor=actor,
        reason=reason,
        reason_required=reason_required,
        provider_id_of=_link_provider_id,
        extra=_extra(link, owner, "grantee"),
        changes=changes,
    )
    audit_record(
        subject=link,
        action=action,
        actor=actor,
        provider_id=owner.pk,
        from_status=from_status,
        to_status=to_status,
        reason=reason.strip(),
        extra=_extra(link, owner, "owner"),
    )
    return link


def _consent_changes(actor: User) -> dict[str, Any]:
    now = timezone.now()
    return {"consented_by": actor, "consented_at": now, "verified_by": actor, "verified_at": now}


def _routed_request(*, link: MidLink, owner: Provider) -> MidLink:
    """The link re-read under lock, refused unless it is a request routed to `owner`."""
    locked = MidLink.objects.select_for_update(no_key=True).get(pk=link.pk)
    if locked.relation != MidRelation.AUTHORIZED_BY_OWNER or locked.owner_provider_id != owner.pk:
        raise DomainError(f"{link} is not a request for {owner}'s consent.")
    if locked.status != MidLinkStatus.REQUESTED:
        raise DomainError(
            f"{link} was already decided: it is {locked.get_status_display().lower()}."
        )
    return locked


@transaction.atomic
def consent_approve(*, link: MidLink, owner: Provider, actor: User, reason: str = "") -> MidLink:
    """REQUESTED -> VERIFIED: the owner lets the requesting provider read its MID.

    Unlike consent_grant, the requester need not be ACTIVE: a provider pending staff review (or
    suspended) may ask, and its owner may say yes. That records the owner's consent only; the
    access decision still denies every read until staff make (or keep) the provider ACTIVE, and
    the request lists the requester's status for the owner to judge. A closed requester is
    refused: it can never read again, so there is nothing to consent to (decline it instead).
    """
    _check_actor(owner=owner, actor=actor)
    _lock_ownership(owner=owner, mid=link.mid)
    _routed_request(link=link, owner=owner)
    if Provider.objects.filter(pk=link.provider_id, status=ProviderStatus.CLOSED).exists():
        raise DomainError(
            f"{link.provider} is closed and can no longer read Mailer IDs: decline its request."
        )
    return _consent_transition(
        link=link,
        owner=owner,
        from_status=MidLinkStatus.REQUESTED,
        to_status=MidLinkStatus.VERIFIED,
        action="consent_approve",
        actor=actor,
        reason=reason,
        reason_required=False,
        changes=_consent_changes(actor),
    )


@transaction.atomic
def consent_decline(*, link: MidLink, owner: Provider, actor: User, reason: str) -> MidLink:
    """REQUESTED -> REJECTED: the owner refuses the request, saying why."""
    _check_actor(owner=owner, actor=actor)
    _lock_ownership(owner=owner, mid=link.mid)
    _routed_request(link=link, owner=owner)
    return _consent_transition(
        link=link,
        owner=owner,
        from_status=MidLinkStatus.REQUESTED,
        to_status=MidLinkStatus.REJECTED,
        action="consent_decline",
        actor=actor,
        reason=reason,
        reason_required=True,
    )


@transaction.atomic
def consent_revoke(*, link: MidLink, owner: Provider, actor: User, reason: str) -> MidLink:
    """VERIFIED -> REVOKED: the owner withdraws another provider's authorization for its MID,
    whether the owner consented here or staff verified the provider's letter. Access through
    the link ends as soon as this commits."""
    _check_actor(owner=owner, actor=actor)
    _lock_ownership(owner=owner, mid=link.mid)
    locked = MidLink.objects.select_for_update(no_key=True).get(pk=link.pk)
    if locked.relation != MidRelation.AUTHORIZED_BY_OWNER or locked.provider_id == owner.pk:
        raise DomainError(f"{link} is not an authorization {owner} can revoke.")
    if locked.status != MidLinkStatus.VERIFIED:
        raise DomainError(
            f"{link} is {locked.get_status_display().lower()}: there is no access to revoke."
        )
    return _consent_transition(
        link=link,
        owner=owner,
        from_status=MidLinkStatus.VERIFIED,
        to_status=MidLinkStatus.REVOKED,
        action="consent_revoke",
        actor=actor,
        reason=reason,
        reason_required=True,
    )


@transaction.atomic
def consent_grant(
    *,
    owner: Provider,
    grantee: Provider,
    mid: str,
    actor: User,
    reason: str = "",
    valid_until: datetime | None = None,
) -> MidLink:
    """The owner authorizes `grantee` to read its MID: a VERIFIED AUTHORIZED_BY_OWNER link.

    Only an ACTIVE grantee: the owner names it (the portal shows who that is and asks to
    confirm), and a provider still pending staff review could have registered under anybody's
    name. Compare consent_approve, which answers a request the provider made itself.

    The link is inserted as a request and moved to VERIFIED in the same transaction, so the
    grant goes through the one transition helper (audit, cache bump) like every decision.
    """
    mid = mid.strip()
    if not is_valid_mid(mid):
        raise DomainError(f"{mid!r} is not a valid Mailer ID.", field="mid")
    _check_actor(owner=owner, actor=actor)
    if grantee.pk == owner.pk:
        raise DomainError(f"{owner} owns MID {mid} already.", field="grantee")
    if grantee.status != ProviderStatus.ACTIVE:
        # A provider postal staff have not reviewed (or have suspended or closed) may carry
        # any name; consent goes only to one they approved.
        raise DomainError(
            f"{grantee} cannot be granted access: it is not active (only a provider postal "
            "staff have approved, and not suspended or closed, can be).",
            field="grantee",
        )
    _lock_ownership(owner=owner, mid=mid)
    existing = MidLink.objects.filter(
        provider=grantee,
        mid=mid,
        relation=MidRelation.AUTHORIZED_BY_OWNER,
        status__in=MID_LINK_OPEN_STATUSES,
    ).first()
    if existing is not None and existing.status == MidLinkStatus.VERIFIED:
        raise DomainError(f"{grantee} can already read MID {mid}.", field="grantee")
    if existing is not None:
        raise DomainError(
            f"{grantee} has already asked to read MID {mid}: "
            + (
                "approve its request under 'Requests waiting for you'."
                if existing.owner_provider_id == owner.pk
                else "postal staff are checking its letter of authorization."
            ),
            field="grantee",
        )
    now = timezone.now()
    link = MidLink(
        provider=grantee,
        mid=mid,
        relation=MidRelation.AUTHORIZED_BY_OWNER,
        owner_name=owner.legal_name,
        owner_crid=owner.crid,
        owner_provider=owner,
        valid_from=now,
        valid_until=valid_until,
        requested_by=actor,
    )
    if valid_until is not None and valid_until <= now:
        raise DomainError("The access must end in the future.", field="valid_until")
    validate(link, exclude=["evidence"])
    with unique_violations_as_domain_errors(
        {
            "agreements_one_open_link_per_provider_mid_relation": DomainError(
                f"{grantee} was given access to MID {mid} at the same moment.", field="grantee"
            )
        }
    ):
        link.save()
    return _consent_transition(
        link=link,
        owner=owner,
        from_status=MidLinkStatus.REQUESTED,
        to_status=MidLinkStatus.VERIFIED,
        action="consent_grant",
        actor=actor,
        reason=reason,
        reason_required=False,
        changes=_consent_changes(actor),
    )

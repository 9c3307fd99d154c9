"""Providers: forming one, and every change of its status or billing hold."""

from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.constants import (
    PROVIDER_TRANSITIONS,
    MembershipRole,
    ProviderStatus,
    SuspensionCause,
)
from accounts.models import Membership, Provider, User
from core import access_cache
from core.audit import audit_record
from core.errors import (
    DomainError,
    validate,
)
from core.transitions import transition


def _provider_id(provider: Provider) -> int:
    return provider.pk


@transaction.atomic
def provider_create(
    *,
    owner: User,
    legal_name: str,
    provider_type: str,
    address_line1: str,
    city: str,
    state: str,
    zip_code: str,
    contact_email: str,
    contact_phone: str,
    dba_name: str = "",
    crid: str = "",
    address_line2: str = "",
) -> Provider:
    """Form an organisation, pending staff review, with `owner` as its OWNER member.

    Invalid details raise a DomainError whose `field_errors` name the fields."""
    provider = Provider(
        legal_name=legal_name.strip(),
        dba_name=dba_name.strip(),
        crid=crid.strip(),
        provider_type=provider_type,
        address_line1=address_line1.strip(),
        address_line2=address_line2.strip(),
        city=city.strip(),
        state=state.strip().upper(),
        zip_code=zip_code.strip(),
        contact_email=contact_email.strip(),
        contact_phone=contact_phone.strip(),
    )
    validate(provider)
    provider.save()
    Membership.objects.create(user=owner, provider=provider, role=MembershipRole.OWNER)
    audit_record(
        subject=provider,
        action="provider_create",
        actor=owner,
        provider_id=provider.pk,
        to_status=provider.status,
        extra={"provider_type": provider_type, "owner": owner.email},
    )
    return provider


def _provider_transition(
    *,
    provider: Provider,
    to_status: str,
    action: str,
    actor: User | None,
    reason: str,
    reason_required: bool,
    changes: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
    only_from: frozenset[str] | None = None,
) -> Provider:
    return transition(
        instance=provider,
        to_status=to_status,
        table=PROVIDER_TRANSITIONS,
        action=action,
        actor=actor,
        reason=reason,
        reason_required=reason_required,
        changes=changes,
        provider_id_of=_provider_id,
        extra=extra,
        decision_fields=False,
        only_from=only_from,
    )


def provider_approve(*, provider: Provider, actor: User, reason: str = "") -> Provider:
    """PENDING_REVIEW -> ACTIVE."""
    return _provider_transition(
        provider=provider,
        to_status=ProviderStatus.ACTIVE,
        action="provider_approve",
        actor=actor,
        reason=reason,
        reason_required=False,
        # The table also allows SUSPENDED -> ACTIVE, but that is a reinstatement.
        only_from=frozenset({ProviderStatus.PENDING_REVIEW}),
    )


def provider_suspend(
    *, provider: Provider, actor: User | None, reason: str, cause: str
) -> Provider:
    """ACTIVE -> SUSPENDED, recording whether staff or non-payment caused it."""
    if cause not in SuspensionCause.values:
        raise DomainError(f"Unknown suspension cause {cause!r}.")
    return _provider_transition(
        provider=provider,
        to_status=ProviderStatus.SUSPENDED,
        action="provider_suspend",
        actor=actor,
        reason=reason,
        reason_required=True,
        changes={"suspension_cause": cause},
        extra={"cause": cause},
    )


def provider_reinstate(*, provider: Provider, actor: User | None, reason: str) -> Provider:
    """SUSPENDED -> ACTIVE."""
    return _provider_transition(
        provider=provider,
        to_status=ProviderStatus.ACTIVE,
        action="provider_reinstate",
        actor=actor,
        reason=reason,
        reason_required=True,
        changes={"suspension_cause": ""},
        only_from=frozenset({ProviderStatus.SUSPENDED}),
    )


@transaction.atomic
def provider_close(*, provider: Provider, actor: User | None, reason: str) -> Provider:
    """Any open status -> CLOSED (final).

    A closed provider's consents to other providers end with it (the access decision counts a
    consented link only while its owner is open), and those providers' cached decisions must
    not outlive that: closing is rare, so every cached decision is invalidated on commit.
    """
    closed = _provider_transition(
        provider=provider,
        to_status=ProviderStatus.CLOSED,
        action="provider_close",
        actor=actor,
        reason=reason,
        reason_required=True,
        changes={"suspension_cause": ""},
    )
    access_cache.bump_all()
    return closed


@transaction.atomic
def provider_billing_hold_set(*, provider: Provider, reason: str, actor: User | None) -> Provider:
    """Stop access for non-payment until the hold is released. Idempotent."""
    reason = reason.strip()
    if not reason:
        raise DomainError("A billing hold needs a reason.")
    locked = Provider.objects.select_for_update(no_key=True).get(pk=provider.pk)
    if locked.billing_hold:
        return locked
    locked.billing_hold, locked.billing_hold_reason = True, reason
    locked.billing_hold_at = timezone.now()
    locked.save(
        update_fields=["billing_hold", "billing_hold_reason", "billing_hold_at", "updated_at"]
    )
    audit_record(
        subject=locked, action="billing_hold_set", actor=actor, provider_id=locked.pk, reason=reason
    )
    access_cache.bump_provider(locked.pk)
    provider.billing_hold, provider.billing_hold_reason = True, reason
    provider.billing_hold_at = locked.billing_hold_at
    return locked


@transaction.atomic
def provider_billing_hold_release(
    *, provider: Provider, reason: str, actor: User | None
) -> Provider:
    """Lift a billing hold. Idempotent."""
    locked = Provider.objects.select_for_update(no_key=True).get(pk=provider.pk)
    if not locked.billing_hold:
        return locked
    previous = locked.billing_hold_reason
    locked.billing_hold, locked.billing_hold_reason, locked.billing_hold_at = False, "", None
    locked.save(
        update_fields=["billing_hold", "billing_hold_reason", "billing_hold_at", "updated_at"]
    )
    audit_record(
        subject=locked,
        action="billing_hold_release",
        actor=actor,
        provider_id=locked.pk,
        reason=reason.strip(),
        extra={"hold_reason": previous},
    )
    access_cache.bump_provider(locked.pk)
    provider.billing_hold, provider.billing_hold_reason, provider.billing_hold_at = False, "", None
    return locked


# --- Team: invitations, role changes and removals ------------------------------------------
#
# Every team change of one provider first locks that provider's row, so they run one at a time:
# two owners demoting each other at once cannot leave the provider without an OWNER, and the
# CLOSED check cannot race provider_close. Row locks are always taken provider first, then the
# invitation or membership.

"""MID link claims (routed to staff, or to the MID's registered owner for consent), staff
decisions on them, and the claimant withdrawing a pending claim."""

from datetime import datetime
from typing import Any

from django.core.files import File
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.constants import ProviderStatus
from accounts.models import Membership, Provider, User
from accounts.notifications import decision_notify_on_commit
from accounts.permissions import Permission, role_can
from agreements.constants import (
    MID_LINK_OPEN_STATUSES,
    MID_LINK_TRANSITIONS,
    MidLinkStatus,
    MidRelation,
)
from agreements.models import MidLink
from agreements.notifications import consent_request_notify
from agreements.selectors.mids import verified_owner_link
from agreements.uploads import FileType, UploadRefused, check_evidence
from core.audit import audit_record
from core.errors import (
    DomainError,
    unique_violations_as_domain_errors,
    validate,
    violated_constraint,
)
from core.tracking_numbers import is_valid_mid
from core.transitions import transition


def _save_with_evidence(link: MidLink, duplicate: DomainError) -> None:
    """Insert the link; if the insert fails, remove the file the save already stored."""
    try:
        with unique_violations_as_domain_errors(
            {"agreements_one_open_link_per_provider_mid_relation": duplicate}
        ):
            link.save()
    except BaseException:
        if link.evidence and link.evidence._committed:
            link.evidence.storage.delete(link.evidence.name)
        raise


@transaction.atomic
def mid_link_request(
    *,
    provider: Provider,
    mid: str,
    relation: str,
    requested_by: User,
    valid_from: datetime | None = None,
    valid_until: datetime | None = None,
    owner_name: str = "",
    owner_crid: str = "",
    evidence: File | None = None,
) -> MidLink:
    """Claim a MID.

    An OWNED claim goes to staff. An AUTHORIZED_BY_OWNER claim goes either to staff, with the
    owner's name, CRID and letter of authorization, or, when it comes without a letter and the
    MID's verified owner is a provider registered here, to that owner for consent
    (`owner_provider`), who approves or declines it (agreements.services.consents).
    The letter's type is detected from its content (PDF, PNG or JPEG, at most 5 MB).
    """
    mid = mid.strip()
    if not is_valid_mid(mid):
        raise DomainError(
            f"{mid!r} is not a valid Mailer ID: use 6 digits starting 0-8, or 9 digits starting 9.",
            field="mid",
        )
    if relation not in MidRelation.values:
        raise DomainError(f"Unknown MID relation {relation!r}.", field="relation")
    if provider.status == ProviderStatus.CLOSED:
        raise DomainError(f"{provider} is closed and cannot link Mailer IDs.")
    valid_from = valid_from or timezone.now()
    if valid_until is not None and valid_until <= valid_from:
        raise DomainError("The link's end must be after its start.")
    owner_name, owner_crid = owner_name.strip(), owner_crid.strip()
    owner_provider: Provider | None = None
    detected: FileType | None = None
    if relation == MidRelation.AUTHORIZED_BY_OWNER:
        owner = verified_owner_link(mid=mid)
        if owner is not None and owner.provider_id == provider.pk:
            raise DomainError(
                f"{provider} is the verified owner of MID {mid}: it needs no authorization.",
                field="relation",
            )
        if evidence is None and owner is not None:
            owner_provider = owner.provider  # the registered owner decides; no letter needed
        else:
            # Every missing or refused part at once, each on its own field.
            problems: dict[str, list[str]] = {}
            if not owner_name:
                problems["owner_name"] = ["Name the MID's owner for an authorized link."]
            if not owner_crid:
                problems["owner_crid"] = ["Give the MID owner's CRID for an authorized link."]
            if evidence is None:
                problems["evidence"] = [
                    "A MID authorized by its owner needs evidence: upload the owner's letter of "
                    "authorization (PDF, PNG or JPEG). Only when the MID's owner has verified it "
                    "on this portal can it approve your request instead."
                ]
            else:
                try:
                    detected = check_evidence(evidence)
                except UploadRefused as exc:
                    problems["evidence"] = [str(exc)]
            if problems:
                raise DomainError(
                    " ".join(text for texts in problems.values() for text in texts),
                    field_errors=problems,
                )
    duplicate = DomainError(
        f"{provider} already has an open claim on MID {mid} of this kind.", field="mid"
    )
    if MidLink.objects.filter(
        provider=provider, mid=mid, relation=relation, status__in=MID_LINK_OPEN_STATUSES
    ).exists():
        raise duplicate

    link = MidLink(
        provider=provider,
        mid=mid,
        relation=relation,
        owner_name=owner_name if relation == MidRelation.AUTHORIZED_BY_OWNER else "",
        owner_crid=owner_crid if relation == MidRelation.AUTHORIZED_BY_OWNER else "",
        owner_provider=owner_provider,
        valid_from=valid_from,
        valid_until=valid_until,
        requested_by=requested_by,
    )
    if detected is not None and evidence is not None:
        link.evidence = evidence  # stored under a random name (evidence_upload_to)
        link.evidence_name = (evidence.name or "").rsplit("/", 1)[-1][-255:]
        link.evidence_content_type = detected.content_type
    validate(link, exclude=["evidence"])
    # An identical request committed since the check above: the partial unique index decides.
    _save_with_evidence(link, duplicate)
    audit_record(
        subject=link,
        action="mid_link_request",
        actor=requested_by,
        provider_id=provider.pk,
        to_status=link.status,
        extra={"mid": mid, "relation": relation}
        | ({"owner_provider_id": owner_provider.pk} if owner_provider else {}),
    )
    if owner_provider is not None:
        # After commit, and robust: a mail server that is down must not undo the request.
        transaction.on_commit(lambda: consent_request_notify(link_id=link.pk), robust=True)
    return link


def _link_provider_id(link: MidLink) -> int:
    return link.provider_id


def _link_transition(
    *,
    link: MidLink,
    to_status: str,
    action: str,
    actor: User | None,
    reason: str,
    required: bool,
    changes: dict[str, Any] | None = None,
) -> MidLink:
    return transition(
        instance=link,
        to_status=to_status,
        table=MID_LINK_TRANSITIONS,
        action=action,
        actor=actor,
        reason=reason,
        reason_required=required,
        provider_id_of=_link_provider_id,
        extra={"mid": link.mid, "relation": link.relation},
        changes=changes,
    )


def mid_link_verify(*, link: MidLink, actor: User, reason: str = "") -> MidLink:
    """REQUESTED -> VERIFIED. Only one provider at a time may hold a MID as its owner.

    A claim routed to the MID's registered owner is that owner's to approve, not staff's.
    """
    if link.owner_provider_id is not None:
        raise DomainError(
            f"{link} waits for the consent of the MID's registered owner "
            f"({link.owner_provider}), who approves it on its 'Who can read my MIDs' page; "
            "staff can only reject it."
        )
    if link.relation == MidRelation.OWNED:
        holder = (
            MidLink.objects.filter(
                mid=link.mid, relation=MidRelation.OWNED, status=MidLinkStatus.VERIFIED
            )
            .exclude(pk=link.pk)
            .select_related("provider")
            .first()
        )
        if holder is not None:
            raise DomainError(
                f"MID {link.mid} is already verified as owned by {holder.provider}; "
                "revoke that link before verifying another owner."
            )
    try:
        with transaction.atomic():
            return _link_transition(
                link=link,
                to_status=MidLinkStatus.VERIFIED,
                action="mid_link_verify",
                actor=actor,
                reason=reason,
                required=False,
                changes={"verified_by": actor, "verified_at": timezone.now()},
            )
    except IntegrityError as exc:
        # The partial unique index is the real guarantee when two verifications race.
        if violated_constraint(exc) != "agreements_one_verified_owner_per_mid":
            raise
        raise DomainError(
            f"MID {link.mid} was verified as owned by another provider at the same moment."
        ) from exc


def mid_link_reject(*, link: MidLink, actor: User, reason: str) -> MidLink:
    return _link_transition(
        link=link,
        to_status=MidLinkStatus.REJECTED,
        action="mid_link_reject",
        actor=actor,
        reason=reason,
        required=True,
    )


@transaction.atomic
def mid_link_revoke(*, link: MidLink, actor: User | None, reason: str) -> MidLink:
    """VERIFIED -> REVOKED: access through this link ends immediately.

    Revoking an OWNED link also ends what that ownership allowed: every authorization the
    owner consented to for this MID is revoked, and every request waiting for its consent is
    rejected, each through its own audited transition (so each grantee's cached decisions are
    invalidated too). Consent given by a provider that no longer owns the MID is no consent.
    """
    revoked = _link_transition(
        link=link,
        to_status=MidLinkStatus.REVOKED,
        action="mid_link_revoke",
        actor=actor,
        reason=reason,
        required=True,
    )
    if revoked.relation == MidRelation.OWNED:
        _lapse_consents(owner_link=revoked, actor=actor, reason=reason)
    return revoked


def _lapse_consents(*, owner_link: MidLink, actor: User | None, reason: str) -> None:
    dependants = (
        MidLink.objects.select_for_update(no_key=True)
        .filter(
            owner_provider_id=owner_link.provider_id,
            mid=owner_link.mid,
            status__in=MID_LINK_OPEN_STATUSES,
        )
        .order_by("pk")
    )
    why = (
        f"{owner_link.provider}'s ownership of MID {owner_link.mid} was revoked, so its consent "
        f"lapsed ({reason.strip()})."
    )
    for dependant in dependants:
        verified = dependant.status == MidLinkStatus.VERIFIED
        _link_transition(
            link=dependant,
            to_status=MidLinkStatus.REVOKED if verified else MidLinkStatus.REJECTED,
            action="consent_lapse" if verified else "consent_request_lapse",
            actor=actor,
            reason=why,
            required=True,
        )
        # The grantee loses access (or its request) without having done anything: tell it.
        decision_notify_on_commit(subject=dependant)


def mid_link_withdraw(*, link: MidLink, actor: User, reason: str = "") -> MidLink:
    """REQUESTED -> WITHDRAWN: the claimant takes back a claim nobody has decided yet.

    Only a member of the claiming provider who may claim MIDs can withdraw its claims. The MID
    can be claimed again afterwards (a withdrawn link is no longer open).
    """
    membership = Membership.objects.filter(provider_id=link.provider_id, user=actor).first()
    if membership is None or not role_can(membership.role, Permission.CLAIM_MIDS):
        raise DomainError(
            f"{actor} cannot withdraw {link}: only the provider's owners and administrators can."
        )
    return _link_transition(
        link=link,
        to_status=MidLinkStatus.WITHDRAWN,
        action="mid_link_withdraw",
        actor=actor,
        reason=reason,
        required=False,
    )

"""MID link claims and staff decisions on them."""

from datetime import datetime
from pathlib import PurePath
from typing import Any

from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.constants import ProviderStatus
from accounts.models import Provider, User
from agreements.constants import (
    MID_LINK_TRANSITIONS,
    MidLinkStatus,
    MidRelation,
)
from agreements.models import MidLink
from core.audit import audit_record
from core.errors import (
    DomainError,
    unique_violations_as_domain_errors,
    validate,
    violated_constraint,
)
from core.tracking_numbers import is_valid_mid
from core.transitions import transition

EVIDENCE_MAX_BYTES = 10 * 1024 * 1024
EVIDENCE_EXTENSIONS = frozenset({".pdf", ".png", ".jpg", ".jpeg"})


def _validate_evidence(evidence: UploadedFile | None) -> None:
    if evidence is None:
        raise DomainError(
            "A MID authorized by its owner needs evidence: upload the owner's letter of "
            "authorization (PDF, PNG or JPEG)."
        )
    extension = PurePath(evidence.name or "").suffix.lower()
    if extension not in EVIDENCE_EXTENSIONS:
        raise DomainError(f"Evidence must be a PDF, PNG or JPEG file; {evidence.name!r} is not.")
    if evidence.size is None or evidence.size == 0:
        raise DomainError("The evidence file is empty.")
    if evidence.size > EVIDENCE_MAX_BYTES:
        raise DomainError(
            f"The evidence file is {evidence.size // 1024 // 1024} MB; the limit is "
            f"{EVIDENCE_MAX_BYTES // 1024 // 1024} MB."
        )


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
    evidence: UploadedFile | None = None,
) -> MidLink:
    """Claim a MID for staff to verify. Authorized claims need the owner's name and evidence."""
    mid = mid.strip()
    if not is_valid_mid(mid):
        raise DomainError(
            f"{mid!r} is not a valid Mailer ID: use 6 digits starting 0-8, or 9 digits starting 9."
        )
    if relation not in MidRelation.values:
        raise DomainError(f"Unknown MID relation {relation!r}.")
    if provider.status == ProviderStatus.CLOSED:
        raise DomainError(f"{provider} is closed and cannot link Mailer IDs.")
    valid_from = valid_from or timezone.now()
    if valid_until is not None and valid_until <= valid_from:
        raise DomainError("The link's end must be after its start.")
    if relation == MidRelation.AUTHORIZED_BY_OWNER:
        if not owner_name.strip():
            raise DomainError("Name the MID's owner for an authorized link.")
        if not owner_crid.strip():
            raise DomainError("Give the MID owner's CRID for an authorized link.")
        _validate_evidence(evidence)
    duplicate = DomainError(
        f"{provider} already has an open claim on MID {mid} of this kind.", field="mid"
    )
    if MidLink.objects.filter(
        provider=provider,
        mid=mid,
        relation=relation,
        status__in=[MidLinkStatus.REQUESTED, MidLinkStatus.VERIFIED],
    ).exists():
        raise duplicate

    link = MidLink(
        provider=provider,
        mid=mid,
        relation=relation,
        owner_name=owner_name.strip(),
        owner_crid=owner_crid.strip(),
        valid_from=valid_from,
        valid_until=valid_until,
        requested_by=requested_by,
    )
    if evidence is not None:
        link.evidence = evidence
    validate(link, exclude=["evidence"])
    # An identical request committed since the check above: the partial unique index decides.
    with unique_violations_as_domain_errors(
        {"agreements_one_open_link_per_provider_mid_relation": duplicate}
    ):
        link.save()
    audit_record(
        subject=link,
        action="mid_link_request",
        actor=requested_by,
        provider_id=provider.pk,
        to_status=link.status,
        extra={"mid": mid, "relation": relation},
    )
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
    """REQUESTED -> VERIFIED. Only one provider at a time may hold a MID as its owner."""
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


def mid_link_revoke(*, link: MidLink, actor: User | None, reason: str) -> MidLink:
    """VERIFIED -> REVOKED: access through this link ends immediately."""
    return _link_transition(
        link=link,
        to_status=MidLinkStatus.REVOKED,
        action="mid_link_revoke",
        actor=actor,
        reason=reason,
        required=True,
    )

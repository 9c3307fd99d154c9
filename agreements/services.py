"""Writes for agreement versions, signatures, schedule lines and MID links.

Each status change is one service built on `agreements.transitions.transition`, which locks
the row, checks the table in constants.py, saves, audits and invalidates cached decisions.
"""

import hashlib
import unicodedata
from collections.abc import Iterable
from datetime import datetime
from pathlib import PurePath
from typing import Any

from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.constants import MembershipRole, ProviderStatus, ProviderType
from accounts.models import Membership, Provider, User
from agreements import access_cache
from agreements.audit import audit_record
from agreements.constants import (
    AGREEMENT_TRANSITIONS,
    MID_LINK_TRANSITIONS,
    SCHEDULE_LINE_TRANSITIONS,
    AgreementStatus,
    MidLinkStatus,
    MidRelation,
    ScheduleLineStatus,
)
from agreements.errors import DomainError, ImmutableRecord
from agreements.models import Agreement, AgreementScheduleLine, AgreementVersion, MidLink
from agreements.transitions import transition
from tracking.numbers import is_valid_mid

EVIDENCE_MAX_BYTES = 10 * 1024 * 1024
EVIDENCE_EXTENSIONS = frozenset({".pdf", ".png", ".jpg", ".jpeg"})
SIGNING_ROLES = frozenset({MembershipRole.OWNER, MembershipRole.ADMIN})
VERSION_EDITABLE_FIELDS = frozenset(
    {"label", "text", "effective_at", "reacceptance_days", "applies_to"}
)
LIVE_AGREEMENT_STATUSES = frozenset({AgreementStatus.SUBMITTED, AgreementStatus.APPROVED})


# --- Agreement versions ---------------------------------------------------------------------


def canonical_text(text: str) -> str:
    """The form that is hashed: NFC, \\n line endings, no trailing spaces, one final newline.

    Cosmetic differences (a CRLF from a browser textarea, trailing blanks) must not change the
    hash, but any visible change to the wording must.
    """
    text = unicodedata.normalize("NFC", text).replace("\r\n", "\n").replace("\r", "\n")
    lines = [line.rstrip() for line in text.split("\n")]
    return "\n".join(lines).strip("\n") + "\n"


def text_sha256(text: str) -> str:
    return hashlib.sha256(canonical_text(text).encode("utf-8")).hexdigest()


def _validate_applies_to(applies_to: Iterable[str]) -> list[str]:
    values = sorted(set(applies_to))
    unknown = [value for value in values if value not in ProviderType.values]
    if not values or unknown:
        raise DomainError(
            "An agreement version must apply to at least one provider type out of "
            f"{', '.join(ProviderType.values)}"
            + (f"; unknown: {', '.join(unknown)}." if unknown else ".")
        )
    return values


@transaction.atomic
def agreement_version_create(
    *,
    label: str,
    text: str,
    effective_at: datetime,
    applies_to: Iterable[str],
    reacceptance_days: int = 30,
    actor: User | None = None,
) -> AgreementVersion:
    """A draft version; it can be edited until it is published."""
    version = AgreementVersion(
        label=label.strip(),
        text=canonical_text(text),
        effective_at=effective_at,
        applies_to=_validate_applies_to(applies_to),
        reacceptance_days=reacceptance_days,
    )
    version.full_clean()
    version.save()
    audit_record(
        subject=version,
        action="agreement_version_create",
        actor=actor,
        provider_id=None,
        extra={"label": version.label},
    )
    return version


@transaction.atomic
def agreement_version_update(
    *, version: AgreementVersion, actor: User | None = None, **changes: Any
) -> AgreementVersion:
    """Edit a draft. A published version is immutable: refused, nothing changes."""
    unknown = set(changes) - VERSION_EDITABLE_FIELDS
    if unknown:
        raise DomainError(f"These fields cannot be edited: {', '.join(sorted(unknown))}.")
    locked = AgreementVersion.objects.select_for_update().get(pk=version.pk)
    if locked.is_published:
        raise ImmutableRecord(
            f"{locked} was published on {locked.published_at:%Y-%m-%d %H:%M} UTC and can no "
            "longer be changed; publish a new version instead."
        )
    if "text" in changes:
        changes["text"] = canonical_text(changes["text"])
    if "applies_to" in changes:
        changes["applies_to"] = _validate_applies_to(changes["applies_to"])
    for field, value in changes.items():
        setattr(locked, field, value)
    locked.full_clean()
    locked.save(update_fields=sorted(changes))
    audit_record(
        subject=locked,
        action="agreement_version_update",
        actor=actor,
        provider_id=None,
        extra={"fields": sorted(changes)},
    )
    return locked


@transaction.atomic
def agreement_version_publish(
    *, version: AgreementVersion, actor: User | None = None
) -> AgreementVersion:
    """Freeze the text, record its hash and make it signable. Affects every provider's access."""
    locked = AgreementVersion.objects.select_for_update().get(pk=version.pk)
    if locked.is_published:
        raise ImmutableRecord(f"{locked} is already published.")
    locked.published_at = timezone.now()
    locked.text_sha256 = text_sha256(locked.text)
    locked.save(update_fields=["published_at", "text_sha256"])
    audit_record(
        subject=locked,
        action="agreement_version_publish",
        actor=actor,
        provider_id=None,
        extra={"text_sha256": locked.text_sha256, "effective_at": locked.effective_at.isoformat()},
    )
    access_cache.bump_all()
    return locked


def _lock_provider(provider_id: int) -> None:
    """Serialise agreement changes per provider. Lock order everywhere: provider, then rows."""
    Provider.objects.select_for_update().only("pk").get(pk=provider_id)


# --- Signing --------------------------------------------------------------------------------


def _validate_schedule_lines(lines: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    cleaned: list[tuple[str, str]] = []
    seen: set[str] = set()
    for mid, justification in lines:
        mid, justification = mid.strip(), justification.strip()
        if not is_valid_mid(mid):
            raise DomainError(
                f"Schedule line MID {mid!r} is not valid: use 6 digits starting 0-8, "
                "or 9 digits starting with 9."
            )
        if mid in seen:
            raise DomainError(f"MID {mid} appears twice in the schedule.")
        if not justification:
            raise DomainError(f"Schedule line MID {mid} needs a justification.")
        seen.add(mid)
        cleaned.append((mid, justification))
    return cleaned


@transaction.atomic
def agreement_sign(
    *,
    provider: Provider,
    version: AgreementVersion,
    signer: User,
    signer_name: str,
    signer_title: str,
    attested_authority: bool,
    shown_text_sha256: str,
    ip_address: str | None,
    user_agent: str,
    schedule_lines: Iterable[tuple[str, str]] = (),
) -> Agreement:
    """Record a signature on exactly the text the signer was shown; staff review it next."""
    _lock_provider(provider.pk)
    if not version.is_published:
        raise DomainError(f"{version} is not published and cannot be signed.")
    if provider.provider_type not in version.applies_to:
        raise DomainError(
            f"{version} does not apply to {provider.get_provider_type_display().lower()}s."
        )
    if provider.status == ProviderStatus.CLOSED:
        raise DomainError(f"{provider} is closed and cannot sign agreements.")
    if not Membership.objects.filter(
        provider=provider, user=signer, role__in=SIGNING_ROLES
    ).exists():
        raise DomainError("Only an owner or administrator of the provider can sign for it.")
    if not attested_authority:
        raise DomainError("The signer must attest that they have authority to bind the provider.")
    if not signer_name.strip() or not signer_title.strip():
        raise DomainError("The signer's full name and title are required.")
    if shown_text_sha256 != version.text_sha256:
        raise DomainError(
            "The agreement text you were shown does not match the published text. "
            "Reload the page and sign again."
        )
    if Agreement.objects.filter(
        provider=provider, version=version, status__in=LIVE_AGREEMENT_STATUSES
    ).exists():
        raise DomainError(f"{provider} has already signed {version}; it is awaiting or in force.")
    lines = _validate_schedule_lines(schedule_lines)

    agreement = Agreement.objects.create(
        provider=provider,
        version=version,
        signer=signer,
        signer_name=signer_name.strip(),
        signer_title=signer_title.strip(),
        attested_authority=True,
        signed_at=timezone.now(),
        ip_address=ip_address or None,
        user_agent=user_agent[:1000],
        signed_text_sha256=shown_text_sha256,
    )
    AgreementScheduleLine.objects.bulk_create(
        AgreementScheduleLine(agreement=agreement, mid=mid, justification=justification)
        for mid, justification in lines
    )
    audit_record(
        subject=agreement,
        action="agreement_sign",
        actor=signer,
        provider_id=provider.pk,
        to_status=agreement.status,
        extra={
            "version": version.label,
            "text_sha256": shown_text_sha256,
            "ip_address": ip_address,
            "schedule_mids": [mid for mid, _ in lines],
        },
    )
    return agreement


# --- Agreement decisions ----------------------------------------------------------------------


def _agreement_provider_id(agreement: Agreement) -> int:
    return agreement.provider_id


def _agreement_transition(
    *,
    agreement: Agreement,
    to_status: str,
    action: str,
    actor: User | None,
    reason: str,
    reason_required: bool = True,
    only_from: frozenset[str] | None = None,
) -> Agreement:
    return transition(
        instance=agreement,
        to_status=to_status,
        table=AGREEMENT_TRANSITIONS,
        action=action,
        actor=actor,
        reason=reason,
        reason_required=reason_required,
        provider_id_of=_agreement_provider_id,
        only_from=only_from,
    )


def _retire_previous_approval(*, target: Agreement, actor: User) -> None:
    """Before `target` is approved, supersede the provider's approved agreement, if any."""
    # Lock every agreement of the provider, in pk order, so two approvals cannot interleave.
    others = list(
        Agreement.objects.select_for_update()
        .filter(provider_id=target.provider_id)
        .exclude(pk=target.pk)
        .select_related("version")
        .order_by("pk")
    )
    if any(other.status == AgreementStatus.SUSPENDED for other in others):
        raise DomainError(
            f"{target.provider} has a suspended agreement; reinstate or terminate it before "
            "approving a new one."
        )
    for current in others:
        if current.status != AgreementStatus.APPROVED:
            continue
        if current.version.effective_at > target.version.effective_at:
            raise DomainError(
                f"{target.provider} already holds the newer {current.version}; "
                f"approving {target.version.label} would go backwards."
            )
        _agreement_transition(
            agreement=current,
            to_status=AgreementStatus.SUPERSEDED,
            action="agreement_supersede",
            actor=actor,
            reason=f"Superseded by the approved signature of {target.version.label}.",
        )


@transaction.atomic
def agreement_approve(*, agreement: Agreement, actor: User, reason: str = "") -> Agreement:
    """SUBMITTED -> APPROVED; the provider's previously approved agreement is SUPERSEDED."""
    _lock_provider(agreement.provider_id)
    target = Agreement.objects.select_related("version", "provider").get(pk=agreement.pk)
    if target.status == AgreementStatus.SUBMITTED:
        _retire_previous_approval(target=target, actor=actor)
    return _agreement_transition(
        agreement=agreement,
        to_status=AgreementStatus.APPROVED,
        action="agreement_approve",
        actor=actor,
        reason=reason,
        reason_required=False,
        only_from=frozenset({AgreementStatus.SUBMITTED}),
    )


def agreement_reject(*, agreement: Agreement, actor: User, reason: str) -> Agreement:
    return _agreement_transition(
        agreement=agreement,
        to_status=AgreementStatus.REJECTED,
        action="agreement_reject",
        actor=actor,
        reason=reason,
    )


def agreement_suspend(*, agreement: Agreement, actor: User | None, reason: str) -> Agreement:
    return _agreement_transition(
        agreement=agreement,
        to_status=AgreementStatus.SUSPENDED,
        action="agreement_suspend",
        actor=actor,
        reason=reason,
    )


@transaction.atomic
def agreement_reinstate(*, agreement: Agreement, actor: User | None, reason: str) -> Agreement:
    """SUSPENDED -> APPROVED."""
    _lock_provider(agreement.provider_id)
    if (
        Agreement.objects.filter(provider_id=agreement.provider_id, status=AgreementStatus.APPROVED)
        .exclude(pk=agreement.pk)
        .exists()
    ):
        raise DomainError(
            f"{agreement.provider} already has another approved agreement; terminate this one."
        )
    return _agreement_transition(
        agreement=agreement,
        to_status=AgreementStatus.APPROVED,
        action="agreement_reinstate",
        actor=actor,
        reason=reason,
        only_from=frozenset({AgreementStatus.SUSPENDED}),
    )


def agreement_terminate(*, agreement: Agreement, actor: User | None, reason: str) -> Agreement:
    return _agreement_transition(
        agreement=agreement,
        to_status=AgreementStatus.TERMINATED,
        action="agreement_terminate",
        actor=actor,
        reason=reason,
    )


# --- Schedule lines ---------------------------------------------------------------------------


def _line_provider_id(line: AgreementScheduleLine) -> int:
    return line.agreement.provider_id


def _line_transition(
    *,
    line: AgreementScheduleLine,
    to_status: str,
    action: str,
    actor: User | None,
    reason: str,
    reason_required: bool = True,
) -> AgreementScheduleLine:
    return transition(
        instance=line,
        to_status=to_status,
        table=SCHEDULE_LINE_TRANSITIONS,
        action=action,
        actor=actor,
        reason=reason,
        reason_required=reason_required,
        provider_id_of=_line_provider_id,
        extra={"mid": line.mid, "agreement_id": line.agreement_id},
    )


def schedule_line_approve(
    *, line: AgreementScheduleLine, actor: User, reason: str = ""
) -> AgreementScheduleLine:
    """Grant the MID. It takes effect only while its agreement is APPROVED."""
    agreement_status = Agreement.objects.values_list("status", flat=True).get(pk=line.agreement_id)
    if agreement_status not in LIVE_AGREEMENT_STATUSES:
        raise DomainError(
            f"The agreement for MID {line.mid} is {agreement_status.lower()}; "
            "its schedule lines can no longer be approved."
        )
    return _line_transition(
        line=line,
        to_status=ScheduleLineStatus.APPROVED,
        action="schedule_line_approve",
        actor=actor,
        reason=reason,
        reason_required=False,
    )


def schedule_line_reject(
    *, line: AgreementScheduleLine, actor: User, reason: str
) -> AgreementScheduleLine:
    return _line_transition(
        line=line,
        to_status=ScheduleLineStatus.REJECTED,
        action="schedule_line_reject",
        actor=actor,
        reason=reason,
    )


def schedule_line_revoke(
    *, line: AgreementScheduleLine, actor: User | None, reason: str
) -> AgreementScheduleLine:
    return _line_transition(
        line=line,
        to_status=ScheduleLineStatus.REVOKED,
        action="schedule_line_revoke",
        actor=actor,
        reason=reason,
    )


# --- MID links --------------------------------------------------------------------------------


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
    if MidLink.objects.filter(
        provider=provider,
        mid=mid,
        relation=relation,
        status__in=[MidLinkStatus.REQUESTED, MidLinkStatus.VERIFIED],
    ).exists():
        raise DomainError(f"{provider} already has an open claim on MID {mid} of this kind.")

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
    try:
        link.full_clean(exclude=["evidence"])
    except ValidationError as exc:
        raise DomainError("; ".join(exc.messages)) from exc
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
        if _violated_constraint(exc) != "agreements_one_verified_owner_per_mid":
            raise
        raise DomainError(
            f"MID {link.mid} was verified as owned by another provider at the same moment."
        ) from exc


def _violated_constraint(exc: IntegrityError) -> str | None:
    diag = getattr(exc.__cause__, "diag", None)
    return getattr(diag, "constraint_name", None)


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

"""Signing the IP agreement and staff decisions on signatures."""

from collections.abc import Iterable

from django.db import transaction
from django.utils import timezone

from accounts.constants import MembershipRole, ProviderStatus
from accounts.models import Membership, Provider, User
from agreements.constants import (
    AGREEMENT_TRANSITIONS,
    AgreementStatus,
)
from agreements.models import Agreement, AgreementScheduleLine, AgreementVersion
from agreements.services.versions import text_sha256
from core.audit import audit_record
from core.errors import DomainError
from core.tracking_numbers import is_valid_mid
from core.transitions import transition

SIGNING_ROLES = frozenset({MembershipRole.OWNER, MembershipRole.ADMIN})
LIVE_AGREEMENT_STATUSES = frozenset({AgreementStatus.SUBMITTED, AgreementStatus.APPROVED})


def _lock_provider(provider_id: int) -> Provider:
    """Serialise agreement changes per provider. Lock order everywhere: provider, then rows.

    Returns the provider as locked, so rules read its status as it is now, not as the
    caller's copy (read earlier in the request) says."""
    return Provider.objects.select_for_update(no_key=True).only("pk", "status").get(pk=provider_id)


# --- Signing --------------------------------------------------------------------------------


# A schedule is a short list of third-party MIDs with reasons, not a bulk import.
MAX_SCHEDULE_LINES = 100
MAX_JUSTIFICATION_LENGTH = 1000


def _validate_schedule_lines(lines: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    cleaned: list[tuple[str, str]] = []
    seen: set[str] = set()
    for mid, justification in lines:
        mid, justification = mid.strip(), justification.strip()
        if not is_valid_mid(mid):
            raise DomainError(
                f"Schedule line MID {mid!r} is not valid: use 6 digits starting 0-8, "
                "or 9 digits starting with 9.",
                field="schedule",
            )
        if mid in seen:
            raise DomainError(f"MID {mid} appears twice in the schedule.", field="schedule")
        if not justification:
            raise DomainError(f"Schedule line MID {mid} needs a justification.", field="schedule")
        if len(justification) > MAX_JUSTIFICATION_LENGTH:
            raise DomainError(
                f"Schedule line MID {mid}: keep the justification under "
                f"{MAX_JUSTIFICATION_LENGTH} characters.",
                field="schedule",
            )
        seen.add(mid)
        cleaned.append((mid, justification))
        if len(cleaned) > MAX_SCHEDULE_LINES:
            raise DomainError(
                f"At most {MAX_SCHEDULE_LINES} schedule lines can be sent with one signature.",
                field="schedule",
            )
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
    locked = _lock_provider(provider.pk)
    if not version.is_published:
        raise DomainError(f"{version} is not published and cannot be signed.")
    if provider.provider_type not in version.applies_to:
        raise DomainError(
            f"{version} does not apply to {provider.get_provider_type_display().lower()}s."
        )
    if locked.status == ProviderStatus.CLOSED:
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
        Agreement.objects.select_for_update(no_key=True)
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
    recomputed = text_sha256(target.version.text)
    if not recomputed == target.version.text_sha256 == target.signed_text_sha256:
        # The text signed is provably the text published only while all three hashes agree.
        raise DomainError(
            f"Cannot approve {target}: the agreement text's hash does not match what was "
            f"published ({target.version.text_sha256[:12]}…) and signed "
            f"({target.signed_text_sha256[:12]}…); the text is now {recomputed[:12]}…. "
            "Reject it and investigate."
        )
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

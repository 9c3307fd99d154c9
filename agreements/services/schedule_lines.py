"""Staff decisions on agreement schedule lines (MIDs granted by the agreement)."""

from accounts.models import User
from agreements.constants import (
    SCHEDULE_LINE_TRANSITIONS,
    ScheduleLineStatus,
)
from agreements.models import Agreement, AgreementScheduleLine
from agreements.services.signatures import LIVE_AGREEMENT_STATUSES
from core.errors import DomainError
from core.transitions import transition


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

"""Where a provider stands: what its status lets it do, in plain words, for every page that has
to say so (Mailer IDs, "Who can read my MIDs", team; also the dashboard and organisation page).

The capabilities repeat what the services allow, so a page hides only what would be refused:
a CLOSED provider can no longer claim MIDs (agreements.services.mid_link_request), decide on
consents (agreements.services.consents), sign (agreement_sign) or invite
(accounts.services.invitation_create), but its members may still withdraw a pending claim
(mid_link_withdraw), change roles, remove members and leave. A SUSPENDED provider may still do
all of that; only tracking data stops (agreements.decision denies a provider that is not
ACTIVE), and owners cannot grant it access until it is reinstated (consent_grant).

Provider transitions keep no reason on the row (decision_fields=False): the reason postal staff
gave is the newest provider_suspend / provider_close entry of the audit log.
"""

from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone

from accounts.constants import ProviderStatus, SuspensionCause
from accounts.models import Provider
from core.models import AuditEntry

# The audit action that put a provider in each status that needs a reason.
_STATUS_ACTIONS = {
    ProviderStatus.SUSPENDED: "provider_suspend",
    ProviderStatus.CLOSED: "provider_close",
}


@dataclass(frozen=True)
class StatusReason:
    reason: str
    at: datetime


def provider_status_reason(*, provider: Provider) -> StatusReason | None:
    """The reason and time recorded for the provider's current suspension or closure (the newest
    provider_suspend or provider_close audit entry of this provider), or None: for any other
    status (no query), or when nothing was recorded. One query."""
    action = _STATUS_ACTIONS.get(provider.status)
    if action is None:
        return None
    entry = (
        AuditEntry.objects.filter(provider_id=provider.pk, action=action)
        .order_by("-created_at", "-pk")
        .values_list("reason", "created_at")
        .first()
    )
    if entry is None:
        return None
    return StatusReason(reason=entry[0], at=entry[1])


@dataclass(frozen=True)
class Standing:
    """What a provider's status means for its members. `heading` and `text` are plain text
    (templates escape them); `alert` is the USWDS alert variant to show them in; `notice` says
    whether the portal's working pages (Mailer IDs, consents, team) should show them."""

    status: str
    heading: str
    text: str
    alert: str
    notice: bool
    serves_tracking_data: bool  # the status lets data flow (the decision checks much more)
    can_claim: bool  # claim Mailer IDs
    can_withdraw_claims: bool
    can_manage_consents: bool  # approve, decline, grant and revoke access to owned MIDs
    can_invite: bool  # invite new members (role changes and removals always work)
    can_sign: bool  # sign the IP agreement
    reason: str = ""  # what postal staff recorded for a suspension or closure
    reason_at: datetime | None = None


def _when_and_why(found: StatusReason | None) -> str:
    if found is None:
        return ""
    why = f": {found.reason.strip().rstrip('.')}" if found.reason.strip() else ""
    return f" on {timezone.localtime(found.at):%Y-%m-%d}{why}"


def provider_standing(*, provider: Provider) -> Standing:
    """The provider's standing. No query for a pending or active provider; one (the recorded
    reason) for a suspended or closed one."""
    name = provider.legal_name
    status = provider.status
    if status == ProviderStatus.ACTIVE:
        return Standing(
            status=status,
            heading="Active",
            text=(
                f"{name} is active: tracking data is served for the Mailer IDs it is "
                "authorized for."
            ),
            alert="success",
            notice=False,
            serves_tracking_data=True,
            can_claim=True,
            can_withdraw_claims=True,
            can_manage_consents=True,
            can_invite=True,
            can_sign=True,
        )
    if status == ProviderStatus.PENDING_REVIEW:
        return Standing(
            status=status,
            heading="Pending review by postal staff",
            text=(
                f"Postal staff are reviewing {name}. Meanwhile you can invite your team, sign the "
                "IP agreement, claim Mailer IDs and ask their owners for access; no tracking data "
                "is served, and owners cannot grant you access themselves, until staff approve "
                f"{name}."
            ),
            alert="info",
            notice=False,
            serves_tracking_data=False,
            can_claim=True,
            can_withdraw_claims=True,
            can_manage_consents=True,
            can_invite=True,
            can_sign=True,
        )
    found = provider_status_reason(provider=provider)
    recorded = {"reason": found.reason if found else "", "reason_at": found.at if found else None}
    if status == ProviderStatus.SUSPENDED:
        cause = (
            " for non-payment"
            if provider.suspension_cause == SuspensionCause.NON_PAYMENT
            else " by postal staff"
        )
        return Standing(
            status=status,
            heading="Suspended: no tracking data is served",
            text=(
                f"{name} was suspended{cause}{_when_and_why(found)}. While it is suspended, no "
                "tracking data is served for any of its Mailer IDs, and other owners cannot "
                "grant it access. You can still claim Mailer IDs and withdraw pending claims, "
                "approve, decline, grant and revoke access to the Mailer IDs you own, manage "
                "your team and sign the IP agreement. Contact postal staff to be reinstated."
            ),
            alert="warning",
            notice=True,
            serves_tracking_data=False,
            can_claim=True,
            can_withdraw_claims=True,
            can_manage_consents=True,
            can_invite=True,
            can_sign=True,
            **recorded,
        )
    return Standing(
        status=status,
        heading="Closed",
        text=(
            f"{name} was closed{_when_and_why(found)}. Closing is final: it can no longer claim "
            "Mailer IDs, decide who reads the Mailer IDs it owns, sign agreements, take new "
            "members or read tracking data. Its members can still see its records, withdraw "
            "pending claims, change roles, remove members and leave."
        ),
        alert="error",
        notice=True,
        serves_tracking_data=False,
        can_claim=False,
        can_withdraw_claims=True,
        can_manage_consents=False,
        can_invite=False,
        can_sign=False,
        **recorded,
    )

"""Reads for the IP agreement pages and the re-acceptance banner, scoped to one provider.

"Current" follows the access decision (agreements/decision.py, rules 2 and 2b): only published
versions whose `applies_to` includes the provider's type count; the newest one in effect
(latest `effective_at`, then the one created last) is the version to sign now; and a provider
whose approved agreement is on an older version may keep it until the re-acceptance deadline,
the *earliest* `effective_at + reacceptance_days` among the versions in effect newer than the
signed one (fail closed: a later version never re-opens access that had lapsed).
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import QuerySet
from django.utils import timezone

from accounts.constants import ProviderStatus
from accounts.models import Provider, User
from accounts.permissions import Permission, role_can
from accounts.selectors import provider_members
from agreements.constants import AGREEMENT_REQUIRED_TYPES, AgreementStatus
from agreements.models import Agreement, AgreementVersion

LIVE_STATUSES = (AgreementStatus.SUBMITTED, AgreementStatus.APPROVED)

# What the standing needs of each version; the text (possibly long) only when it is shown.
_VERSION_FIELDS = ("pk", "label", "effective_at", "reacceptance_days", "published_at")


def _order(effective_at: datetime, pk: int) -> tuple[datetime, int]:
    """ "Newest" means latest effective_at; on a tie, the one created last (as the decision)."""
    return (effective_at, pk)


def _deadline(version: AgreementVersion) -> datetime:
    return version.effective_at + timedelta(days=version.reacceptance_days)


@dataclass(frozen=True, slots=True)
class LiveSignature:
    """A SUBMITTED or APPROVED signature of the provider on a version that applies to it."""

    pk: int
    status: str
    version_id: int
    version_label: str
    version_effective_at: datetime

    @property
    def order(self) -> tuple[datetime, int]:
        return _order(self.version_effective_at, self.version_id)


@dataclass(frozen=True)
class AgreementStanding:
    """Where a provider stands with the IP agreement at `at` (versions carry no text)."""

    provider: Provider
    at: datetime
    # Published versions in effect that apply to the provider's type, newest first.
    versions_in_effect: tuple[AgreementVersion, ...]
    live: tuple[LiveSignature, ...]

    @property
    def current_version(self) -> AgreementVersion | None:
        """The version the provider should sign now."""
        return self.versions_in_effect[0] if self.versions_in_effect else None

    @property
    def approved(self) -> LiveSignature | None:
        return next((s for s in self.live if s.status == AgreementStatus.APPROVED), None)

    def _covers_current(self, signature: LiveSignature) -> bool:
        current = self.current_version
        return current is not None and signature.order >= _order(current.effective_at, current.pk)

    @property
    def pending(self) -> LiveSignature | None:
        """A signature awaiting staff review on the current version (or a newer one)."""
        return next(
            (
                s
                for s in self.live
                if s.status == AgreementStatus.SUBMITTED and self._covers_current(s)
            ),
            None,
        )

    @property
    def needs_signature(self) -> bool:
        """A version is in effect and no live signature is on it (or on a newer one)."""
        return self.current_version is not None and not any(
            self._covers_current(s) for s in self.live
        )

    @property
    def can_be_signed(self) -> bool:
        """`needs_signature` and the organisation may still sign (a closed one may not)."""
        return self.needs_signature and self.provider.status != ProviderStatus.CLOSED

    @property
    def superseding(self) -> tuple[AgreementVersion, ...]:
        """The versions in effect newer than the approved one (empty when it is current)."""
        approved = self.approved
        if approved is None:
            return ()
        return tuple(
            v for v in self.versions_in_effect if _order(v.effective_at, v.pk) > approved.order
        )

    @property
    def reacceptance_deadline(self) -> datetime | None:
        superseding = self.superseding
        return min(map(_deadline, superseding)) if superseding else None

    @property
    def reacceptance_lapsed(self) -> bool:
        deadline = self.reacceptance_deadline
        return deadline is not None and self.at >= deadline

    @property
    def agreement_required(self) -> bool:
        """Whether the provider's type needs an approved agreement to read any tracking data
        (for other types an agreement only carries schedule lines)."""
        return self.provider.provider_type in AGREEMENT_REQUIRED_TYPES


def _live_signatures(*, provider: Provider, at: datetime) -> tuple[LiveSignature, ...]:
    rows = (
        Agreement.objects.filter(
            provider=provider,
            status__in=LIVE_STATUSES,
            # As the decision's rule 2: a signature on an unpublished version, or on one written
            # for other provider types, is no agreement at all.
            version__published_at__lte=at,
            version__applies_to__contains=[provider.provider_type],
        )
        .order_by("-signed_at", "-pk")
        .values_list("pk", "status", "version_id", "version__label", "version__effective_at")
    )
    return tuple(LiveSignature(*row) for row in rows)


def _versions_in_effect(*, provider: Provider, at: datetime) -> tuple[AgreementVersion, ...]:
    return tuple(
        AgreementVersion.objects.filter(
            published_at__lte=at,
            effective_at__lte=at,
            applies_to__contains=[provider.provider_type],
        )
        .only(*_VERSION_FIELDS)
        .order_by("-effective_at", "-pk")
    )


def agreement_standing(*, provider: Provider, at: datetime | None = None) -> AgreementStanding:
    """The provider's IP agreement standing now (or at `at`). Two queries."""
    at = at or timezone.now()
    return AgreementStanding(
        provider=provider,
        at=at,
        versions_in_effect=_versions_in_effect(provider=provider, at=at),
        live=_live_signatures(provider=provider, at=at),
    )


@dataclass(frozen=True)
class ReacceptanceNotice:
    """A newer version is in effect than the provider's approved agreement."""

    version_label: str
    deadline: datetime
    lapsed: bool  # the deadline has passed: access under the old agreement has stopped
    pending_review: bool  # the new version is signed and awaits staff review
    agreement_required: bool  # tracking data stops (True) or only schedule-line MIDs (False)


def reacceptance_notice(
    *, provider: Provider, at: datetime | None = None
) -> ReacceptanceNotice | None:
    """What the re-acceptance banner says, or None. One query when the provider holds no
    approved agreement, two otherwise. Closed providers get none: they cannot sign."""
    if provider.status == ProviderStatus.CLOSED:
        return None
    at = at or timezone.now()
    live = _live_signatures(provider=provider, at=at)
    if not any(s.status == AgreementStatus.APPROVED for s in live):
        return None
    standing = AgreementStanding(
        provider=provider,
        at=at,
        versions_in_effect=_versions_in_effect(provider=provider, at=at),
        live=live,
    )
    deadline = standing.reacceptance_deadline
    if deadline is None:
        return None
    return ReacceptanceNotice(
        version_label=standing.current_version.label,
        deadline=deadline,
        lapsed=standing.reacceptance_lapsed,
        pending_review=standing.pending is not None,
        agreement_required=standing.agreement_required,
    )


def signing_version(*, standing: AgreementStanding) -> AgreementVersion | None:
    """The current version with its full text, when the provider has it still to sign."""
    if not standing.needs_signature:
        return None
    return AgreementVersion.objects.get(pk=standing.current_version.pk)


def agreements_for_provider(*, provider: Provider) -> QuerySet[Agreement]:
    """The provider's signatures, newest first, without the versions' texts."""
    return (
        Agreement.objects.filter(provider=provider)
        .select_related("version")
        .defer("version__text")
        .order_by("-signed_at", "-pk")
    )


def signed_agreements_for_provider(*, provider: Provider) -> QuerySet[Agreement]:
    """The provider's signatures with their versions' texts and schedule lines, for the pages
    and PDF of one signature. Another provider's id is simply not in it (a 404)."""
    return (
        Agreement.objects.filter(provider=provider)
        .select_related("version", "provider")
        .prefetch_related("schedule_lines")
    )


def agreement_signers(*, provider: Provider) -> list[User]:
    """The members who may sign the agreement for the provider."""
    return [
        membership.user
        for membership in provider_members(provider_id=provider.pk)
        if role_can(membership.role, Permission.SIGN_AGREEMENTS)
    ]

"""The access decision: may this provider read tracking data for this MID, and why (not)?

Every surface (the tracking API, the provider dashboard, the staff inspector) asks `decide`.

Rules (all must hold):
  1. The provider is ACTIVE.
  2. A provider type in AGREEMENT_REQUIRED_TYPES holds an APPROVED agreement whose version is
     the newest effective version that applies to it, or is still inside that version's
     re-acceptance deadline.
  3. No billing hold.
  4. The MID is covered at `at` by a VERIFIED MidLink whose window contains `at`, or by an
     APPROVED schedule line of the provider's APPROVED agreement.
  5. A tracking number without a shipper MID is always denied.

Fail closed: any error means deny (DECISION_ERROR). The only error that does not deny is an
unreachable cache: the decision is then computed from the database, which is still correct.

Cost: a cold decision is 2 queries (provider state, then MID coverage); a cached one is 0.
Only decisions about "now" are cached, for at most ACCESS_DECISION_CACHE_SECONDS and never
past the next moment the answer could change by itself (a link window or deadline ending).
"""

import dataclasses
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from django.db.models import CharField, DateTimeField, OuterRef, Subquery, Value
from django.utils import timezone

from accounts.constants import ProviderStatus
from accounts.models import Provider
from agreements import access_cache
from agreements.constants import (
    AGREEMENT_REQUIRED_TYPES,
    AgreementStatus,
    MidLinkStatus,
    ReasonCode,
    ScheduleLineStatus,
)
from agreements.models import Agreement, AgreementScheduleLine, AgreementVersion, MidLink
from tracking.numbers import InvalidTrackingNumber, is_valid_mid, parse

logger = logging.getLogger(__name__)

GrantKind = Literal["MID_LINK", "SCHEDULE_LINE"]


@dataclass(frozen=True, slots=True)
class Reason:
    code: str
    message: str

    @classmethod
    def of(cls, code: ReasonCode, detail: str = "") -> "Reason":
        return cls(code=code.value, message=f"{code.label} {detail}".strip())


@dataclass(frozen=True, slots=True)
class Grant:
    """The record that justifies an allowed decision."""

    kind: GrantKind
    pk: int
    mid: str
    relation: str  # OWNED / AUTHORIZED_BY_OWNER for links, SCHEDULE for schedule lines


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    provider_id: int
    mid: str | None
    reasons: tuple[Reason, ...] = ()
    basis: Grant | None = None
    decided_at: datetime | None = None
    from_cache: bool = False

    @property
    def reason_codes(self) -> list[str]:
        return [reason.code for reason in self.reasons]

    def as_dict(self) -> dict[str, Any]:
        return {
            "allowed": self.allowed,
            "provider_id": self.provider_id,
            "mid": self.mid,
            "reasons": [dataclasses.asdict(reason) for reason in self.reasons],
            "basis": dataclasses.asdict(self.basis) if self.basis else None,
            "decided_at": self.decided_at.isoformat() if self.decided_at else None,
        }


def _deny(provider_id: int, mid: str | None, *reasons: Reason, at: datetime) -> Decision:
    return Decision(allowed=False, provider_id=provider_id, mid=mid, reasons=reasons, decided_at=at)


def decide(*, provider: Provider, mid: str | None, at: datetime | None = None) -> Decision:
    """Allow or deny `provider` reading data for `mid` at `at` (default: now)."""
    moment = at or timezone.now()
    provider_id = provider.pk
    try:
        if mid is None:
            return _deny(
                provider_id, None, Reason.of(ReasonCode.NO_MID_IN_TRACKING_NUMBER), at=moment
            )
        if not isinstance(mid, str) or not is_valid_mid(mid):
            return _deny(provider_id, str(mid), Reason.of(ReasonCode.INVALID_MID), at=moment)
        if at is not None:
            decision, _ = _evaluate(provider_id, mid, moment)
            return decision
        return _decide_now_with_cache(provider_id, mid, moment)
    except Exception:
        logger.exception(
            "access decision failed for provider %s, MID %s; denying", provider_id, mid
        )
        return _deny(provider_id, mid, Reason.of(ReasonCode.DECISION_ERROR), at=moment)


def decide_for_number(
    *, provider: Provider, tracking_number: str, at: datetime | None = None
) -> Decision:
    """Parse the number, extract its MID and decide. Invalid numbers are denied with the cause."""
    try:
        number = parse(tracking_number)
    except InvalidTrackingNumber as exc:
        return _deny(
            provider.pk,
            None,
            Reason.of(ReasonCode.INVALID_TRACKING_NUMBER, f"({exc.reason})"),
            at=at or timezone.now(),
        )
    return decide(provider=provider, mid=number.mid, at=at)


def _decide_now_with_cache(provider_id: int, mid: str, now: datetime) -> Decision:
    try:
        tokens = access_cache.current_tokens(provider_id)
        cached = access_cache.get(provider_id, mid, tokens)
    except Exception:  # noqa: BLE001 - the cache is an optimisation; the database is the truth
        logger.warning("access cache unreachable; deciding from the database", exc_info=True)
        decision, _ = _evaluate(provider_id, mid, now)
        return decision
    if cached is not None:
        return dataclasses.replace(cached, from_cache=True)
    decision, valid_until = _evaluate(provider_id, mid, now)
    ttl = int((valid_until - now).total_seconds()) if valid_until else 10**9
    try:
        access_cache.put(provider_id, mid, tokens, decision, ttl)
    except Exception:  # noqa: BLE001
        logger.warning("access cache unreachable; decision not cached", exc_info=True)
    return decision


def _provider_state(provider_id: int, at: datetime) -> dict[str, Any] | None:
    """Query 1: the provider, its approved agreement and the agreement versions that matter."""
    applicable = AgreementVersion.objects.filter(
        published_at__isnull=False,
        published_at__lte=at,
        applies_to__contains=[OuterRef("provider_type")],
    )
    current = applicable.filter(effective_at__lte=at).order_by("-effective_at", "-pk")
    upcoming = applicable.filter(effective_at__gt=at).order_by("effective_at", "pk")
    approved = Agreement.objects.filter(
        provider_id=OuterRef("pk"), status=AgreementStatus.APPROVED
    ).order_by("-pk")
    return (
        Provider.objects.filter(pk=provider_id)
        .annotate(
            current_version_id=Subquery(current.values("pk")[:1]),
            current_effective_at=Subquery(current.values("effective_at")[:1]),
            current_reacceptance_days=Subquery(current.values("reacceptance_days")[:1]),
            next_effective_at=Subquery(upcoming.values("effective_at")[:1]),
            approved_version_id=Subquery(approved.values("version_id")[:1]),
            approved_effective_at=Subquery(approved.values("version__effective_at")[:1]),
        )
        .values(
            "status",
            "provider_type",
            "billing_hold",
            "current_version_id",
            "current_effective_at",
            "current_reacceptance_days",
            "next_effective_at",
            "approved_version_id",
            "approved_effective_at",
        )
        .first()
    )


def _grants(provider_id: int, mid: str) -> list[dict[str, Any]]:
    """Query 2: every verified link and live schedule line for this provider and MID."""
    links = MidLink.objects.filter(
        provider_id=provider_id, mid=mid, status=MidLinkStatus.VERIFIED
    ).values_list(
        Value("MID_LINK", output_field=CharField()), "pk", "relation", "valid_from", "valid_until"
    )
    lines = AgreementScheduleLine.objects.filter(
        agreement__provider_id=provider_id,
        agreement__status=AgreementStatus.APPROVED,
        mid=mid,
        status=ScheduleLineStatus.APPROVED,
    ).values_list(
        Value("SCHEDULE_LINE", output_field=CharField()),
        "pk",
        Value("SCHEDULE", output_field=CharField()),
        Value(None, output_field=DateTimeField()),
        Value(None, output_field=DateTimeField()),
    )
    keys = ("kind", "pk", "relation", "valid_from", "valid_until")
    return [dict(zip(keys, row, strict=True)) for row in links.union(lines, all=True)]


def _agreement_reasons(
    state: dict[str, Any], at: datetime, boundaries: list[datetime]
) -> list[Reason]:
    if state["provider_type"] not in AGREEMENT_REQUIRED_TYPES:
        return []
    if state["next_effective_at"] is not None:
        boundaries.append(state["next_effective_at"])
    if state["approved_version_id"] is None or state["current_version_id"] is None:
        # No approved signature, or no version in effect to have signed: fail closed.
        return [Reason.of(ReasonCode.AGREEMENT_REQUIRED)]
    if state["approved_effective_at"] >= state["current_effective_at"]:
        return []  # holds the current version (or a newer one signed early)
    deadline = state["current_effective_at"] + timedelta(days=state["current_reacceptance_days"])
    if at < deadline:
        boundaries.append(deadline)
        return []
    return [
        Reason.of(
            ReasonCode.AGREEMENT_REACCEPTANCE_REQUIRED,
            f"The deadline was {deadline:%Y-%m-%d %H:%M} UTC.",
        )
    ]


def _coverage(
    grants: list[dict[str, Any]], mid: str, at: datetime, boundaries: list[datetime]
) -> tuple[Grant | None, list[Reason]]:
    covering: list[dict[str, Any]] = []
    for grant in grants:
        starts, ends = grant["valid_from"], grant["valid_until"]
        if (starts is None or starts <= at) and (ends is None or at < ends):
            covering.append(grant)
            if ends is not None:
                boundaries.append(ends)
        elif starts is not None and starts > at:
            boundaries.append(starts)
    if covering:
        # Prefer the strongest basis: ownership, then the owner's authorization, then schedule.
        rank = {"OWNED": 0, "AUTHORIZED_BY_OWNER": 1, "SCHEDULE": 2}
        best = min(covering, key=lambda g: (rank[g["relation"]], g["pk"]))
        return Grant(kind=best["kind"], pk=best["pk"], mid=mid, relation=best["relation"]), []
    if grants:
        return None, [Reason.of(ReasonCode.MID_LINK_NOT_IN_WINDOW, f"(MID {mid})")]
    return None, [Reason.of(ReasonCode.MID_NOT_AUTHORIZED, f"(MID {mid})")]


def _evaluate(provider_id: int, mid: str, at: datetime) -> tuple[Decision, datetime | None]:
    """Apply the rules from the database; also return when the answer could next change."""
    state = _provider_state(provider_id, at)
    if state is None:
        return _deny(provider_id, mid, Reason.of(ReasonCode.PROVIDER_NOT_ACTIVE), at=at), None
    boundaries: list[datetime] = []
    reasons: list[Reason] = []
    if state["status"] != ProviderStatus.ACTIVE:
        reasons.append(Reason.of(ReasonCode.PROVIDER_NOT_ACTIVE, f"(status {state['status']})"))
    reasons += _agreement_reasons(state, at, boundaries)
    if state["billing_hold"]:
        reasons.append(Reason.of(ReasonCode.BILLING_HOLD))
    basis, coverage_reasons = _coverage(_grants(provider_id, mid), mid, at, boundaries)
    reasons += coverage_reasons
    decision = Decision(
        allowed=not reasons,
        provider_id=provider_id,
        mid=mid,
        reasons=tuple(reasons),
        basis=basis if not reasons else None,
        decided_at=at,
    )
    future = [moment for moment in boundaries if moment > at]
    return decision, min(future) if future else None

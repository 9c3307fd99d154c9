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

from django.contrib.postgres.expressions import ArraySubquery
from django.db.models import CharField, DateTimeField, OuterRef, Subquery, Value
from django.db.models.functions import JSONObject
from django.utils import timezone

from accounts.constants import ProviderStatus
from accounts.models import Provider
from agreements.constants import (
    AGREEMENT_REQUIRED_TYPES,
    AgreementStatus,
    MidLinkStatus,
    ReasonCode,
    ScheduleLineStatus,
)
from agreements.models import Agreement, AgreementScheduleLine, AgreementVersion, MidLink
from core import access_cache
from core.tracking_numbers import InvalidTrackingNumber, is_valid_mid, parse

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
    moment = at or timezone.now()
    try:
        number = parse(tracking_number)
    except InvalidTrackingNumber as exc:
        reason = Reason.of(ReasonCode.INVALID_TRACKING_NUMBER, f"({exc.reason})")
        return _deny(provider.pk, None, reason, at=moment)
    except Exception:
        logger.exception("tracking number parser failed for provider %s; denying", provider.pk)
        return _deny(provider.pk, None, Reason.of(ReasonCode.DECISION_ERROR), at=moment)
    return decide(provider=provider, mid=number.mid, at=at)


def _decide_now_with_cache(provider_id: int, mid: str, now: datetime) -> Decision:
    if access_cache.is_dirty(provider_id):
        # This connection changed the provider's inputs and has not committed: the answer
        # must reflect its own writes, and must not be cached in case they roll back.
        return _evaluate(provider_id, mid, now)[0]
    try:
        tokens = access_cache.current_tokens(provider_id)
        cached = access_cache.get(provider_id, mid, tokens)
    except Exception:  # noqa: BLE001 - the cache is an optimisation; the database is the truth
        logger.warning("access cache unreachable; deciding from the database", exc_info=True)
        return _evaluate(provider_id, mid, now)[0]
    if cached is not None:
        return dataclasses.replace(cached, from_cache=True)
    decision, valid_until = _evaluate(provider_id, mid, now)
    ttl = int((valid_until - now).total_seconds()) if valid_until else 10**9
    try:
        access_cache.put(provider_id, mid, tokens, decision, ttl)
    except Exception:  # noqa: BLE001
        logger.warning("access cache unreachable; decision not cached", exc_info=True)
    return decision


@dataclass(frozen=True, slots=True)
class _Version:
    effective_at: datetime
    pk: int
    reacceptance_days: int

    @property
    def order(self) -> tuple[datetime, int]:
        # "Newest" means latest effective_at; on a tie, the one created last.
        return (self.effective_at, self.pk)

    @property
    def deadline(self) -> datetime:
        return self.effective_at + timedelta(days=self.reacceptance_days)


def _provider_state(provider_id: int, at: datetime) -> dict[str, Any] | None:
    """Query 1: the provider, its approved agreement's version, and every agreement version
    published by `at` that applies to the provider's type."""
    versions = AgreementVersion.objects.filter(
        published_at__isnull=False,
        published_at__lte=at,
        applies_to__contains=[OuterRef("provider_type")],
    ).values(v=JSONObject(pk="pk", effective_at="effective_at", days="reacceptance_days"))
    approved = Agreement.objects.filter(provider_id=OuterRef("pk"), status=AgreementStatus.APPROVED)
    state = (
        Provider.objects.filter(pk=provider_id)
        .annotate(
            versions=ArraySubquery(versions),
            approved_version_id=Subquery(approved.values("version_id")[:1]),
            approved_effective_at=Subquery(approved.values("version__effective_at")[:1]),
        )
        .values(
            "status",
            "provider_type",
            "billing_hold",
            "versions",
            "approved_version_id",
            "approved_effective_at",
        )
        .first()
    )
    if state is not None:
        state["versions"] = [
            _Version(datetime.fromisoformat(v["effective_at"]), v["pk"], v["days"])
            for v in state["versions"]
        ]
    return state


def _grants(provider_id: int, mid: str) -> list[dict[str, Any]]:
    """Query 2: every verified link and approved schedule line (of an approved agreement)
    for this provider and MID."""
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


def _agreement_problem(
    state: dict[str, Any], at: datetime, boundaries: list[datetime]
) -> Reason | None:
    """Why the provider's approved agreement is not current at `at`, or None if it is."""
    versions: list[_Version] = state["versions"]
    boundaries += [v.effective_at for v in versions if v.effective_at > at]
    in_effect = [v for v in versions if v.effective_at <= at]
    if state["approved_version_id"] is None or not in_effect:
        # No approved signature, or no version in effect that could have been signed.
        return Reason.of(ReasonCode.AGREEMENT_REQUIRED)
    signed = (state["approved_effective_at"], state["approved_version_id"])
    superseding = [v for v in in_effect if v.order > signed]
    if not superseding:
        return None  # holds the newest version in effect, or a newer one signed early
    # Fail closed: grace ends at the earliest deadline among the versions that replaced the
    # signed one, so a later version can never re-open access that had already lapsed.
    deadline = min(v.deadline for v in superseding)
    if at < deadline:
        boundaries.append(deadline)
        return None
    return Reason.of(
        ReasonCode.AGREEMENT_REACCEPTANCE_REQUIRED,
        f"The deadline was {deadline:%Y-%m-%d %H:%M} UTC.",
    )


def _in_window(grant: dict[str, Any], at: datetime) -> bool:
    starts, ends = grant["valid_from"], grant["valid_until"]
    return (starts is None or starts <= at) and (ends is None or at < ends)


def _coverage(
    grants: list[dict[str, Any]],
    mid: str,
    at: datetime,
    agreement_problem: Reason | None,
    boundaries: list[datetime],
) -> tuple[Grant | None, list[Reason]]:
    """Which grant covers the MID at `at`; schedule lines count only under a current agreement."""
    for grant in grants:
        if grant["valid_until"] is not None and grant["valid_until"] > at:
            boundaries.append(grant["valid_until"])
        if grant["valid_from"] is not None and grant["valid_from"] > at:
            boundaries.append(grant["valid_from"])
    covering = [g for g in grants if _in_window(g, at)]
    usable = [g for g in covering if g["kind"] == "MID_LINK" or agreement_problem is None]
    if usable:
        # Prefer the strongest basis: ownership, then the owner's authorization, then schedule.
        rank = {"OWNED": 0, "AUTHORIZED_BY_OWNER": 1, "SCHEDULE": 2}
        best = min(usable, key=lambda g: (rank[g["relation"]], g["pk"]))
        return Grant(kind=best["kind"], pk=best["pk"], mid=mid, relation=best["relation"]), []
    if covering:
        # Only schedule lines would cover it, and their agreement is not current.
        return None, [agreement_problem]
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
    agreement_problem = _agreement_problem(state, at, boundaries)
    if agreement_problem and state["provider_type"] in AGREEMENT_REQUIRED_TYPES:
        reasons.append(agreement_problem)
    if state["billing_hold"]:
        reasons.append(Reason.of(ReasonCode.BILLING_HOLD))
    basis, coverage_reasons = _coverage(
        _grants(provider_id, mid), mid, at, agreement_problem, boundaries
    )
    reasons += [reason for reason in coverage_reasons if reason not in reasons]
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

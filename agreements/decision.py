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
A tracking number that cannot be read with certainty (invalid, or a routed barcode whose two
readings carry different MIDs) is denied as a bad request (`Decision.is_bad_request`).

Time: a decision is about now. `projected_to` applies *today's* records to a later moment
(link windows, effective dates, deadlines); the past cannot be answered from today's records,
so an earlier moment is refused (docs/access-decision.md, "Questions about other moments").

Cost: a cold decision is 2 queries (provider state, then MID coverage); a cached one is 0.
Only decisions about now are cached, for at most ACCESS_DECISION_CACHE_SECONDS and never
past the next moment the answer could change by itself (a link window, deadline, effective
date or publication).
"""

import dataclasses
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from django.utils import timezone

from accounts.constants import ProviderStatus
from accounts.models import Provider
from agreements.constants import (
    AGREEMENT_REQUIRED_TYPES,
    BAD_REQUEST_REASONS,
    ReasonCode,
)
from agreements.decision_queries import VersionRow, grants_for_mids
from agreements.decision_queries import grants as _grants
from agreements.decision_queries import provider_state as _provider_state
from core import access_cache
from core.tracking_numbers import (
    AmbiguousTrackingNumber,
    InvalidTrackingNumber,
    is_valid_mid,
    parse,
)

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
    # When this answer was given. For a cache hit that is when it was served...
    decided_at: datetime | None = None
    # ...and this is when the rules were evaluated from the database.
    computed_at: datetime | None = None
    # Set when today's records were applied to a later moment instead of now.
    projected_to: datetime | None = None
    from_cache: bool = False

    @property
    def reason_codes(self) -> list[str]:
        return [reason.code for reason in self.reasons]

    @property
    def is_bad_request(self) -> bool:
        """Denied because the input cannot be read with certainty: the caller must fix it."""
        return any(reason.code in BAD_REQUEST_REASONS for reason in self.reasons)

    def as_dict(self) -> dict[str, Any]:
        return {
            "allowed": self.allowed,
            "provider_id": self.provider_id,
            "mid": self.mid,
            "reasons": [dataclasses.asdict(reason) for reason in self.reasons],
            "bad_request": self.is_bad_request,
            "basis": dataclasses.asdict(self.basis) if self.basis else None,
            "decided_at": _iso(self.decided_at),
            "computed_at": _iso(self.computed_at),
            "projected_to": _iso(self.projected_to),
            "from_cache": self.from_cache,
        }


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


# A moment read from the clock just before the call still counts as now.
CLOCK_SKEW = timedelta(seconds=5)


def _deny(
    provider_id: int,
    mid: str | None,
    *reasons: Reason,
    now: datetime,
    projected_to: datetime | None = None,
) -> Decision:
    return Decision(
        allowed=False,
        provider_id=provider_id,
        mid=mid,
        reasons=reasons,
        decided_at=now,
        computed_at=now,
        projected_to=projected_to,
    )


def _check_projection(projected_to: datetime | None, now: datetime) -> None:
    if projected_to is not None and projected_to < now - CLOCK_SKEW:
        raise ValueError(
            f"A decision can be projected to now or later, not to {projected_to:%Y-%m-%d %H:%M}: "
            "today's records cannot say what was allowed then. Past access is in the audit log."
        )


def decide(
    *, provider: Provider, mid: str | None, projected_to: datetime | None = None
) -> Decision:
    """Allow or deny `provider` reading data for `mid` now, or, with `projected_to`, at a later
    moment assuming no record changes in between. Raises ValueError for a past moment."""
    now = timezone.now()
    _check_projection(projected_to, now)
    provider_id = provider.pk
    try:
        if mid is None:
            reason = Reason.of(ReasonCode.NO_MID_IN_TRACKING_NUMBER)
            return _deny(provider_id, None, reason, now=now, projected_to=projected_to)
        if not isinstance(mid, str) or not is_valid_mid(mid):
            reason = Reason.of(ReasonCode.INVALID_MID)
            return _deny(provider_id, str(mid), reason, now=now, projected_to=projected_to)
        if projected_to is not None:
            return _evaluate(provider_id, mid, now=now, projected_to=projected_to)[0]
        return _decide_now_with_cache(provider_id, mid, now)
    except Exception:
        logger.exception(
            "access decision failed for provider %s, MID %s; denying", provider_id, mid
        )
        reason = Reason.of(ReasonCode.DECISION_ERROR)
        return _deny(provider_id, mid, reason, now=now, projected_to=projected_to)


def decide_for_number(
    *, provider: Provider, tracking_number: str, projected_to: datetime | None = None
) -> Decision:
    """Parse the number, extract its MID and decide. Unreadable numbers are denied with the
    cause, as bad requests."""
    now = timezone.now()
    _check_projection(projected_to, now)
    try:
        number = parse(tracking_number)
    except AmbiguousTrackingNumber as exc:
        reason = Reason.of(ReasonCode.AMBIGUOUS_TRACKING_NUMBER, f"({exc.reason})")
        return _deny(provider.pk, None, reason, now=now, projected_to=projected_to)
    except InvalidTrackingNumber as exc:
        reason = Reason.of(ReasonCode.INVALID_TRACKING_NUMBER, f"({exc.reason})")
        return _deny(provider.pk, None, reason, now=now, projected_to=projected_to)
    except Exception:
        logger.exception("tracking number parser failed for provider %s; denying", provider.pk)
        reason = Reason.of(ReasonCode.DECISION_ERROR)
        return _deny(provider.pk, None, reason, now=now, projected_to=projected_to)
    return decide(provider=provider, mid=number.mid, projected_to=projected_to)


def decide_many(*, provider: Provider, mids: list[str]) -> dict[str, Decision]:
    """`decide` for each of `mids` now, for pages that show a provider's every MID: cached
    answers in one cache round trip, the rest from 2 queries in all (not 2 per MID). Same
    rules, same caching, same failing closed as `decide`."""
    now = timezone.now()
    provider_id = provider.pk
    results: dict[str, Decision] = {}
    wanted = list(dict.fromkeys(mids))
    for mid in wanted:
        if not isinstance(mid, str) or not is_valid_mid(mid):
            results[mid] = decide(provider=provider, mid=mid)
    wanted = [mid for mid in wanted if mid not in results]
    if not wanted:
        return results
    tokens = None
    if not access_cache.is_dirty(provider_id):
        try:
            tokens = access_cache.current_tokens(provider_id)
            hits = access_cache.get_many(provider_id, wanted, tokens)
        except Exception:  # noqa: BLE001 - the cache is an optimisation
            logger.warning("access cache unreachable; deciding from the database", exc_info=True)
            tokens, hits = None, {}
        for mid, cached in hits.items():
            results[mid] = dataclasses.replace(cached, decided_at=now, from_cache=True)
    misses = [mid for mid in wanted if mid not in results]
    if not misses:
        return results
    try:
        state = _provider_state(provider_id, now)
        rows = grants_for_mids(provider_id, misses)
        for mid in misses:
            decision, valid_until = _evaluate(
                provider_id, mid, now=now, state=state, grant_rows=rows[mid]
            )
            results[mid] = decision
            if tokens is not None:
                ttl = int((valid_until - now).total_seconds()) if valid_until else 10**9
                try:
                    access_cache.put(provider_id, mid, tokens, decision, ttl)
                except Exception:  # noqa: BLE001
                    logger.warning("access cache unreachable; decision not cached", exc_info=True)
    except Exception:
        logger.exception("access decisions failed for provider %s; denying", provider_id)
        reason = Reason.of(ReasonCode.DECISION_ERROR)
        for mid in misses:
            results[mid] = _deny(provider_id, mid, reason, now=now)
    return results


def _decide_now_with_cache(provider_id: int, mid: str, now: datetime) -> Decision:
    if access_cache.is_dirty(provider_id):
        # This connection changed the provider's inputs and has not committed: the answer
        # must reflect its own writes, and must not be cached in case they roll back.
        return _evaluate(provider_id, mid, now=now)[0]
    try:
        tokens = access_cache.current_tokens(provider_id)
        cached = access_cache.get(provider_id, mid, tokens)
    except Exception:  # noqa: BLE001 - the cache is an optimisation; the database is the truth
        logger.warning("access cache unreachable; deciding from the database", exc_info=True)
        return _evaluate(provider_id, mid, now=now)[0]
    if cached is not None:
        return dataclasses.replace(cached, decided_at=now, from_cache=True)
    decision, valid_until = _evaluate(provider_id, mid, now=now)
    ttl = int((valid_until - now).total_seconds()) if valid_until else 10**9
    try:
        access_cache.put(provider_id, mid, tokens, decision, ttl)
    except Exception:  # noqa: BLE001
        logger.warning("access cache unreachable; decision not cached", exc_info=True)
    return decision


def _agreement_problem(
    state: dict[str, Any], at: datetime, boundaries: list[datetime]
) -> Reason | None:
    """Why the provider's approved agreement is not current at `at`, or None if it is."""
    boundaries += [v.published_at for v in state["versions"] if v.published_at > at]
    versions: list[VersionRow] = [v for v in state["versions"] if v.published_at <= at]
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


_LOAD = object()  # _evaluate loads what it is not given


def _evaluate(
    provider_id: int,
    mid: str,
    *,
    now: datetime,
    projected_to: datetime | None = None,
    state: Any = _LOAD,
    grant_rows: list[dict[str, Any]] | None = None,
) -> tuple[Decision, datetime | None]:
    """Apply the rules from the database; also return when the answer could next change.
    `state` and `grant_rows`, when given, are the rows queries 1 and 2 would return."""
    at = projected_to or now
    if state is _LOAD:
        state = _provider_state(provider_id, at)
    if state is None:
        reason = Reason.of(ReasonCode.PROVIDER_NOT_ACTIVE)
        return _deny(provider_id, mid, reason, now=now, projected_to=projected_to), None
    boundaries: list[datetime] = []
    reasons: list[Reason] = []
    if state["status"] != ProviderStatus.ACTIVE:
        reasons.append(Reason.of(ReasonCode.PROVIDER_NOT_ACTIVE, f"(status {state['status']})"))
    agreement_problem = _agreement_problem(state, at, boundaries)
    if agreement_problem and state["provider_type"] in AGREEMENT_REQUIRED_TYPES:
        reasons.append(agreement_problem)
    if state["billing_hold"]:
        reasons.append(Reason.of(ReasonCode.BILLING_HOLD))
    if grant_rows is None:
        grant_rows = _grants(provider_id, mid)
    basis, coverage_reasons = _coverage(grant_rows, mid, at, agreement_problem, boundaries)
    reasons += [reason for reason in coverage_reasons if reason not in reasons]
    decision = Decision(
        allowed=not reasons,
        provider_id=provider_id,
        mid=mid,
        reasons=tuple(reasons),
        basis=basis if not reasons else None,
        decided_at=now,
        computed_at=now,
        projected_to=projected_to,
    )
    future = [moment for moment in boundaries if moment > at]
    return decision, min(future) if future else None

"""The access decision's two queries (agreements.decision), written with the ORM and compiled
once per process (core.prepared.PreparedQuery): building the SQL cost more than running it.

Query 1 reads the provider's state, its approved agreement's version and the agreement
versions that apply to its type; query 2 every verified link and approved schedule line that
could cover the MID. The rules that read their rows live in agreements.decision.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.contrib.postgres.expressions import ArraySubquery
from django.db.models import (
    CharField,
    DateTimeField,
    Exists,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.functions import JSONObject

from accounts.constants import ProviderStatus
from accounts.models import Provider
from agreements.constants import (
    AgreementStatus,
    MidLinkStatus,
    MidRelation,
    ScheduleLineStatus,
)
from agreements.models import Agreement, AgreementScheduleLine, AgreementVersion, MidLink
from core.prepared import PreparedQuery, json_value


@dataclass(frozen=True, slots=True)
class VersionRow:
    effective_at: datetime
    pk: int
    reacceptance_days: int
    published_at: datetime

    @property
    def order(self) -> tuple[datetime, int]:
        # "Newest" means latest effective_at; on a tie, the one created last.
        return (self.effective_at, self.pk)

    @property
    def deadline(self) -> datetime:
        return self.effective_at + timedelta(days=self.reacceptance_days)


def _provider_state_query(*, provider_id: int, at: datetime) -> QuerySet:
    """Query 1: the provider, its approved agreement's version if that version applies to the
    provider's type, and every published agreement version that applies to the type (versions
    published after `at` too: their publication is a moment the answer changes).

    Orderings are cleared throughout: the rules sort in Python, and model default orderings
    would add sorts (and, for the provider, a sort by name) that the plan does not need.
    """
    applies = {"applies_to__contains": [OuterRef("provider_type")]}
    versions = (
        AgreementVersion.objects.filter(published_at__isnull=False, **applies)
        .order_by()
        .values(
            v=JSONObject(
                pk="pk",
                effective_at="effective_at",
                days="reacceptance_days",
                published="published_at",
            )
        )
    )
    # At most one APPROVED agreement per provider (a partial unique index), so no ordering.
    approved = (
        Agreement.objects.filter(
            provider_id=OuterRef("pk"),
            status=AgreementStatus.APPROVED,
            # Rule 2 is the last line of defence: a signature on a version written for another
            # provider type, or not yet published, is no agreement at all.
            version__published_at__lte=at,
            **{f"version__{key}": value for key, value in applies.items()},
        )
        .order_by()
        .values(a=JSONObject(version_id="version_id", effective_at="version__effective_at"))[:1]
    )
    return (
        Provider.objects.filter(pk=provider_id)
        .order_by()
        .annotate(versions=ArraySubquery(versions), approved=Subquery(approved))
        .values("status", "provider_type", "billing_hold", "versions", "approved")
    )


def _grants_union(*, provider_id: int, mids: Q, with_mid: bool) -> QuerySet:
    """Every verified link and approved schedule line (of an approved agreement) of the
    provider for the MIDs `mids` selects. Unordered: MidLink's default ordering would join the
    provider only to sort by its name. `with_mid` adds the MID as a last column."""
    # A link an owner consented to counts only while that owner still holds the MID's verified
    # OWNED link (revoking it also revokes the consents: mid_link_revoke) and is not closed (a
    # closed owner can no longer revoke, so its consent ends with it: provider_close).
    owner_still_owns = Exists(
        MidLink.objects.filter(
            provider_id=OuterRef("owner_provider_id"),
            mid=OuterRef("mid"),
            relation=MidRelation.OWNED,
            status=MidLinkStatus.VERIFIED,
        ).exclude(provider__status=ProviderStatus.CLOSED)
    )
    mid_column = ("mid",) if with_mid else ()
    links = (
        MidLink.objects.filter(mids, provider_id=provider_id, status=MidLinkStatus.VERIFIED)
        .filter(Q(owner_provider__isnull=True) | owner_still_owns)
        .order_by()
        .values_list(
            Value("MID_LINK", output_field=CharField()),
            "pk",
            "relation",
            "valid_from",
            "valid_until",
            *mid_column,
        )
    )
    lines = (
        AgreementScheduleLine.objects.filter(
            mids,
            agreement__provider_id=provider_id,
            agreement__status=AgreementStatus.APPROVED,
            status=ScheduleLineStatus.APPROVED,
        )
        .order_by()
        .values_list(
            Value("SCHEDULE_LINE", output_field=CharField()),
            "pk",
            Value("SCHEDULE", output_field=CharField()),
            Value(None, output_field=DateTimeField()),
            Value(None, output_field=DateTimeField()),
            *mid_column,
        )
    )
    return links.union(lines, all=True)


def _grants_query(*, provider_id: int, mid: str) -> QuerySet:
    """Query 2: the grants that could cover one MID."""
    return _grants_union(provider_id=provider_id, mids=Q(mid=mid), with_mid=False)


# Compiled once per process: building the SQL cost more than running it (docs/benchmarks.md).
_PROVIDER_STATE = PreparedQuery(_provider_state_query, provider_id=int, at=datetime)
_GRANTS = PreparedQuery(_grants_query, provider_id=int, mid=str)
_GRANT_KEYS = ("kind", "pk", "relation", "valid_from", "valid_until")


def provider_state(provider_id: int, at: datetime) -> dict[str, Any] | None:
    rows = _PROVIDER_STATE.rows(provider_id=provider_id, at=at)
    if not rows:
        return None
    state = rows[0]
    state["versions"] = [
        VersionRow(
            effective_at=datetime.fromisoformat(v["effective_at"]),
            pk=v["pk"],
            reacceptance_days=v["days"],
            published_at=datetime.fromisoformat(v["published"]),
        )
        for v in map(json_value, state["versions"])
    ]
    approved = json_value(state.pop("approved"))
    state["approved_version_id"] = approved["version_id"] if approved else None
    state["approved_effective_at"] = (
        datetime.fromisoformat(approved["effective_at"]) if approved else None
    )
    return state


def grants(provider_id: int, mid: str) -> list[dict[str, Any]]:
    rows = _GRANTS.rows(provider_id=provider_id, mid=mid)
    # A UNION's columns are named after the first SELECT's, so key them by position.
    return [dict(zip(_GRANT_KEYS, row.values(), strict=True)) for row in rows]


def grants_for_mids(provider_id: int, mids: list[str]) -> dict[str, list[dict[str, Any]]]:
    """Query 2 for many MIDs at once (a page deciding every MID of a provider): grants by MID.
    Built by the ORM each call; one page pays that once, not once per MID."""
    found: dict[str, list[dict[str, Any]]] = {mid: [] for mid in mids}
    union = _grants_union(provider_id=provider_id, mids=Q(mid__in=mids), with_mid=True)
    for *row, mid in union:
        found[mid].append(dict(zip(_GRANT_KEYS, row, strict=True)))
    return found

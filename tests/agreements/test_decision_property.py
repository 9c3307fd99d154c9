"""Property test: `decide` agrees with an independent oracle over random scenarios.

The oracle restates the rules from the issue as plainly as possible, over plain Python data,
without the database or any code from agreements.decision.
"""

import dataclasses
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from accounts.constants import ProviderStatus, ProviderType
from agreements.constants import AgreementStatus, MidLinkStatus, MidRelation, ScheduleLineStatus
from agreements.decision import decide
from tests.factories import (
    AgreementFactory,
    AgreementVersionFactory,
    MidLinkFactory,
    ProviderFactory,
    ScheduleLineFactory,
)

# Decisions are about now or a projection to a later moment, never the past (issue 6, defect 3),
# so every scenario lives in the future: day -30 is still a month ahead.
BASE = timezone.now().replace(microsecond=0) + timedelta(days=60)
MIDS = ("901234567", "123456")
ASKED_MID = MIDS[0]


def moment(day: int, base: datetime = BASE) -> datetime:
    return base + timedelta(days=day)


@dataclass(frozen=True)
class Version:
    published_at: int | None  # days from BASE; None = draft
    effective_at: int
    reacceptance_days: int
    applies_to: frozenset[str]


@dataclass(frozen=True)
class Link:
    mid: str
    relation: str
    status: str
    valid_from: int
    valid_until: int | None


@dataclass(frozen=True)
class Line:
    mid: str
    status: str


@dataclass(frozen=True)
class Scenario:
    provider_type: str
    status: str
    billing_hold: bool
    versions: tuple[Version, ...]
    agreement: tuple[int, str] | None  # (index into versions, status)
    links: tuple[Link, ...]
    lines: tuple[Line, ...]
    at: int


def mostly(value, alternatives):
    """Bias towards the value that lets access through, so allowed answers are common too."""
    return st.one_of(st.just(value), st.just(value), alternatives)


# Whole days in a narrow range, so that equal moments (the edges of windows and deadlines)
# come up often.
days = st.integers(min_value=-20, max_value=20)


@st.composite
def versions(draw):
    effective_at = draw(days)
    # Usually published before it takes effect; sometimes late (back-dated), sometimes a draft.
    lag = draw(st.one_of(st.integers(min_value=0, max_value=10), st.integers(-5, -1), st.none()))
    return Version(
        published_at=None if lag is None else effective_at - lag,
        effective_at=effective_at,
        reacceptance_days=draw(st.integers(min_value=0, max_value=10)),
        applies_to=draw(st.frozensets(st.sampled_from(ProviderType.values), min_size=1)),
    )


@st.composite
def links(draw):
    start = draw(days)
    length = draw(st.one_of(st.none(), st.integers(min_value=1, max_value=20)))
    return Link(
        mid=draw(mostly(ASKED_MID, st.sampled_from(MIDS))),
        relation=draw(st.sampled_from(MidRelation.values)),
        status=draw(mostly(MidLinkStatus.VERIFIED.value, st.sampled_from(MidLinkStatus.values))),
        valid_from=start,
        valid_until=None if length is None else start + length,
    )


@st.composite
def scenarios(draw):
    version_list = draw(st.lists(versions(), max_size=3))
    agreement = None
    if version_list and draw(mostly(True, st.booleans())):
        agreement = (
            draw(st.integers(min_value=0, max_value=len(version_list) - 1)),
            draw(mostly(AgreementStatus.APPROVED.value, st.sampled_from(AgreementStatus.values))),
        )
    lines = ()
    if agreement is not None:
        lines = tuple(
            draw(
                st.lists(
                    st.builds(
                        Line,
                        mid=mostly(ASKED_MID, st.sampled_from(MIDS)),
                        status=mostly(
                            ScheduleLineStatus.APPROVED.value,
                            st.sampled_from(ScheduleLineStatus.values),
                        ),
                    ),
                    max_size=2,
                    unique_by=lambda line: line.mid,
                )
            )
        )
    link_list = draw(
        st.lists(links(), max_size=3, unique_by=lambda link: (link.mid, link.relation))
    )
    # Edges are where rules go wrong: aim `at` at them (and a day either side) most of the time.
    edges = [link.valid_from for link in link_list]
    edges += [link.valid_until for link in link_list if link.valid_until is not None]
    for v in version_list:
        edges += [v.effective_at, v.effective_at + v.reacceptance_days]
        edges += [v.published_at] if v.published_at is not None else []
    at = draw(days)
    if edges and draw(mostly(True, st.booleans())):
        at = draw(st.sampled_from(edges)) + draw(st.sampled_from([-1, 0, 0, 1]))
    return Scenario(
        provider_type=draw(
            mostly(ProviderType.SERVICE_PROVIDER.value, st.sampled_from(ProviderType.values))
        ),
        status=draw(mostly(ProviderStatus.ACTIVE.value, st.sampled_from(ProviderStatus.values))),
        billing_hold=draw(mostly(False, st.booleans())),
        versions=tuple(version_list),
        agreement=agreement,
        links=tuple(link_list),
        lines=lines,
        at=at,
    )


def agreement_problem(s: Scenario) -> str | None:
    """Why the provider's agreement is not current at `at`, or None when it is."""
    at = s.at
    in_effect = [
        (v.effective_at, index, v)
        for index, v in enumerate(s.versions)  # creation order = primary-key order
        if v.published_at is not None
        and v.published_at <= at
        and v.effective_at <= at
        and s.provider_type in v.applies_to
    ]
    if s.agreement is None or s.agreement[1] != "APPROVED" or not in_effect:
        return "AGREEMENT_REQUIRED"
    signed_version = s.versions[s.agreement[0]]
    if (
        s.provider_type not in signed_version.applies_to
        or signed_version.published_at is None
        or signed_version.published_at > at
    ):
        # A signature on a version for other provider types, or not yet published, is none.
        return "AGREEMENT_REQUIRED"
    signed_index = s.agreement[0]
    signed = (s.versions[signed_index].effective_at, signed_index)
    newer = [v for effective_at, index, v in in_effect if (effective_at, index) > signed]
    if not newer:
        return None
    # Grace ends at the first deadline of any version that replaced the signed one.
    if at < min(v.effective_at + v.reacceptance_days for v in newer):
        return None
    return "AGREEMENT_REACCEPTANCE_REQUIRED"


def oracle(s: Scenario) -> list[str]:
    """The rules, stated directly."""
    at = s.at
    reasons = []
    if s.status != "ACTIVE":
        reasons.append("PROVIDER_NOT_ACTIVE")
    problem = agreement_problem(s)
    if s.provider_type == "SERVICE_PROVIDER" and problem:
        reasons.append(problem)
    if s.billing_hold:
        reasons.append("BILLING_HOLD")
    link_windows = [
        (link.valid_from, link.valid_until)
        for link in s.links
        if link.mid == ASKED_MID and link.status == "VERIFIED"
    ]
    link_covers = any(start <= at and (end is None or at < end) for start, end in link_windows)
    agreement_approved = s.agreement is not None and s.agreement[1] == "APPROVED"
    line_covers = agreement_approved and any(
        line.mid == ASKED_MID and line.status == "APPROVED" for line in s.lines
    )
    if link_covers or (line_covers and problem is None):
        return reasons
    if line_covers:
        # A schedule line would grant it, but only under a current agreement.
        return reasons if problem in reasons else [*reasons, problem]
    reasons.append("MID_LINK_NOT_IN_WINDOW" if link_windows else "MID_NOT_AUTHORIZED")
    return reasons


def build(s: Scenario, base: datetime = BASE):
    def moment(day: int) -> datetime:
        return base + timedelta(days=day)

    provider = ProviderFactory(
        provider_type=s.provider_type,
        status=s.status,
        suspension_cause="NON_PAYMENT" if s.status == "SUSPENDED" else "",
        billing_hold=s.billing_hold,
        billing_hold_at=base if s.billing_hold else None,
    )
    version_rows = [
        AgreementVersionFactory(
            label=f"p-{uuid.uuid4().hex[:12]}",
            published_at=None if v.published_at is None else moment(v.published_at),
            text_sha256="" if v.published_at is None else "0" * 64,
            effective_at=moment(v.effective_at),
            reacceptance_days=v.reacceptance_days,
            applies_to=sorted(v.applies_to),
        )
        for v in s.versions
    ]
    if s.agreement is not None:
        index, status = s.agreement
        agreement = AgreementFactory(provider=provider, version=version_rows[index], status=status)
        for line in s.lines:
            ScheduleLineFactory(agreement=agreement, mid=line.mid, status=line.status)
    for link in s.links:
        MidLinkFactory(
            provider=provider,
            mid=link.mid,
            relation=link.relation,
            owner_name="Owner Inc" if link.relation == "AUTHORIZED_BY_OWNER" else "",
            status=link.status,
            valid_from=moment(link.valid_from),
            valid_until=None if link.valid_until is None else moment(link.valid_until),
        )
    return provider


@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(scenario=scenarios())
def test_decide_agrees_with_the_oracle(db, scenario):
    with transaction.atomic():
        provider = build(scenario)

        decision = decide(provider=provider, mid=ASKED_MID, projected_to=moment(scenario.at))

        expected = oracle(scenario)
        event("allowed" if not expected else f"denied: {', '.join(expected)}")
        assert decision.reason_codes == expected
        assert decision.allowed is (expected == [])
        assert (decision.basis is not None) is decision.allowed
        transaction.set_rollback(True)


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(scenario=scenarios())
def test_decisions_about_now_agree_with_the_oracle_cold_and_cached(db, scenario):
    """Only decisions about "now" use the cache, so the scenario is built around the clock:
    day 0 is one second ago, and every edge is a whole number of days from it."""
    scenario = dataclasses.replace(scenario, at=0)
    with transaction.atomic():
        provider = build(scenario, base=timezone.now() - timedelta(seconds=1))

        cold = decide(provider=provider, mid=ASKED_MID)
        cached = decide(provider=provider, mid=ASKED_MID)

        expected = oracle(scenario)
        assert cold.reason_codes == expected
        assert not cold.from_cache
        assert cached.from_cache
        assert (cached.allowed, cached.reason_codes, cached.basis) == (
            cold.allowed,
            cold.reason_codes,
            cold.basis,
        )
        transaction.set_rollback(True)

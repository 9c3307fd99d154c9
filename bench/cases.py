"""The benchmarks: each pairs a workload with the baseline its ratio is measured against.

Before anything is timed, each benchmark checks that it measures what it says (the mix
parses as labelled, a cold decision issues 2 queries, a cached one none, no decision errors),
so a broken set-up cannot produce a flattering number.
"""

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import Provider
from agreements.constants import ReasonCode
from agreements.decision import Decision, decide, decide_for_number
from bench.data import Dataset
from bench.environment import clear_bench_cache
from bench.samples import ParserInputs
from bench.timing import Workload
from core.tracking_numbers import InvalidTrackingNumber, parse

SMALL_CACHE_KEY = "bench:small"
# A cold decision takes milliseconds; a shuffled slice of the questions keeps the run short.
COLD_QUESTIONS = 120


@dataclass(frozen=True)
class Benchmark:
    name: str
    subject_label: str
    baseline_label: str
    subject: Workload
    baseline: Workload
    ops_per_pass: int
    # One line reading the ratio (cost of one op in baseline ops) in plain words.
    explain: Callable[[float], str]
    # Facts verified before timing, for the report.
    checks: list[str] = field(default_factory=list)


def _queries_per_op(workload: Workload, ops: int) -> float:
    with CaptureQueriesContext(connection) as captured:
        workload()
    return len(captured.captured_queries) / ops


def _outcomes(decisions: list[Decision]) -> Counter[str]:
    return Counter("allowed" if d.allowed else "+".join(d.reason_codes) for d in decisions)


def _format_outcomes(outcomes: Counter[str]) -> str:
    return ", ".join(f"{count} {label}" for label, count in outcomes.most_common())


def parser_benchmark(inputs: ParserInputs) -> Benchmark:
    numbers = inputs.numbers

    def subject() -> None:
        for number in numbers:
            try:
                parse(number)
            except InvalidTrackingNumber:
                pass

    def baseline() -> None:
        for number in numbers:
            number.isdigit()

    mix = ", ".join(f"{count} {kind}" for kind, count in inputs.kinds.most_common())
    return Benchmark(
        name="Parser",
        subject_label="`parse(s)`",
        baseline_label="`s.isdigit()`",
        subject=subject,
        baseline=baseline,
        ops_per_pass=len(numbers),
        explain=lambda r: (
            f"one `parse()` costs about {r:.0f} `str.isdigit()` calls on the same strings "
            "(normalising, layout rules and the MOD 10/11 check digit, in pure Python)."
        ),
        checks=[f"Parser mix ({len(numbers)} strings, all checked as labelled): {mix}."],
    )


def cold_decision_benchmark(data: Dataset) -> Benchmark:
    pairs = data.pairs[:COLD_QUESTIONS]
    # Projected decisions are never cached; ten minutes ahead stays in the future all run long
    # and crosses none of the data's windows (they are whole days).
    ahead = timezone.now() + timedelta(minutes=10)

    def subject() -> None:
        for provider, mid in pairs:
            decide(provider=provider, mid=mid, projected_to=ahead)

    def baseline() -> None:
        for provider, _ in pairs:
            Provider.objects.filter(pk=provider.pk).values_list("status", flat=True).first()

    decisions = [decide(provider=p, mid=m, projected_to=ahead) for p, m in pairs]
    outcomes = _outcomes(decisions)
    assert ReasonCode.DECISION_ERROR.value not in outcomes, outcomes
    assert outcomes["allowed"] and outcomes.total() > outcomes["allowed"], outcomes
    subject_queries = _queries_per_op(subject, len(pairs))
    baseline_queries = _queries_per_op(baseline, len(pairs))
    assert subject_queries == 2 and baseline_queries == 1, (subject_queries, baseline_queries)
    return Benchmark(
        name="Decision, cold",
        subject_label="`decide(provider, mid, projected_to=soon)` (never cached)",
        baseline_label="1-row `Provider` query",
        subject=subject,
        baseline=baseline,
        ops_per_pass=len(pairs),
        explain=lambda r: (
            f"an uncached decision costs about {r:.1f} trivial ORM queries "
            "(2 queries compiled once per process and run as raw SQL, the first with "
            "subqueries, the second a UNION; then the rules in Python)."
        ),
        checks=[
            f"Cold-decision outcomes over the {len(pairs)} questions timed: "
            f"{_format_outcomes(outcomes)}.",
            f"Queries per op: cold decision {subject_queries:g}, baseline {baseline_queries:g}.",
        ],
    )


def cached_decision_benchmark(data: Dataset) -> Benchmark:
    pairs = data.pairs
    clear_bench_cache()
    cold = [decide(provider=p, mid=m) for p, m in pairs]  # warms the cache
    cache.set(SMALL_CACHE_KEY, {"allowed": True, "provider_id": 1}, timeout=None)

    def subject() -> None:
        for provider, mid in pairs:
            decide(provider=provider, mid=mid)

    def baseline() -> None:
        for _ in pairs:
            cache.get(SMALL_CACHE_KEY)

    warm = [decide(provider=p, mid=m) for p, m in pairs]
    assert all(d.from_cache for d in warm), "decisions were not served from the cache"
    assert [d.allowed for d in warm] == [d.allowed for d in cold]
    queries = _queries_per_op(subject, len(pairs))
    assert queries == 0, queries
    return Benchmark(
        name="Decision, cached",
        subject_label="`decide(provider, mid)` (cache hit)",
        baseline_label="`cache.get(key)`",
        subject=subject,
        baseline=baseline,
        ops_per_pass=len(pairs),
        explain=lambda r: (
            f"a cached decision costs about {r:.1f} raw cache reads "
            "(a `get_many` of the version tokens, the decision `get`, unpickling)."
        ),
        checks=[f"Queries per op: cached decision {queries:g} (all {len(pairs)} hits)."],
    )


def _explain_parse_overhead(ratio: float) -> str:
    extra = (ratio - 1) * 100
    if extra < 1:
        return "parsing the tracking number first adds no cost measurable above the noise."
    return f"parsing the tracking number first adds about {extra:.0f}% to a cached decision."


def number_decision_benchmark(data: Dataset) -> Benchmark:
    """Run after cached_decision_benchmark: the same questions, so the cache is warm."""
    pairs, numbers = data.pairs, data.numbers
    for (_, mid), (_, number) in zip(pairs, numbers, strict=True):
        assert parse(number).mid == mid, (number, mid)

    def subject() -> None:
        for provider, number in numbers:
            decide_for_number(provider=provider, tracking_number=number)

    def baseline() -> None:
        for provider, mid in pairs:
            decide(provider=provider, mid=mid)

    decisions = [decide_for_number(provider=p, tracking_number=n) for p, n in numbers]
    assert all(d.from_cache for d in decisions), "decide_for_number missed the cache"
    return Benchmark(
        name="Decision by tracking number, cached",
        subject_label="`decide_for_number(provider, number)`",
        baseline_label="`decide(provider, mid)` (cache hit)",
        subject=subject,
        baseline=baseline,
        ops_per_pass=len(numbers),
        explain=_explain_parse_overhead,
        checks=["Tracking numbers: 22-digit IMpb PICs for the same questions, a third routed."],
    )

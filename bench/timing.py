"""Paired, interleaved timing of a workload against its baseline.

Each repetition times the baseline and the subject back to back (alternating which goes
first, so slow drift hits both equally) and records the ratio of their costs per operation.
The reported ratio is the median of those paired ratios; ops/s are medians too.
"""

import gc
import math
import statistics
from collections.abc import Callable
from dataclasses import dataclass
from time import perf_counter

from bench.progress import Progress

Workload = Callable[[], None]

REPETITIONS = 11
# Each timed sample runs whole passes of its workload for at least this long.
MIN_SAMPLE_SECONDS = 0.2


@dataclass(frozen=True, slots=True)
class PairResult:
    ops_per_sec: float
    baseline_ops_per_sec: float
    # Cost ratio: subject time per op / baseline time per op (higher = costlier).
    ratio: float
    ratio_min: float
    ratio_max: float
    repetitions: int


def _time_passes(workload: Workload, passes: int) -> float:
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        start = perf_counter()
        for _ in range(passes):
            workload()
        return perf_counter() - start
    finally:
        if gc_was_enabled:
            gc.enable()


def _passes_for(workload: Workload, min_seconds: float) -> int:
    """Warm the workload up, then choose how many passes fill one sample."""
    workload()
    one_pass = _time_passes(workload, 1)
    return max(1, math.ceil(min_seconds / max(one_pass, 1e-9)))


def measure_pair(
    subject: Workload,
    baseline: Workload,
    *,
    ops_per_pass: int,
    progress: Progress,
    repetitions: int = REPETITIONS,
    min_seconds: float = MIN_SAMPLE_SECONDS,
) -> PairResult:
    """Time ``subject`` and ``baseline`` (each doing ``ops_per_pass`` ops per call)."""
    subject_passes = _passes_for(subject, min_seconds)
    baseline_passes = _passes_for(baseline, min_seconds)
    subject_rates: list[float] = []
    baseline_rates: list[float] = []
    ratios: list[float] = []
    for rep in range(repetitions):
        timings: dict[str, float] = {}
        order = [("subject", subject, subject_passes), ("baseline", baseline, baseline_passes)]
        if rep % 2:
            order.reverse()
        for name, workload, passes in order:
            timings[name] = _time_passes(workload, passes) / (passes * ops_per_pass)
        subject_rates.append(1 / timings["subject"])
        baseline_rates.append(1 / timings["baseline"])
        ratios.append(timings["subject"] / timings["baseline"])
        progress.step()
    return PairResult(
        ops_per_sec=statistics.median(subject_rates),
        baseline_ops_per_sec=statistics.median(baseline_rates),
        ratio=statistics.median(ratios),
        ratio_min=min(ratios),
        ratio_max=max(ratios),
        repetitions=repetitions,
    )

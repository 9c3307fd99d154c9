"""The load phases of the tracking API benchmark, interleaved in rounds on one store size.

(a) the constant behind the API's authentication, (b) GET ...?expand=DETAIL with decisions
warm, (b') the same against a server whose decision cache is off, (c) a 35-item v3r2 batch.
Each round runs every phase once, in a rotated order, so slow drift in the machine hits all of
them alike; the report takes medians over rounds. The disclosure buffer is drained (and the
drain timed) after every phase that filled it.
"""

import os
import statistics
import time
from dataclasses import dataclass, field

from bench.api_server import LoadResult, Server, run_wrk
from bench.progress import Progress
from tracking.services import disclosures


@dataclass(frozen=True, slots=True)
class Phase:
    key: str
    label: str
    server: str  # "warm" or "cold"
    script: str
    numbers_per_request: int


PHASES = [
    Phase("a", "(a) constant, same auth", "warm", "constant.lua", 0),
    Phase("b", "(b) GET ?expand=DETAIL, decisions warm", "warm", "lookup.lua", 1),
    Phase("b_cold", "(b') GET ?expand=DETAIL, decision cache off", "cold", "lookup.lua", 1),
    Phase("c", "(c) POST v3r2, 35 items", "warm", "batch.lua", 35),
]


@dataclass(frozen=True, slots=True)
class LoadSettings:
    rounds: int
    seconds: float
    warmup_seconds: float
    connections: int
    threads: int


@dataclass
class DrainStats:
    records: int = 0
    seconds: float = 0.0
    batches: int = 0

    @property
    def records_per_second(self) -> float:
        return self.records / self.seconds if self.seconds else 0.0


@dataclass
class PhaseResult:
    phase: Phase
    runs: list[LoadResult] = field(default_factory=list)

    def _median(self, attribute: str) -> float:
        return statistics.median(getattr(run, attribute) for run in self.runs)

    @property
    def rps(self) -> float:
        return self._median("rps")

    @property
    def p50_ms(self) -> float:
        return self._median("p50_ms")

    @property
    def p99_ms(self) -> float:
        return self._median("p99_ms")

    @property
    def rps_range(self) -> tuple[float, float]:
        rates = [run.rps for run in self.runs]
        return min(rates), max(rates)

    @property
    def requests(self) -> int:
        return sum(run.requests for run in self.runs)

    @property
    def socket_errors(self) -> int:
        return sum(run.socket_errors for run in self.runs)


@dataclass
class Measurement:
    label: str
    phases: dict[str, PhaseResult]
    drain: DrainStats
    # 1-minute load average after each timed phase: the benchmark itself accounts for ~3 on
    # 2 cores (2 workers, wrk, PostgreSQL, Redis); more means something else was running.
    loads: list[float] = field(default_factory=list)

    def ratios(self, key: str, baseline: str = "a") -> list[float]:
        """Per round: the phase's requests/s over the baseline's in the same round."""
        pairs = zip(self.phases[key].runs, self.phases[baseline].runs, strict=True)
        return [run.rps / base.rps for run, base in pairs]

    def ratio(self, key: str, baseline: str = "a") -> float:
        """The median of the per-round ratios: paired in time, so drift cancels."""
        return statistics.median(self.ratios(key, baseline))


def drain_buffer(stats: DrainStats) -> None:
    """Write the buffered disclosures to PostgreSQL now, timed."""
    started = time.perf_counter()
    report = disclosures.drain(max_batches=10**6)
    stats.seconds += time.perf_counter() - started
    assert not report.skipped_locked and not report.repeated, report
    stats.records += report.written
    stats.batches += report.batches


def measure(
    label: str, servers: dict[str, Server], env: dict[str, str], settings: LoadSettings
) -> Measurement:
    results = {phase.key: PhaseResult(phase) for phase in PHASES}
    drain = DrainStats()
    loads: list[float] = []
    warmup = DrainStats()  # the warm-up's records are written too, but not reported

    def run(phase: Phase, seconds: float) -> LoadResult:
        result = run_wrk(
            server=servers[phase.server],
            script=phase.script,
            seconds=seconds,
            connections=settings.connections,
            threads=settings.threads,
            env=env,
        )
        if result.status_errors:
            raise SystemExit(
                f"{phase.label}: {result.status_errors} of {result.requests} responses were "
                "errors; the numbers would measure error answers (see var/log/bench-gunicorn-*)"
            )
        return result

    progress = Progress(f"{label}: warm-up", len(PHASES))
    for phase in PHASES:
        run(phase, settings.warmup_seconds)
        drain_buffer(warmup)
        progress.step()
    progress.finish("caches, connections and pages warm")
    progress = Progress(f"{label}: {settings.rounds} rounds", settings.rounds * len(PHASES))
    for round_no in range(settings.rounds):
        shift = round_no % len(PHASES)
        for phase in PHASES[shift:] + PHASES[:shift]:
            results[phase.key].runs.append(run(phase, settings.seconds))
            loads.append(os.getloadavg()[0])
            if phase.numbers_per_request:
                drain_buffer(drain)
            progress.step()
    summary = ", ".join(f"{r.phase.key} {r.rps:,.0f}/s" for r in results.values())
    progress.finish(summary)
    return Measurement(label=label, phases=results, drain=drain, loads=loads)

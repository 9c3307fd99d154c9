"""Orchestrates a run: set up, build data, measure, report, clean up."""

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from bench import sections
from bench.environment import BENCH_DB_NAME, bench_database, clear_bench_cache, setup_django
from bench.progress import Progress, status
from bench.timing import REPETITIONS, measure_pair

if TYPE_CHECKING:
    from bench.cases import Benchmark
    from bench.report import Row


def main() -> int:
    setup_django()
    # Imported after django.setup(): these modules import models.
    from bench import report

    started, clock = report.now_utc(), time.perf_counter()
    clear_bench_cache()
    try:
        status(f"creating the throwaway database {BENCH_DB_NAME}")
        with bench_database():
            rows, checks = _run_all()
            info = report.machine_info()
    finally:
        clear_bench_cache()
        status(f"cleaned up ({BENCH_DB_NAME} dropped, bench cache cleared)")
    seconds = time.perf_counter() - clock
    text = report.render_markdown(rows, info, checks, started, seconds)
    if report.REPORT_PATH.exists():  # the other benchmarks' sections are other runs': kept
        previous = report.REPORT_PATH.read_text()
        for heading in (sections.BILLING_HEADING, sections.API_HEADING, sections.EXTRACTS_HEADING):
            kept = sections.extract(previous, heading)
            text = text.rstrip() + "\n\n" + kept if kept else text
    report.REPORT_PATH.write_text(text)
    print(report.render_text(rows))
    status(f"wrote docs/benchmarks.md in {seconds:.0f} s")
    return 0


def _run_all() -> tuple[list["Row"], list[str]]:
    from bench import cases
    from bench.data import build_dataset
    from bench.report import Row
    from bench.samples import parser_inputs

    status("building data with the factories")
    data = build_dataset()
    summary = ", ".join(f"{value} {label}" for label, value in data.counts.items())
    status(summary)
    builders: list[Callable[[], Benchmark]] = [
        lambda: cases.parser_benchmark(parser_inputs()),
        lambda: cases.cold_decision_benchmark(data),
        lambda: cases.cached_decision_benchmark(data),
        lambda: cases.number_decision_benchmark(data),  # needs the cache the one above warmed
    ]
    rows: list[Row] = []
    checks = [f"Data: {summary}."]
    for index, build in enumerate(builders, start=1):
        bench = build()
        checks += bench.checks
        progress = Progress(f"[{index}/{len(builders)}] {bench.name}", REPETITIONS)
        result = measure_pair(
            bench.subject, bench.baseline, ops_per_pass=bench.ops_per_pass, progress=progress
        )
        progress.finish(f"{result.ops_per_sec:,.0f} ops/s, ratio {result.ratio:.2f}")
        rows.append(
            Row(
                name=bench.name,
                subject_label=bench.subject_label,
                baseline_label=bench.baseline_label,
                result=result,
                explanation=bench.explain(result.ratio),
            )
        )
    return rows, checks

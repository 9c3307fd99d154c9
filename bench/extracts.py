"""Scan event extracts at scale: ``python -m bench extracts`` (or ``python -m bench.extracts``).

Builds the extract of one MID's November (1,050,000 events) and of another's (105,000) with
tracking.extracts.build.write_extract, each build in a fresh process (bench/extracts_worker.py)
so its peak RSS is that build's alone, interleaved in every repetition with the baseline the
issue names, a plain ``COPY (rows_sql) TO STDOUT`` of the same rows, also in a fresh process.
Reports events/s, the builder's share of COPY's events/s, and the worker's memory: the growth
of its peak RSS over its RSS before the build, 100k against 1M. Rewrites only the "Scan event
extracts" section of docs/benchmarks.md.

The data lives in a database of its own (``bench_extracts``), generated with set-based SQL
(bench/extracts_data.py) and kept for the next run, which reuses it when it is still what this
benchmark generates (``--fresh`` regenerates it, ``--drop`` drops the database afterwards).
"""

import argparse
import csv
import gzip
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from bench import sections
from bench.environment import setup_django
from bench.extracts_data import QUOTED_NAME
from bench.progress import status

DB_NAME = "bench_extracts"
HEADING = sections.EXTRACTS_HEADING
REPORT_PATH = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"
TARGET_SHARE = 0.30  # of COPY's events/s
# Flat memory: the 1M build's growth at most 20% or 5 MiB above the 100k build's.
FLAT_FACTOR, FLAT_SLACK_KIB = 1.2, 5 * 1024
SMALL_CHUNKS = (500, 2_000)  # chunk_rows tried once each, to show what memory follows


@dataclass(frozen=True, slots=True)
class Method:
    key: str
    label: str
    kind: str  # bench/extracts_worker.py's kinds
    file_format: str | None = None


METHODS = (
    Method("ndjson", "builder, NDJSON", "builder", "NDJSON"),
    Method("copy", "COPY … TO STDOUT (baseline)", "copy"),
    Method("csv", "builder, CSV", "builder", "CSV"),
    Method("copy_gzip", "COPY + gzip + SHA-256 to a file", "copy_gzip"),
)
BASELINE = "copy"


@dataclass(frozen=True, slots=True)
class Size:
    key: str
    label: str
    mid: str
    events: int = 0  # counted in the database, independently of the builder
    quoted: int = 0  # of which with a double quote in the recipient's name


@dataclass(slots=True)
class Sample:
    rep: int
    rows: int
    size: int  # bytes out: the gzip file, or COPY's text
    raw_bytes: int | None
    seconds: float
    baseline_rss_kib: int
    peak_kib: int
    growth_kib: int
    sha256: str = ""
    callbacks: dict = field(default_factory=dict)
    server_settings: dict = field(default_factory=dict)
    worker_cpu: float = 0.0  # seconds, all the worker's threads
    server_cpu: float = 0.0  # seconds, the PostgreSQL backend of its connection
    plan: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.rows / self.seconds


@dataclass(slots=True)
class Run:
    sizes: list[Size]
    repetitions: int
    samples: dict[tuple[str, str], list[Sample]] = field(default_factory=dict)
    checks: list[str] = field(default_factory=list)
    chunk_growth: dict[int, int] = field(default_factory=dict)  # chunk_rows: growth KiB
    copy_order: str = ""  # "ordered" or "unordered": whether rows_sql() sorts
    plans: dict[tuple[str, str], str] = field(default_factory=dict)  # (size, whose): plan
    reused: bool = False
    started: datetime = field(default_factory=lambda: datetime.now(UTC))
    seconds: float = 0.0
    machine: dict[str, str] = field(default_factory=dict)
    load_before: str = ""
    load_after: str = ""

    def of(self, size: str, method: str) -> list[Sample]:
        return self.samples.get((size, method), [])

    def ratios(self, size: str, method: str) -> list[float]:
        """Per repetition: the method's events/s over COPY's in the same repetition."""
        base = {s.rep: s.rate for s in self.of(size, BASELINE)}
        return [s.rate / base[s.rep] for s in self.of(size, method) if s.rep in base]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench extracts", description=__doc__)
    parser.add_argument("--repetitions", type=int, default=5, help="rounds (default 5)")
    parser.add_argument("--fresh", action="store_true", help="regenerate the data")
    parser.add_argument("--drop", action="store_true", help="drop bench_extracts at the end")
    parser.add_argument(
        "--no-write", action="store_true", help="print the section, leave docs/ alone"
    )
    options = parser.parse_args(argv)
    setup_django()
    from bench.extracts_data import SETS
    from bench.report import machine_info

    clock = time.perf_counter()
    large, small = (s for s in SETS if s.in_range)
    run = Run(
        sizes=[Size("small", "100k", small.mid), Size("large", "1M", large.mid)],
        repetitions=options.repetitions,
        load_before=_load(),
    )
    with _database(DB_NAME, fresh=options.fresh, drop=options.drop):
        run.reused, counts = _prepare()
        from bench.extracts_data import count_in_range

        run.sizes = [
            Size(s.key, s.label, s.mid, counts[s.mid], count_in_range(s.mid, quoted=True))
            for s in run.sizes
        ]
        run.machine = machine_info()
        run.plans = _plans(run.sizes)
        run.copy_order = run.plans.pop(("order", "copy"), "")
        from django.db import connection

        # The parent holds no connection while the workers measure.
        connection.close()
        _measure_all(run)
    run.load_after = _load()
    run.seconds = time.perf_counter() - clock
    section = render_section(run)
    if not options.no_write:
        # Re-read just before writing: other benchmarks rewrite their own sections.
        text = REPORT_PATH.read_text() if REPORT_PATH.exists() else "# Benchmarks\n"
        REPORT_PATH.write_text(sections.replace(text, HEADING, section))
        status(f"wrote the section {HEADING!r} of {REPORT_PATH}")
    else:
        print(section)
    print(render_text(run))
    return 0


@contextmanager
def _database(name: str, *, fresh: bool, drop: bool) -> Iterator[None]:
    """The bench database, created and migrated if missing (or if `fresh`), kept afterwards
    unless `drop`: generating the data is most of a first run's time."""
    from django.db import connection

    connection.settings_dict["TEST"] = {**connection.settings_dict["TEST"], "NAME": name}
    old_name = connection.settings_dict["NAME"]
    status(f"{'recreating' if fresh else 'opening (or creating)'} the database {name}")
    connection.creation.create_test_db(
        verbosity=0, autoclobber=True, keepdb=not fresh, serialize=False
    )
    if connection.settings_dict["NAME"] != name:
        raise RuntimeError(f"expected to be connected to {name}")
    try:
        yield
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0, keepdb=not drop)
        status(f"{name} dropped" if drop else f"{name} kept for the next run (--drop drops it)")


def _prepare() -> tuple[bool, dict[str, int]]:
    from bench.extracts_data import ensure_data

    return ensure_data()


def _plans(sizes: list[Size]) -> dict[tuple[str, str], str]:
    """For each extract: the plan of the builder's cursor (caught in a worker, whatever SQL
    the builder sends) and the plan of the COPY's SELECT."""
    from django.db import connection

    from bench.extracts_data import END, START
    from tracking.extracts import build

    plans = {}
    for size in sizes:
        sample = _worker(size, Method("plan", "plan", "plan", "NDJSON"), START, END, None)
        plans[size.key, "builder"] = _plan_summary(sample.plan)
        sql, params = build.rows_sql(mids=[size.mid], start=START, end=END)
        plans["order", "copy"] = "ordered" if "ORDER BY" in sql.upper() else "unordered"
        with connection.cursor() as cursor:
            cursor.execute(f"EXPLAIN {sql}", params)
            plans[size.key, "copy"] = _plan_summary([row[0] for row in cursor.fetchall()])
        for key in ("builder", "copy"):
            status(f"{size.label}, {key}'s plan: {plans[size.key, key]}")
    return plans


def _plan_summary(plan: list[str]) -> str:
    """The plan's nodes, outermost first, without costs; and whether JIT compiles it."""
    nodes = []
    for line in plan:
        text = line.strip().removeprefix("->").strip()
        if "  (cost=" in text and not text.startswith("Subquery Scan"):
            nodes.append(text.split("  (cost=")[0])
    summary = " → ".join(nodes)
    if any("Inlining true" in line for line in plan):
        summary += " (JIT-compiled, with inlining and optimization)"
    elif any(line.strip().startswith("JIT:") for line in plan):
        summary += " (JIT-compiled)"
    return summary


def _measure_all(run: Run) -> None:
    from bench.extracts_data import END, START

    total = len(run.sizes) * run.repetitions * len(METHODS)
    done = 0
    with tempfile.TemporaryDirectory(prefix="bench-extracts-") as tmp:
        for size in run.sizes:
            status(f"{size.label}: warm-up COPY of {size.events:,} events (untimed)")
            _worker(size, METHODS[1], START, END, Path(tmp) / "warm-up")
            for rep in range(run.repetitions):
                # Rotated each round, so no method always runs first or after the same one.
                order = METHODS[rep % len(METHODS) :] + METHODS[: rep % len(METHODS)]
                for method in order:
                    out = Path(tmp) / f"{size.key}-{method.key}-{rep}"
                    sample = _worker(size, method, START, END, out, rep=rep)
                    done += 1
                    if sample.rows != size.events:
                        raise SystemExit(
                            f"{method.label} wrote {sample.rows:,} rows of {size.label}, "
                            f"expected {size.events:,}"
                        )
                    if method.kind != "copy" and rep == 0:
                        run.checks.append(_check_file(size, method, sample, out))
                    out.unlink(missing_ok=True)
                    run.samples.setdefault((size.key, method.key), []).append(sample)
                    status(
                        f"[{done}/{total}] {size.label} {method.label}: {sample.rows:,} rows "
                        f"in {sample.seconds:.2f} s = {sample.rate:,.0f} events/s; peak RSS "
                        f"{_mib(sample.peak_kib)} (+{_mib(sample.growth_kib)} during it); CPU "
                        f"{sample.worker_cpu:.1f} s worker, {sample.server_cpu:.1f} s server"
                    )
        # What the growth is made of: the builder holds a few chunks, whatever the extract.
        small = run.sizes[0]
        for rows in SMALL_CHUNKS:
            status(f"{small.label}: NDJSON build with chunks of {rows:,} rows (memory only)")
            out = Path(tmp) / f"chunks-{rows}"
            sample = _worker(small, METHODS[0], START, END, out, chunk_rows=rows)
            out.unlink(missing_ok=True)
            run.chunk_growth[rows] = sample.growth_kib


def _worker(
    size: Size,
    method: Method,
    start,
    end,
    out: Path | None,
    *,
    rep: int = -1,
    chunk_rows: int | None = None,
) -> Sample:
    job = {
        "chunk_rows": chunk_rows,
        "database": DB_NAME,
        "kind": method.kind,
        "format": method.file_format,
        "mids": [size.mid],
        "start": start.isoformat(),
        "end": end.isoformat(),
        "out": str(out) if out else None,
    }
    completed = subprocess.run(  # noqa: S603 (our own interpreter and module)
        [sys.executable, "-m", "bench.extracts_worker", json.dumps(job)],
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    if completed.returncode:
        sys.stderr.write(completed.stderr)
        raise SystemExit(f"the worker failed ({method.label}, {size.label})")
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    return Sample(
        rep=rep,
        rows=result["rows"],
        size=result["bytes"],
        raw_bytes=result.get("raw_bytes"),
        seconds=result["seconds"],
        baseline_rss_kib=result["baseline_rss_kib"],
        peak_kib=result["peak_kib"],
        growth_kib=result["growth_kib"],
        sha256=result.get("sha256", ""),
        server_settings=result.get("server_settings", {}),
        worker_cpu=result.get("worker_cpu_seconds", 0.0),
        server_cpu=result.get("server_cpu_seconds", 0.0),
        plan=result.get("plan", []),
        callbacks=result.get("callbacks", {}),
    )


def _check_file(size: Size, method: Method, sample: Sample, path: Path) -> str:
    """The file is what the result says: its size, its SHA-256, a valid gzip of the right
    number of lines, every record parsing (JSON, or CSV of the header's width) and of the MID
    asked for; the data has quotes and commas to escape."""
    data = path.read_bytes()
    problems = []
    if len(data) != sample.size:
        problems.append(f"{len(data):,} bytes on disk, {sample.size:,} reported")
    lines, bad, quoted, mids = 0, 0, 0, set()
    with gzip.open(path, "rt", encoding="utf-8", newline="") as stream:
        if method.file_format == "NDJSON":
            for line in stream:
                lines += 1
                try:
                    record = json.loads(line)
                    mids.add(record["mailerID"])
                except (ValueError, KeyError):
                    bad += 1
                    continue
                quoted += record["trackingEvent"].get("recipientName") == QUOTED_NAME
        elif method.file_format == "CSV":
            reader = csv.reader(stream)
            header = next(reader)
            lines = 1
            for row in reader:
                lines += 1
                if len(row) != len(header):
                    bad += 1
                else:
                    mids.add(row[header.index("mailerID")])
                    quoted += row[header.index("recipientName")] == QUOTED_NAME
        else:
            lines = sum(1 for _ in stream)
    header = 1 if method.file_format == "CSV" else 0
    if lines != sample.rows + header:
        problems.append(f"{lines:,} lines for {sample.rows:,} rows")
    if bad:
        problems.append(f"{bad:,} records that do not parse")
    if method.file_format and quoted != size.quoted:
        problems.append(f"{quoted:,} recipient names {QUOTED_NAME!r}, expected {size.quoted:,}")
    if method.file_format and mids != {size.mid}:
        problems.append(f"records of the MIDs {sorted(mids)}, not only {size.mid}")
    what = f"{size.label} {method.label}"
    digest = hashlib.sha256(data).hexdigest()
    if digest != sample.sha256:
        problems.append("SHA-256 differs from the file's")
    if method.kind == "builder":
        calls = sample.callbacks
        what += (
            f" ({calls.get('check_access', 0):,} access checks, "
            f"{calls.get('on_progress', 0):,} progress calls)"
        )
    if problems:
        raise SystemExit(f"{what}: " + "; ".join(problems))
    parsed = {"NDJSON": ", each a JSON record", "CSV": ", each a CSV row of the header's width"}
    return f"{what}: {len(data):,} bytes, SHA-256 as reported, {lines:,} lines of valid gzip" + (
        parsed.get(method.file_format, "")
        + f", all of MID {size.mid}, the {quoted:,} recipient names with quotes intact"
        if method.file_format
        else ""
    )


def _load() -> str:
    try:
        return " / ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "unknown"


def _mib(kib: float) -> str:
    return f"{kib / 1024:,.1f} MB"


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def _range(values: list[float], fmt: str) -> str:
    return f"{format(min(values), fmt)}–{format(max(values), fmt)}" if values else "–"


# --- The report ------------------------------------------------------------------------------


def _verdicts(run: Run) -> tuple[list[tuple[str, str, bool]], dict[str, float]]:
    small, large = run.sizes
    rows, facts = [], {}
    for size in (large, small):
        ratio = _median(run.ratios(size.key, "ndjson"))
        spread = _range(run.ratios(size.key, "ndjson"), ".2f")
        facts[f"share_{size.key}"] = ratio
        rows.append(
            (
                f"NDJSON builder at least {TARGET_SHARE:.0%} of COPY's events/s ({size.label}, "
                f"{size.events:,} events)",
                f"**{ratio:.2f}** of COPY (rounds: {spread})",
                ratio >= TARGET_SHARE,
            )
        )
    csv_ratio = _median(run.ratios(large.key, "csv"))
    rows.append(
        (
            f"CSV builder at least {TARGET_SHARE:.0%} of COPY's events/s ({large.label})",
            f"**{csv_ratio:.2f}** of COPY (rounds: {_range(run.ratios(large.key, 'csv'), '.2f')})",
            csv_ratio >= TARGET_SHARE,
        )
    )
    for method in ("ndjson", "csv"):
        g_small = max(s.growth_kib for s in run.of(small.key, method))
        g_large = max(s.growth_kib for s in run.of(large.key, method))
        p_small = max(s.peak_kib for s in run.of(small.key, method))
        p_large = max(s.peak_kib for s in run.of(large.key, method))
        flat = g_large <= max(g_small * FLAT_FACTOR, g_small + FLAT_SLACK_KIB)
        facts[f"growth_{method}"] = g_large - g_small
        rows.append(
            (
                f"{'NDJSON' if method == 'ndjson' else 'CSV'} builder's peak memory flat: "
                f"{large.label} against {small.label} (growth of the worker's peak RSS during "
                "the build, at most 20% or 5 MB more)",
                f"**+{_mib(g_large)}** against +{_mib(g_small)}; peak RSS {_mib(p_large)} "
                f"against {_mib(p_small)} ({p_large / p_small:.2f}×) for "
                f"{large.events / small.events:.0f}× the events",
                flat,
            )
        )
    return rows, facts


def render_section(run: Run) -> str:
    from django.conf import settings

    from bench.extracts_data import END, LIFECYCLE, SETS, START

    small, large = run.sizes
    verdicts, _ = _verdicts(run)
    lines = [
        HEADING,
        "",
        f"Generated by `python -m bench extracts` (part of `make bench`) on "
        f"{run.started:%Y-%m-%d %H:%M} UTC in {run.seconds / 60:.0f} min; every run replaces "
        "this section only. Ratios compare measurements of the same run and the same round; "
        "absolute events/s depend on the machine (2 cores, shared by PostgreSQL and the "
        "worker) and drift between runs." + _busy_note(run),
        "",
        "### Targets (issue 11, item 5)",
        "",
        "| Target | Measured | Met |",
        "| --- | --- | --- |",
        *[f"| {t} | {m} | {'yes' if ok else '**MISSED**'} |" for t, m, ok in verdicts],
        "",
        "### Results",
        "",
        f"Medians over {run.repetitions} rounds (range in brackets); ÷ COPY is the median of "
        "the per-round ratios of events/s. CPU: seconds of CPU time of the worker (all its "
        "threads) and of the PostgreSQL backend serving it (COPY's parallel workers not "
        "counted). Memory: the worker's peak RSS during the measurement, and its growth: that "
        "peak minus the RSS just before it (Django set up, connection open); the largest of "
        "the rounds.",
        "",
        "| Extract | Method | events/s | ÷ COPY | seconds | CPU: worker / server | output "
        "| peak RSS | growth |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for size in (small, large):
        for method in METHODS:
            samples = run.of(size.key, method.key)
            if not samples:
                continue
            rates = [s.rate for s in samples]
            ratio = (
                "1.00"
                if method.key == BASELINE
                else f"**{_median(run.ratios(size.key, method.key)):.2f}** "
                f"({_range(run.ratios(size.key, method.key), '.2f')})"
            )
            out = _median([s.size for s in samples])
            kind = "gzip" if method.kind != "copy" else "text"
            lines.append(
                f"| {size.label}: {size.events:,} events | {method.label} "
                f"| {_median(rates):,.0f} ({_range(rates, ',.0f')}) | {ratio} "
                f"| {_median([s.seconds for s in samples]):.2f} "
                f"| {_median([s.worker_cpu for s in samples]):.2f} / "
                f"{_median([s.server_cpu for s in samples]):.2f} "
                f"| {out / 2**20:,.1f} MB {kind} "
                f"| {_mib(max(s.peak_kib for s in samples))} "
                f"| +{_mib(max(s.growth_kib for s in samples))} |"
            )
    baseline_rss = _median([s.baseline_rss_kib for k, v in run.samples.items() for s in v])
    lines += [
        "",
        f"A worker's RSS before the build (Django set up, connection open): about "
        f"{_mib(baseline_rss)}.",
        "",
        "### Where the time goes",
        "",
    ]
    lines += _findings(run)
    lines += [
        "",
        "### Checked",
        "",
        *[f"- {check}" for check in run.checks],
        f"- Every measurement returned exactly the events counted in the database "
        f"independently of the builder ({small.events:,} and {large.events:,}); the events "
        "of other MIDs, and the large MID's October events, were left out.",
        "",
        "### Method",
        "",
        "- Reproduce: `make bench` (everything) or `.venv/bin/python -m bench extracts` "
        "(`--help`: `--repetitions`, `--fresh`, `--drop`, `--no-write`).",
        f"- Data: a database of its own (`{DB_NAME}`, migrated like a test database and kept "
        "between runs; this run "
        + ("**reused** the data of an earlier one" if run.reused else "generated it")
        + "), written with `INSERT … SELECT generate_series` (bench/extracts_data.py): "
        + "; ".join(f"{s.pieces:,} pieces of MID {s.mid} ({s.key})" for s in SETS)
        + f", {len(LIFECYCLE)} scans each ({', '.join(LIFECYCLE)}), nine hours apart, every "
        "column filled; then `VACUUM ANALYZE`. Each extract is one MID over "
        f"{START:%B %-d}–{END:%-d, %Y} (UTC days).",
        "- Each measurement is a fresh Python process (`python -m bench.extracts_worker`, "
        "`config.settings.dev` with DEBUG off), as a Celery worker would run a build: Django "
        "set up, the connection opened and the modules imported before the clock starts; "
        "the high-water mark of its RSS (VmHWM) reset just before it (`/proc/self/clear_refs`) "
        "and read after it: `ru_maxrss` would carry over the forking parent's mark. "
        "The builder writes to a file in /tmp through "
        "`write_extract` with the default chunk "
        f"(`EXTRACT_CHUNK_ROWS` = {settings.EXTRACT_CHUNK_ROWS:,}) and counting stand-ins for "
        "`check_access` and `on_progress`. COPY reads every row through psycopg's "
        "`cursor.copy()` and throws it away; COPY + gzip compresses the same text at the "
        f"builder's level ({_compress_level()}) and hashes it into a file.",
        f"- {run.repetitions} rounds per extract, the {len(METHODS)} measurements of a round in "
        "rotated order, after one untimed COPY that warms the cache; then one "
        f"{small.label} NDJSON build for each of the chunk sizes "
        f"{', '.join(f'{rows:,}' for rows in SMALL_CHUNKS)} (memory only). Before the rounds, a "
        "worker catches the "
        "query the builder declares its cursor with (at psycopg's `ServerCursor.execute`) "
        "and runs `EXPLAIN DECLARE` on it instead, for the plans above.",
        "",
        "### Machine",
        "",
        "| | |",
        "| --- | --- |",
        *[f"| {key} | {value} |" for key, value in run.machine.items()],
        f"| Load average (1, 5, 15 min) at start | {run.load_before} |",
        f"| Load average at end | {run.load_after} |",
        "",
    ]
    return "\n".join(lines)


def _busy_note(run: Run) -> str:
    """A warning when something else was using the cores (the benchmark alone keeps about
    one and a half busy: the worker and its PostgreSQL backend)."""
    loads = []
    for text in (run.load_before, run.load_after):
        try:
            loads.append(float(text.split(" / ")[0]))
        except ValueError:
            pass
    if not loads or max(loads) < 2.0:
        return ""
    return (
        f" **The machine was busy during this run** (1-minute load average "
        f"{run.load_before.split(' / ')[0]} at the start, {run.load_after.split(' / ')[0]} at "
        "the end, on 2 cores): other processes competed with the worker and PostgreSQL, so "
        "the rounds spread more than usual; the ranges show by how much."
    )


def _findings(run: Run) -> list[str]:
    small, large = run.sizes
    copy_rate = _median([s.rate for s in run.of(large.key, "copy")])
    gzip_share = _median(run.ratios(large.key, "copy_gzip"))
    out = [
        f"- **Compressing is not the limit.** For {large.label}, COPY reads the rows at "
        f"{copy_rate:,.0f} events/s; gzip (level {_compress_level()}) and SHA-256 into a file "
        f"keep {gzip_share:.2f} of that: about the ceiling for any builder that writes these "
        "rows to a gzip file (its lines are longer than COPY's, so more to compress). The gap "
        "between that line and the builder is producing the records' lines (fields named, "
        "formatted, escaped), which this builder has PostgreSQL do.",
    ]
    for size in (small, large):
        builder, copy = run.plans.get((size.key, "builder")), run.plans.get((size.key, "copy"))
        if builder:
            out.append(
                f"- **Plans, {size.label}** ({size.events:,} of the store's "
                f"{_store_events():,} events). The builder's cursor: {builder}. COPY's "
                f"SELECT (`rows_sql()`, {run.copy_order}): {copy}."
            )
    out.append(
        "- A named cursor is planned for its first rows (`cursor_tuple_fraction` = 0.1) and "
        "never uses parallel workers; COPY plans for the whole result and may use them (two "
        "cores here, shared with the worker)."
    )
    if run.chunk_growth:
        from django.conf import settings

        default = settings.EXTRACT_CHUNK_ROWS
        grown = "; ".join(
            f"{rows:,} rows +{_mib(kib)}" for rows, kib in sorted(run.chunk_growth.items())
        )
        growth = _median([s.growth_kib for s in run.of(small.key, "ndjson")])
        out.append(
            f"- **Memory follows the chunk, not the extract.** The NDJSON build's growth with "
            f"other `chunk_rows` ({small.label}, once each): {grown}; the default "
            f"{default:,} rows +{_mib(growth)}. A chunk is held several times over (the "
            "fetched rows, the joined text, its bytes, the chunks queued for compression), at "
            f"about {growth / default:.1f} KB per row of the default chunk."
        )
    ndjson, copy = run.of(large.key, "ndjson"), run.of(large.key, "copy")
    if ndjson and copy:
        wall = _median([s.seconds for s in ndjson])
        worker = _median([s.worker_cpu for s in ndjson])
        server = _median([s.server_cpu for s in ndjson])
        out.append(
            f"- **CPU, {large.label} NDJSON build**: {wall:.1f} s of wall-clock time; the "
            f"PostgreSQL backend {server:.1f} s of CPU ({server / wall:.0%} of it), the worker "
            f"{worker:.1f} s (all its threads; {worker / wall:.0%}). COPY: "
            f"{_median([s.seconds for s in copy]):.1f} s, the backend "
            f"{_median([s.server_cpu for s in copy]):.1f} s (its parallel workers not "
            f"counted), the worker {_median([s.worker_cpu for s in copy]):.1f} s. "
            + (
                "The build's time is mostly PostgreSQL's: building the lines and sending them."
                if server > worker
                else "The build's time is mostly the worker's own."
            )
        )
    return out


def _compress_level() -> str:
    from tracking.extracts import build

    return str(getattr(build, "COMPRESS_LEVEL", "?"))


def _store_events() -> int:
    from bench.extracts_data import SETS

    return sum(s.events for s in SETS)


def render_text(run: Run) -> str:
    verdicts, _ = _verdicts(run)
    out = [f"extracts ({run.repetitions} rounds, medians):"]
    for size in run.sizes:
        for method in METHODS:
            samples = run.of(size.key, method.key)
            ratios = run.ratios(size.key, method.key)
            out.append(
                f"  {size.label:<4} {method.label:<34} "
                f"{_median([s.rate for s in samples]):>10,.0f} events/s  "
                f"÷COPY {_median(ratios):.2f}  peak {_mib(max(s.peak_kib for s in samples))}  "
                f"growth +{_mib(max(s.growth_kib for s in samples))}"
            )
    out += [f"  checked: {check}" for check in run.checks]
    out += [f"  {'met   ' if ok else 'MISSED'} {t}: {m}" for t, m, ok in verdicts]
    return "\n".join(out)


if __name__ == "__main__":
    raise SystemExit(main())

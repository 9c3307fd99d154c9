"""The "Tracking API" section of docs/benchmarks.md, and the stdout summary, from one run."""

import statistics
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings

from bench import sections
from bench.api_data import ImportStats, StoreSize
from bench.api_load import PHASES, LoadSettings, Measurement
from bench.api_profile import PARTS, PROFILED_NUMBERS, Profile
from bench.report import REPORT_PATH

TARGET_LOOKUP_RATIO = 0.60
TARGET_GROWTH_DRIFT = 0.20
TARGET_IMPORT_RATE = 50_000


@dataclass
class Size:
    label: str
    imported: ImportStats
    store: StoreSize
    django_queries: tuple[int, int] = (0, 0)  # a warm lookup: decision cached, decision cold
    round_trips: dict[str, float] = field(default_factory=dict)
    measurement: Measurement | None = None


@dataclass
class Run:
    options: dict[str, Any]
    settings: LoadSettings
    checks: list[str] = field(default_factory=list)
    sizes: list[Size] = field(default_factory=list)
    profiles: list[Profile] = field(default_factory=list)
    machine: dict[str, str] = field(default_factory=dict)
    disclosures: tuple[int, int, int] = (0, 0, 0)  # rows, table bytes, index bytes
    started: datetime | None = None
    seconds: float = 0.0


# What the runs so far say, beyond their numbers; each entry dated. Kept here so that every
# run's section carries it (the numbers above it are regenerated, these are not).
FINDINGS = [
    "- **Where a lookup's time goes** (2026-11-27, quiet machine, in-process, per call): "
    "Django's `cache.get` takes 270 µs against 123 µs for a GET on one reused redis-py "
    "client, because Django's `RedisCache` builds a new `redis.Redis` (with its ~170 response "
    "callbacks) for every operation; a lookup makes three such calls (token, decision tokens, "
    "decision), the constant one. `find_piece` takes 789 µs and `events_of` 964 µs against "
    "349 µs and 398 µs for the same SQL on a raw cursor: the ORM spends more building SQL and "
    "model instances than PostgreSQL spends answering. `CONN_HEALTH_CHECKS` adds a `SELECT 1` "
    "(162 µs) to every request that queries. In all a warm lookup makes 8 round trips (Redis: "
    "token, quota, two decision-cache reads, disclosure push; PostgreSQL: health check, piece, "
    "events), the constant 1, and in-process it costs about 10× the constant.",
    "- **What would close the gap**, largest first (estimates, not measurements): the piece and "
    "its events in one statement compiled once, as `core.prepared` does for the decision "
    "(about −1.3 ms); the quota and the decision-cache reads in one Redis script (three round "
    "trips to one, about −0.4 ms); a cache backend that reuses one client per connection pool "
    "(about −0.15 ms per cache call, on every portal request too); health checks off for the "
    "API workers (−0.16 ms). That brings a lookup to about 2 ms in-process and (b)/(a) to "
    "about 0.45–0.5; 0.60 needs more than that (a lighter middleware stack for the API paths, "
    "or fewer per-request writes).",
    "- **Workers**: gthread (2 workers × 4 threads) against sync in a trial on 100k events: "
    "the same (b)/(a) (0.18 both), the constant 799 against 748 requests/s, but the "
    "constant's p99 at 207 ms against 39 ms. The benchmark keeps sync workers.",
    "- **A busy machine** (other test suites running, load average 5–7 on the 2 cores) cut "
    "every phase's requests/s 2–7× and (b)/(a) from about 0.20 to 0.15–0.17, since each round trip "
    "then waits for a core: ratios from a busy run understate the lookup. The load average "
    "after each phase is printed under each table for that reason.",
    "- **Import** (2026-11-27, cProfile of 86,728 rows on a quiet machine, ~30,000 rows/s): "
    "the importer's main thread spends about 90% of its time waiting on PostgreSQL: inserting "
    "the events about a third, the commits about a quarter (they run the deferred foreign-key "
    "checks of 10,000 events each), staging and upserting the pieces most of the rest. Reading "
    "and checking rows runs in its own thread and is not the limit; `synchronous_commit = off` "
    "made no measurable difference. One PostgreSQL backend does the work on one core, so the "
    "50,000 events/s target needs less server work per row or more than one connection "
    "importing at once (files, or MID ranges, in parallel).",
]


def _met(ok: bool) -> str:
    return "yes" if ok else "**no**"


def _mb(value: float) -> str:
    return f"{value / 2**20:,.0f} MB"


def _targets(run: Run) -> list[str]:
    first = run.sizes[0]
    lookup = first.measurement.ratio("b")
    lines = [
        "| Target | Measured | Met |",
        "| --- | --- | --- |",
        f"| (b) reaches at least {TARGET_LOOKUP_RATIO:.0%} of (a)'s requests/s "
        f"| **{lookup:.2f}** of (a) at {first.label} | {_met(lookup >= TARGET_LOOKUP_RATIO)} |",
    ]
    if len(run.sizes) > 1:
        grown = run.sizes[-1]
        raw = grown.measurement.phases["b"].rps / first.measurement.phases["b"].rps
        own = grown.measurement.ratio("b") / lookup
        ok = abs(own - 1) <= TARGET_GROWTH_DRIFT
        lines.append(
            f"| (b) at {grown.label} within {TARGET_GROWTH_DRIFT:.0%} of (b) at {first.label} "
            f"| **{own:.2f}** ((b)÷(a) at {grown.label} over (b)÷(a) at {first.label}; "
            f"requests/s alone: {raw:.2f}, measured minutes apart) | {_met(ok)} |"
        )
    rates = [size.imported.events_per_second for size in run.sizes]
    into = " and ".join(
        f"{size.imported.events_per_second:,.0f} into the store growing to {size.label}"
        for size in run.sizes
    )
    lines.append(
        f"| Import at least {TARGET_IMPORT_RATE:,} events/s | **{min(rates):,.0f}** events/s "
        f"at worst ({into}) | {_met(min(rates) >= TARGET_IMPORT_RATE)} |"
    )
    return lines


def _results(size: Size) -> list[str]:
    m = size.measurement
    lines = [
        f"#### Store {size.label}: {size.store.pieces:,} pieces, {size.store.events:,} events",
        "",
        "| Phase | requests/s (rounds' range) | numbers/s | p50 | p99 "
        "| ÷ (a), per round (range) | DB statements / request |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for phase in PHASES:
        result = m.phases[phase.key]
        low, high = result.rps_range
        numbers = (
            f"{result.rps * phase.numbers_per_request:,.0f}" if phase.numbers_per_request else "–"
        )
        ratios = m.ratios(phase.key)
        lines.append(
            f"| {phase.label} | **{result.rps:,.0f}** ({low:,.0f}–{high:,.0f}) | {numbers} "
            f"| {result.p50_ms:.1f} ms | {result.p99_ms:.1f} ms "
            f"| **{m.ratio(phase.key):.2f}** ({min(ratios):.2f}–{max(ratios):.2f}) "
            f"| {size.round_trips.get(phase.key, float('nan')):.1f} |"
        )
    errors = sum(r.socket_errors for r in m.phases.values())
    total = sum(r.requests for r in m.phases.values())
    lines += [
        "",
        f"{total:,} requests timed, none answered with an error status; socket errors: {errors}. "
        f"1-minute load average after the phases: median {statistics.median(m.loads):.1f} "
        f"({min(m.loads):.1f}–{max(m.loads):.1f}); the benchmark alone accounts for about 3.",
        f"Django's queries for one lookup with token and decision warm: "
        f"**{size.django_queries[0]}**; with the decision cache off: {size.django_queries[1]}.",
    ]
    return lines


def _imports(run: Run) -> list[str]:
    lines = [
        "| Into the store growing to | files | rows | events imported | duplicates | rejected "
        "| pieces created | seconds | events/s |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for size in run.sizes:
        i = size.imported
        lines.append(
            f"| {size.label} | {i.files} | {i.rows:,} | {i.events:,} | {i.duplicates:,} "
            f"| {i.rejected} | {i.pieces_created:,} | {i.seconds:,.1f} "
            f"| **{i.events_per_second:,.0f}** |"
        )
    lines += [
        "",
        "| Store | pieces | events | events: table | events: indexes | pieces: table "
        "| pieces: indexes | bytes per event (table) | bytes per event (all) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for size in run.sizes:
        s = size.store
        lines.append(
            f"| {size.label} | {s.pieces:,} | {s.events:,} | {_mb(s.event_heap_bytes)} "
            f"| {_mb(s.event_index_bytes)} | {_mb(s.piece_heap_bytes)} "
            f"| {_mb(s.piece_index_bytes)} | {s.heap_bytes_per_event:.0f} "
            f"| {s.total_bytes_per_event:.0f} |"
        )
    return lines


def _drains(run: Run) -> list[str]:
    rows, heap, index = run.disclosures
    lines = [
        f"- The audit holds {rows:,} disclosures after the run: {_mb(heap)} of table and "
        f"{_mb(index)} of indexes, **{heap / max(rows, 1):.0f} bytes per row** "
        f"({(heap + index) / max(rows, 1):.0f} with indexes).",
    ]
    for size in run.sizes:
        d = size.measurement.drain
        lines.append(
            f"- {size.label}: {d.records:,} disclosure records written in {d.seconds:.1f} s "
            f"({d.batches} batches of up to {settings.API_DISCLOSURE_DRAIN_BATCH:,}): "
            f"**{d.records_per_second:,.0f} records/s**."
        )
    return lines


def _profile(run: Run) -> list[str]:
    if not run.profiles:
        return []
    names = [p.name for p in run.profiles]
    lines = [
        "| ms per request | " + " | ".join(names) + " |",
        "| --- |" + " ---: |" * len(names),
        "| **Whole request, plain timing** | "
        + " | ".join(f"**{p.ms_per_request:.2f}**" for p in run.profiles)
        + " |",
        "| Whole request under cProfile | "
        + " | ".join(f"{p.profiled_ms:.2f}" for p in run.profiles)
        + " |",
        "| Django outside the view (middleware, routing, signals) | "
        + " | ".join(f"{p.outside_view_ms:.2f}" for p in run.profiles)
        + " |",
    ]
    present = {label for p in run.profiles for label, _ in p.parts}
    labels = [label for label, _, _ in PARTS if label in present]
    for label in labels:
        cells = []
        for p in run.profiles:
            value = dict(p.parts).get(label)
            cells.append(f"{value:.2f}" if value else "–")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines.append(
        "| Rest of DRF's dispatch (request id, permission, headers, response) | "
        + " | ".join(f"{p.other_view_ms:.2f}" for p in run.profiles)
        + " |"
    )
    constant, lookup = run.profiles[0], run.profiles[1]
    extra = lookup.profiled_ms - constant.profiled_ms
    top = sorted(
        (item for item in lookup.parts if not item[0].startswith("of which")),
        key=lambda item: -item[1],
    )[:4]
    named = "; ".join(f"{label.lower()} {ms:.2f} ms" for label, ms in top)
    lines += [
        "",
        f"In-process, a warm lookup costs {lookup.ms_per_request / constant.ms_per_request:.2f}× "
        f"the constant (plain timing). Under the profiler it adds {extra:.2f} ms to the "
        f"constant's {constant.profiled_ms:.2f} ms; the largest parts are: {named}.",
    ]
    return lines


def render_section(run: Run) -> str:
    s, o = run.settings, run.options
    keep_alive = (
        "gunicorn's sync workers close every connection, so wrk reconnects per request"
        if o["worker_class"] == "sync"
        else "connections kept alive"
    )
    lines = [
        sections.API_HEADING,
        "",
        f"Generated by `python -m bench api` (part of `make bench`) on "
        f"{run.started:%Y-%m-%d %H:%M} UTC in {run.seconds / 60:.0f} min; every run replaces "
        "this section only. "
        "Ratios compare phases measured in the same run and the same rounds; absolute "
        "requests/s depend on the machine (2 cores shared by gunicorn, PostgreSQL, Redis and "
        "wrk) and drift between runs.",
        "",
        "### Targets (issue 9, Performance)",
        "",
        *_targets(run),
        "",
        "### Findings",
        "",
        *FINDINGS,
        "",
        "### Throughput and latency",
        "",
    ]
    for size in run.sizes:
        lines += [*_results(size), ""]
    lines += ["### Import and store size", "", *_imports(run), ""]
    lines += ["### Draining the disclosure buffer", "", *_drains(run), ""]
    if run.profiles:
        lines += [
            "### Where the time goes",
            "",
            f"The same requests through the WSGI application in the benchmark's process "
            f"({PROFILED_NUMBERS:,} of the numbers, no HTTP, no wrk), timed, "
            "then under cProfile (cumulative time per request; the profiler inflates Python "
            "work more than waiting on PostgreSQL and Redis). Parts nest: a query includes "
            "the connection health check when it is the request's first.",
            "",
            *_profile(run),
            "",
        ]
    lines += ["### Checked before timing", "", *[f"- {check}" for check in run.checks], ""]
    lines += [
        "### Method",
        "",
        "- Reproduce: `make bench` (everything), or `.venv/bin/python -m bench api` "
        "(`--help` lists the options; this run: "
        f"`--pieces {o['pieces']} --growth {o['growth']} --rounds {o['rounds']} "
        f"--seconds {o['seconds']:g} --connections {o['connections']}`).",
        "- Data: `tracking.generator.generate_records` writes NDJSON files (two processes, "
        "untimed), `tracking.imports.import_events` imports them one after the other (timed); "
        "then `VACUUM ANALYZE`. The 5× store is the same database after importing four times "
        "as many pieces more (other seeds, the same 1,000 MIDs).",
        f"- Servers: gunicorn, {o['workers']} `{o['worker_class']}` workers "
        f"({o['threads']} thread each), `bench.settings` (the dev settings with DEBUG off, "
        "persistent connections `CONN_MAX_AGE=60`, health checks on as in production, the "
        "portal's full middleware). Token and decision caches keep their defaults "
        f"({settings.API_TOKEN_CACHE_SECONDS} s and {settings.ACCESS_DECISION_CACHE_SECONDS} s); "
        "the (b') server runs with `ACCESS_DECISION_CACHE_SECONDS=0` and a cache key prefix "
        "of its own, so it cannot read the decisions the other server cached.",
        f"- Load: wrk {s.threads} threads, {s.connections} connections ({keep_alive}); "
        f"{s.warmup_seconds:g} s untimed warm-up per phase, then {s.rounds} rounds of "
        f"{s.seconds:g} s per phase in rotated order; medians over rounds. Lookups cycle "
        f"through {o['numbers']:,} distinct stored numbers of the tenant's MIDs "
        "(bench/wrk/lookup.lua), batches through 35-number bodies of the same numbers.",
        "- DB statements per request: `pg_stat_database.xact_commit` (one per statement in "
        "autocommit) over 100 sequential requests, after the statistics were flushed.",
        "",
        "### Machine",
        "",
        "| | |",
        "| --- | --- |",
        *[f"| {key} | {value} |" for key, value in run.machine.items()],
        "",
    ]
    return "\n".join(lines)


def write_section(section: str) -> None:
    text = REPORT_PATH.read_text() if REPORT_PATH.exists() else "# Benchmarks\n"
    REPORT_PATH.write_text(sections.replace(text, sections.API_HEADING, section))


def render_text(run: Run) -> str:
    out = []
    for size in run.sizes:
        m = size.measurement
        out.append(
            f"store {size.label}: {size.store.events:,} events, imported at "
            f"{size.imported.events_per_second:,.0f} events/s"
        )
        for phase in PHASES:
            r = m.phases[phase.key]
            out.append(
                f"  {phase.label:<48} {r.rps:>8,.0f} req/s  p50 {r.p50_ms:6.1f} ms  "
                f"p99 {r.p99_ms:6.1f} ms  ÷(a) {m.ratio(phase.key):.2f}"
            )
    return "\n".join(out)

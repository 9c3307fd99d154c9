"""``python -m bench api``: the tracking API under load, written to docs/benchmarks.md.

1. A throwaway database (``bench_tracking_api``) gets a tenant allowed for 250 of 1,000 MIDs
   and about 1M generated scan events, loaded with the real importer (timed).
2. Two gunicorns serve ``bench.settings``: one as configured, one with the decision cache off.
3. wrk measures (a), (b), (b') and (c) in interleaved rounds (bench/api_load.py).
4. The store grows to five times the events (the same importer), and the same lookups are
   measured again, with their own baseline.
5. The lookups are profiled in-process; the "Tracking API" section of docs/benchmarks.md is
   rewritten; the database is dropped.
"""

import argparse
import os
import signal
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

from bench.environment import (
    BENCH_CACHE_PREFIX,
    BENCH_REDIS_URL,
    bench_database,
    clear_bench_cache,
    setup_django,
)
from bench.progress import status

if TYPE_CHECKING:
    from bench.api_data import Tenant
    from bench.api_report import Run, Size

API_DB_NAME = os.environ.get("BENCH_API_DB_NAME", "bench_tracking_api")
FIRST_PORT = int(os.environ.get("BENCH_API_PORT", "8471"))


def _arguments(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench api", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--pieces", type=int, default=120_000, help="pieces at 1x (~8.7 events each)"
    )
    parser.add_argument(
        "--growth",
        type=int,
        default=5,
        help="the second store is this many times the first (1: skip)",
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=15, help="per phase and round")
    parser.add_argument("--warmup", type=float, default=5, help="seconds per phase, untimed")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--wrk-threads", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--worker-class", default="sync", choices=["sync", "gthread"])
    parser.add_argument("--threads", type=int, default=1, help="per gunicorn worker (gthread)")
    parser.add_argument("--numbers", type=int, default=20_000, help="distinct numbers looked up")
    parser.add_argument("--keep-db", action="store_true", help="do not drop the database")
    parser.add_argument("--no-write", action="store_true", help="print, do not write the doc")
    return parser.parse_args(argv)


def _server_env(extra: dict[str, str]) -> dict[str, str]:
    from django.db import connection

    db = connection.settings_dict
    user, password = quote(db["USER"] or "", safe=""), quote(db["PASSWORD"] or "", safe="")
    where = f"{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    url = f"postgres://{user}:{password}@{where}"
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "bench.settings",
        "DATABASE_URL": f"{url}?conn_max_age=60",
        "REDIS_URL": BENCH_REDIS_URL,
        "CACHE_KEY_PREFIX": BENCH_CACHE_PREFIX,
        "DJANGO_DEBUG": "false",
        **extra,
    }


def _exit_on_sigterm(signum: int, frame: object) -> None:
    # As an exception, so the finally blocks stop gunicorn and drop the database.
    raise SystemExit(128 + signum)


def main(argv: list[str]) -> int:
    options = _arguments(argv)
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    setup_django("bench.settings", fast_hashers=False)
    # Imported after django.setup(): these modules import models.
    from bench import api_report
    from bench.report import machine_info, now_utc

    started, clock, load_before = now_utc(), time.perf_counter(), os.getloadavg()
    clear_bench_cache()
    try:
        status(f"creating the throwaway database {API_DB_NAME}")
        with bench_database(API_DB_NAME, keep=options.keep_db):
            run = _run(options)
            load_after = os.getloadavg()
            run.machine = {
                **machine_info(),
                # Other work on the machine shares the 2 cores: say how busy it was.
                "Load average (1, 5, 15 min) at start": " / ".join(f"{x:.2f}" for x in load_before),
                "Load average at end": " / ".join(f"{x:.2f}" for x in load_after),
            }
    finally:
        clear_bench_cache()
        kept = "kept" if options.keep_db else "dropped"
        status(f"cleaned up ({API_DB_NAME} {kept}, bench cache cleared)")
    run.started, run.seconds = started, time.perf_counter() - clock
    section = api_report.render_section(run)
    print(api_report.render_text(run))
    if options.no_write:
        print(section)
    else:
        api_report.write_section(section)
        status(f"wrote the Tracking API section of docs/benchmarks.md in {run.seconds:.0f} s")
    return 0


def _run(options: argparse.Namespace) -> "Run":
    from bench import api_data
    from bench.api_load import LoadSettings
    from bench.api_report import Run
    from bench.api_server import ensure_wrk, gunicorn

    ensure_wrk()
    settings = LoadSettings(
        rounds=options.rounds,
        seconds=options.seconds,
        warmup_seconds=options.warmup,
        connections=options.connections,
        threads=options.wrk_threads,
    )
    run = Run(options=vars(options), settings=settings)
    status("building the tenant (ORM) and its API app")
    tenant = api_data.build_tenant()
    run.checks.append(
        f"Tenant: an active service provider with an approved agreement and verified links to "
        f"{len(tenant.allowed_mids)} of the {api_data.MID_COUNT:,} MIDs, quota "
        f"{api_data.QUOTA_PER_HOUR:,} calls/hour; decide() allows a held MID, denies another."
    )
    first = _import(run, "1×", options.pieces, first_seed=1000)
    numbers = api_data.stored_numbers(tenant.allowed_mids, options.numbers)
    denied = api_data.stored_numbers(tenant.denied_mids, 1)[0]
    server_options = {
        "workers": options.workers,
        "worker_class": options.worker_class,
        "threads": options.threads,
    }
    with tempfile.TemporaryDirectory(prefix="bench-api-inputs-") as directory, ExitStack() as stack:
        numbers_path, bodies_path = api_data.write_inputs(numbers, Path(directory))
        bodies = bodies_path.read_text().splitlines()
        servers = {
            "warm": stack.enter_context(
                gunicorn(name="warm", port=FIRST_PORT, env=_server_env({}), **server_options)
            ),
            # Every decision computed from the database: entries would live 0 s, so none is
            # stored (core.access_cache.put); its own key prefix keeps it from reading the
            # decisions the warm server cached, so every lookup misses.
            "cold": stack.enter_context(
                gunicorn(
                    name="cold",
                    port=FIRST_PORT + 1,
                    env=_server_env(
                        {
                            "ACCESS_DECISION_CACHE_SECONDS": "0",
                            "CACHE_KEY_PREFIX": f"{BENCH_CACHE_PREFIX}-cold",
                        }
                    ),
                    **server_options,
                )
            ),
        }
        inputs = Inputs(tenant, numbers, denied, bodies, numbers_path, bodies_path)
        _measure(run, first, servers, inputs, settings, profile=True)
        if options.growth > 1:
            extra = options.pieces * (options.growth - 1)
            grown = _import(run, f"{options.growth}×", extra, first_seed=2000)
            _measure(run, grown, servers, inputs, settings, profile=False)
    run.disclosures = api_data.disclosure_size()
    return run


@dataclass(frozen=True)
class Inputs:
    tenant: "Tenant"
    numbers: list[str]
    denied: str
    bodies: list[str]
    numbers_path: Path
    bodies_path: Path


def _import(run: "Run", label: str, pieces: int, *, first_seed: int) -> "Size":
    from bench import api_data
    from bench.api_report import Size

    status(f"{label}: generating {pieces:,} pieces (two processes), then importing them")
    with api_data.generated_files(pieces=pieces, first_seed=first_seed) as files:
        stats = api_data.import_files(files)
    status(
        f"{label}: imported {stats.events:,} events in {stats.seconds:.0f} s "
        f"({stats.events_per_second:,.0f} events/s)"
    )
    size = Size(label=label, imported=stats, store=api_data.store_size())
    run.sizes.append(size)
    return size


def _measure(run, size, servers, inputs: Inputs, settings, *, profile: bool) -> None:
    from bench import api_checks, api_profile
    from bench.api_load import DrainStats, drain_buffer, measure
    from bench.api_wsgi import WsgiClient

    token = api_checks.get_token(servers["warm"], inputs.tenant)
    for server in servers.values():
        run.checks += [
            f"{size.label}: {check}"
            for check in api_checks.verify_responses(
                server,
                token,
                number=inputs.numbers[0],
                denied_number=inputs.denied,
                body=inputs.bodies[0],
            )
        ]
    size.django_queries = api_checks.django_queries(
        WsgiClient(token), inputs.numbers[1], inputs.tenant.provider.pk
    )
    size.round_trips = _round_trips(servers, token, inputs)
    drain_buffer(DrainStats())  # the checks' own records: written, not reported
    wrk_env = {
        "BENCH_TOKEN": token,
        "BENCH_NUMBERS": str(inputs.numbers_path),
        "BENCH_BODIES": str(inputs.bodies_path),
    }
    size.measurement = measure(size.label, servers, wrk_env, settings)
    if profile:
        status("profiling the requests in-process")
        run.profiles = api_profile.profile_all(
            token, inputs.numbers, inputs.bodies, inputs.tenant.provider.pk
        )
        drain_buffer(DrainStats())


def _round_trips(servers, token: str, inputs: Inputs) -> dict[str, float]:
    from bench.api_checks import Probe, lookup_path, statements_per_request

    auth = {"Authorization": f"Bearer {token}"}
    paths = [lookup_path(n) for n in inputs.numbers]
    batch = ["/tracking/v3r2/tracking"]
    status("counting statements per request in pg_stat_database (about 90 s)")
    return statements_per_request(
        {
            "a": Probe(servers["warm"], "GET", ["/bench/constant"], auth),
            "b": Probe(servers["warm"], "GET", paths, auth),
            "b_cold": Probe(servers["cold"], "GET", paths, auth),
            "c": Probe(
                servers["warm"],
                "POST",
                batch,
                {**auth, "Content-Type": "application/json"},
                inputs.bodies[0].encode(),
            ),
        }
    )

"""Where a lookup's time goes: the same requests as the load phases, run through the WSGI
application in this process (no HTTP, no wrk), timed plainly and then under cProfile.

cProfile slows Python code more than it slows waiting on PostgreSQL or Redis, so the shares are
indicative; the plain timings beside them are not distorted.
"""

import cProfile
import pstats
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

from django.test.utils import override_settings

from bench.api_checks import lookup_path
from bench.api_wsgi import WsgiClient
from core import access_cache

PROFILED_NUMBERS = 500  # distinct numbers cycled through (decisions and tokens all warm)
PROFILED_BODIES = 20
# Requests per profile (a batch asks for 35 numbers: a tenth as many), timed plainly in
# TIMING_REPEATS runs of that many, then once under cProfile.
REQUESTS = 500
TIMING_REPEATS = 3

HEALTH_CHECK = "of which: connection health check (SELECT 1)"
# (label, file suffix, function): cumulative time of each, per request.
PARTS: list[tuple[str, str, str]] = [
    ("Authentication (token cache read)", "tracking/authentication.py", "authenticate"),
    ("Quota (Redis script)", "tracking/api/quotas.py", "consume"),
    ("Access decision (cache reads)", "tracking/api/lookup.py", "_decide_all"),
    ("Piece query", "tracking/pieces.py", "find_piece"),
    ("Events query", "tracking/pieces.py", "events_of"),
    ("Pieces query (batch)", "tracking/pieces.py", "find_pieces"),
    ("Events query (batch)", "tracking/pieces.py", "events_of_many"),
    ("Shaping the response", "tracking/api/shapes.py", "v3_detail"),
    ("Shaping the response (batch)", "tracking/api/shapes.py", "v3r2_detail"),
    ("Disclosure records", "tracking/api/lookup.py", "disclosure_records"),
    ("Disclosure push (Redis)", "tracking/api/disclosures.py", "push"),
    ("JSON rendering", "rest_framework/renderers.py", "render"),
    # Inside the first query of a request (so also counted in it): CONN_HEALTH_CHECKS.
    (HEALTH_CHECK, "django/db/backends/base/base.py", "close_if_health_check_failed"),
]
WHOLE = ("django/core/handlers/wsgi.py", "__call__")
VIEW = ("rest_framework/views.py", "dispatch")


@dataclass(frozen=True, slots=True)
class Profile:
    name: str
    ms_per_request: float  # plain timing, median of TIMING_REPEATS
    profiled_ms: float  # per request under cProfile
    parts: list[tuple[str, float]]  # (label, ms per request under cProfile)
    outside_view_ms: float  # middleware, routing, signals: the whole minus DRF's dispatch
    other_view_ms: float  # DRF dispatch minus the parts listed


def _cumulative(stats: pstats.Stats, suffix: str, function: str) -> float:
    return sum(
        entry[3]
        for (filename, _, name), entry in stats.stats.items()  # type: ignore[attr-defined]
        if name == function and filename.endswith(suffix)
    )


def _timed(call: Callable[[], None], count: int) -> float:
    samples = []
    for _ in range(TIMING_REPEATS):
        started = time.perf_counter()
        for _ in range(count):
            call()
        samples.append((time.perf_counter() - started) / count * 1000)
    return statistics.median(samples)


def profile(name: str, call: Callable[[int], None], requests: int = REQUESTS) -> Profile:
    """``call(i)`` makes the i-th request; it is timed, then profiled."""
    counter = iter(range(10**9))
    plain = _timed(lambda: call(next(counter)), requests)
    profiler = cProfile.Profile()
    profiler.enable()
    for index in range(requests):
        call(index)
    profiler.disable()
    stats = pstats.Stats(profiler)
    per = 1000 / requests
    whole = _cumulative(stats, *WHOLE) * per
    view = _cumulative(stats, *VIEW) * per
    parts = [(label, _cumulative(stats, suffix, fn) * per) for label, suffix, fn in PARTS]
    parts = [(label, ms) for label, ms in parts if ms >= 0.005]
    in_view = sum(ms for label, ms in parts if label != HEALTH_CHECK)
    return Profile(
        name=name,
        ms_per_request=plain,
        profiled_ms=whole,
        parts=parts,
        outside_view_ms=whole - view,
        other_view_ms=view - in_view,
    )


def profile_all(
    token: str, numbers: list[str], bodies: list[str], provider_id: int
) -> list[Profile]:
    numbers, bodies = numbers[:PROFILED_NUMBERS], bodies[:PROFILED_BODIES]
    client = WsgiClient(token)

    def constant(_: int) -> None:
        assert client.get("/bench/constant") == 200

    def lookup(index: int) -> None:
        assert client.get(lookup_path(numbers[index % len(numbers)])) == 200

    def batch(index: int) -> None:
        body = bodies[index % len(bodies)].encode()
        assert client.post_json("/tracking/v3r2/tracking", body) == 200

    for index in range(len(numbers)):  # every decision and token cached, as in (b)
        lookup(index)
    results = [profile("(a) constant", constant), profile("(b) lookup, warm", lookup)]
    with override_settings(ACCESS_DECISION_CACHE_SECONDS=0):
        access_cache.bump_provider(provider_id)  # what was cached is unreachable; nothing new is
        results.append(profile("(b') lookup, cold decision", lookup))
    results.append(profile("(c) 35-item batch", batch, REQUESTS // 10))
    return results

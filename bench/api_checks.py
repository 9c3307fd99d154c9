"""What the tracking API benchmark verifies before it times anything, so that a broken set-up
cannot produce a flattering number: the token comes from the real endpoint, the lookups answer
200 with events, the tenant is refused another tenant's MID, and the database round trips per
request are what the design says (counted by PostgreSQL itself, health check included)."""

import json
import time
from dataclasses import dataclass
from urllib.parse import urlencode

from django.db import connection
from django.test.utils import CaptureQueriesContext, override_settings

from bench.api_data import Tenant
from bench.api_server import Server, request
from bench.api_wsgi import WsgiClient
from core import access_cache

# PostgreSQL 15 backends flush their statistics when they have been idle for 10 s at most.
STATS_FLUSH_SECONDS = 11.5
ROUND_TRIP_REQUESTS = 100


def get_token(server: Server, tenant: Tenant) -> str:
    """A bearer token from POST /oauth2/v3/token (client credentials, form body)."""
    body = urlencode(
        {
            "grant_type": "client_credentials",
            "client_id": tenant.client_id,
            "client_secret": tenant.client_secret,
            "scope": "tracking",
        }
    ).encode()
    code, raw = request(
        server,
        "POST",
        "/oauth2/v3/token",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        body=body,
    )
    assert code == 200, (code, raw)
    answer = json.loads(raw)
    assert answer["token_type"] == "Bearer", answer  # noqa: S105 - a token type, no secret
    assert "tracking" in answer["scope"].split(), answer
    return answer["access_token"]


def lookup_path(number: str) -> str:
    return f"/tracking/v3/tracking/{number}?expand=DETAIL"


def verify_responses(
    server: Server, token: str, *, number: str, denied_number: str, body: str
) -> list[str]:
    auth = {"Authorization": f"Bearer {token}"}
    code, _ = request(server, "GET", "/bench/constant")
    assert code == 401, f"the constant endpoint answered {code} without a token"
    code, _ = request(server, "GET", "/bench/constant", headers=auth)
    assert code == 200, code
    code, raw = request(server, "GET", lookup_path(number), headers=auth)
    assert code == 200, (code, raw)
    events = len(json.loads(raw)["trackingEvents"])
    assert events > 0, raw
    code, raw = request(server, "GET", lookup_path(denied_number), headers=auth)
    assert code == 403, (code, raw)
    reason = json.loads(raw)["error"]["errors"][0]["code"]
    code, raw = request(
        server,
        "POST",
        "/tracking/v3r2/tracking",
        headers={**auth, "Content-Type": "application/json"},
        body=body.encode(),
    )
    items = json.loads(raw)
    assert code == 200 and len(items) == len(json.loads(body)), (code, raw[:300])
    return [
        f"`{server.name}` server: the constant answers 401 without the token and 200 with it; "
        f"an authorized number answers 200 ({events} events); a stored number of a MID the "
        f"tenant does not hold answers 403 ({reason}); a {len(items)}-item batch answers 200.",
    ]


def django_queries(client: WsgiClient, number: str, provider_id: int) -> tuple[int, int]:
    """Queries Django issues for one warm lookup, and for one with the decision cache off as
    the (b') server runs it: the decisions cached so far made unreachable (a version bump,
    as any grant change does), then a lookup asked twice, the second counted."""
    path = lookup_path(number)
    client.get(path)  # token and decision warm
    with CaptureQueriesContext(connection) as warm:
        assert client.get(path) == 200
    with override_settings(ACCESS_DECISION_CACHE_SECONDS=0):
        access_cache.bump_provider(provider_id)
        client.get(path)
        with CaptureQueriesContext(connection) as cold:
            assert client.get(path) == 200
    return len(warm.captured_queries), len(cold.captured_queries)


def _transactions() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"
        )
        return int(cursor.fetchone()[0])


@dataclass(frozen=True, slots=True)
class Probe:
    server: Server
    method: str
    paths: list[str]
    headers: dict[str, str]
    body: bytes | None = None

    def send(self, index: int) -> None:
        path = self.paths[index % len(self.paths)]
        code, _ = request(self.server, self.method, path, headers=self.headers, body=self.body)
        assert code == 200, (code, path)


def statements_per_request(probes: dict[str, Probe]) -> dict[str, float]:
    """Statements the servers' workers ran per request, from pg_stat_database (each statement
    in autocommit is one transaction): what PostgreSQL saw, health checks included. Each probe
    first sends its requests once unmeasured (connections open, token and decisions cached),
    well within the caches' 60 s."""
    counts = {}
    for key, probe in probes.items():
        for index in range(ROUND_TRIP_REQUESTS):
            probe.send(index)
        time.sleep(STATS_FLUSH_SECONDS)
        before = _transactions()
        for index in range(ROUND_TRIP_REQUESTS):
            probe.send(index)
        time.sleep(STATS_FLUSH_SECONDS)
        # Minus the statement that read `before` (this connection's own, flushed since).
        counts[key] = (_transactions() - before - 1) / ROUND_TRIP_REQUESTS
    return counts

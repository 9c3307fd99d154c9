"""Quotas, the disclosure audit and its daily aggregates, and what a lookup costs."""

import json
import time
import uuid

import pytest
import redis as redis_lib
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.tracking.api_helpers import (
    MID,
    OTHER_MID,
    allowed_provider,
    api_client_for,
    number_for,
    store_piece,
)
from tracking import redis as tracking_redis
from tracking.api.disclosures import BUFFER_KEY
from tracking.models import DailyUsage, Disclosure
from tracking.services import disclosures
from tracking.services.disclosures import PROCESSING_KEY
from tracking.tasks import drain_disclosures

pytestmark = pytest.mark.django_db


@pytest.fixture
def provider():
    return allowed_provider()


@pytest.fixture
def piece():
    return store_piece(number_for(MID, 1), mid=MID)


def legacy(api, number, **extra):
    return api.get(f"/tracking/v3/tracking/{number}", **extra)


# --- Quotas -------------------------------------------------------------------------------


def test_the_quota_refuses_the_call_after_the_last_with_an_accurate_retry_after(provider, piece):
    api = api_client_for(provider, quota=3)
    answers = [legacy(api, piece.tracking_number) for _ in range(3)]

    before = time.time()
    refused = legacy(api, piece.tracking_number)
    after = time.time()

    assert [a.status_code for a in answers] == [200, 200, 200]
    assert [a["X-RateLimit-Remaining"] for a in answers] == ["2", "1", "0"]
    assert refused.status_code == 429
    retry_after = int(refused["Retry-After"])
    assert 3600 - int(after) % 3600 <= retry_after <= 3600 - int(before) % 3600 + 1
    error = refused.json()["error"]
    assert error["code"] == "429"
    assert error["message"].startswith("Exceeded quota limit.")
    assert error["errors"][0]["code"] == "QUOTA_EXCEEDED"


def test_each_number_of_a_batch_counts_and_an_oversized_batch_runs_none(provider, piece):
    api = api_client_for(provider, quota=5)
    body = [{"trackingNumber": piece.tracking_number}] * 3

    first = api.post("/tracking/v3r2/tracking", body, format="json")
    second = api.post("/tracking/v3r2/tracking", body, format="json")
    last_two = api.post("/tracking/v3r2/tracking", body[:2], format="json")

    assert first.status_code == 200 and first["X-RateLimit-Remaining"] == "2"
    assert second.status_code == 429
    assert last_two.status_code == 200 and last_two["X-RateLimit-Remaining"] == "0"
    disclosures.drain()
    assert Disclosure.objects.count() == 5  # the refused batch disclosed nothing


def test_quotas_are_counted_per_app(provider, piece):
    first, second = api_client_for(provider, quota=1), api_client_for(provider, quota=1)

    assert legacy(first, piece.tracking_number).status_code == 200
    assert legacy(first, piece.tracking_number).status_code == 429
    assert legacy(second, piece.tracking_number).status_code == 200


def test_the_default_quota_is_sixty_an_hour(provider, piece, settings):
    api = api_client_for(provider, quota=None)

    response = legacy(api, piece.tracking_number)

    assert settings.API_DEFAULT_QUOTA_PER_HOUR == 60
    assert response["X-RateLimit-Limit"] == "60"


def test_redis_down_refuses_with_503_and_discloses_nothing(provider, piece, monkeypatch):
    api = api_client_for(provider)
    legacy(api, piece.tracking_number)  # warms the token cache, which survives in-process
    # A real client on a closed port: Redis is unreachable, as in an outage.
    unreachable = redis_lib.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2)
    monkeypatch.setattr(tracking_redis, "client", lambda: unreachable)
    monkeypatch.setattr("tracking.api.quotas.client", lambda: unreachable)

    response = legacy(api, piece.tracking_number)

    assert response.status_code == 503
    assert response["Retry-After"] == "30"
    assert "trackingEvents" not in response.content.decode()


# --- Disclosure audit ------------------------------------------------------------------------


def test_every_number_looked_up_is_recorded_with_its_decision(provider, piece):
    api = api_client_for(provider)
    foreign = number_for(OTHER_MID, 2)
    request_id = uuid.uuid4().hex

    api.post(
        "/tracking/v3r2/tracking",
        [{"trackingNumber": piece.tracking_number}, {"trackingNumber": foreign}],
        format="json",
        HTTP_X_REQUEST_ID=request_id,
    )
    assert Disclosure.objects.count() == 0  # buffered, not written by the request
    report = disclosures.drain()

    assert report.written == 2
    rows = {row.tracking_number: row for row in Disclosure.objects.all()}
    allowed, denied = rows[piece.tracking_number], rows[foreign]
    assert (allowed.allowed, allowed.reason_code, allowed.http_status) == (True, "", 200)
    assert allowed.basis.startswith("MID_LINK:")
    assert (denied.allowed, denied.reason_code, denied.http_status) == (
        False,
        "MID_NOT_AUTHORIZED",
        403,
    )
    for row in rows.values():
        assert row.provider_id == provider.pk
        assert row.app_id == api.app.pk
        assert row.request_id == request_id
    assert allowed.mid == MID and denied.mid == OTHER_MID


def test_daily_usage_counts_allowed_denied_and_each_reason(provider, piece):
    api = api_client_for(provider)
    for number in [piece.tracking_number] * 2 + [number_for(OTHER_MID, 3), "EC123456785US"]:
        legacy(api, number)

    disclosures.drain()

    usage = {(u.allowed, u.reason_code): u.calls for u in DailyUsage.objects.all()}
    assert usage == {
        (True, ""): 2,
        (False, "MID_NOT_AUTHORIZED"): 1,
        (False, "NO_MID_IN_TRACKING_NUMBER"): 1,
    }
    api.app.refresh_from_db()
    assert api.app.last_used_at is not None


def test_a_drain_that_died_mid_batch_is_completed_without_counting_twice(provider, piece):
    api = api_client_for(provider)
    for _ in range(3):
        legacy(api, piece.tracking_number)
    client = tracking_redis.client()
    # Simulate a drain that moved the batch and wrote it, then died before clearing it.
    client.lmove(BUFFER_KEY, PROCESSING_KEY, "LEFT", "RIGHT")
    stuck = [json.loads(item) for item in client.lrange(PROCESSING_KEY, 0, -1)]
    disclosures._write(client.lrange(PROCESSING_KEY, 0, -1))

    report = disclosures.drain()

    assert len(stuck) == 1
    assert (report.written, report.repeated) == (2, 1)
    assert Disclosure.objects.count() == 3
    assert DailyUsage.objects.get().calls == 3
    assert disclosures.pending() == 0


@pytest.mark.django_db(transaction=True)
def test_two_drains_at_once_write_each_record_once(provider, piece):
    from tests.concurrency import run_together

    api = api_client_for(provider)
    for _ in range(20):
        legacy(api, piece.tracking_number)

    run_together(lambda: disclosures.drain(batch_size=3), lambda: disclosures.drain(batch_size=3))

    assert Disclosure.objects.count() == 20
    assert DailyUsage.objects.get().calls == 20


@pytest.mark.celery_worker
def test_the_drain_task_runs_on_a_real_worker(celery_worker, provider, piece):
    api = api_client_for(provider)
    legacy(api, piece.tracking_number)

    drain_disclosures.delay()
    deadline = time.monotonic() + 20
    while Disclosure.objects.count() == 0 and time.monotonic() < deadline:
        time.sleep(0.1)

    assert Disclosure.objects.count() == 1


# --- Cost ---------------------------------------------------------------------------------


def test_a_warm_lookup_costs_at_most_three_queries_and_recording_adds_none(provider, piece):
    api = api_client_for(provider)
    legacy(api, piece.tracking_number, QUERY_STRING="expand=DETAIL")  # token, decision warm

    with CaptureQueriesContext(connection) as queries:
        response = legacy(api, piece.tracking_number, QUERY_STRING="expand=DETAIL")

    assert response.status_code == 200
    assert len(queries) <= 3
    assert not any("tracking_disclosure" in q["sql"] for q in queries.captured_queries)
    assert not any(q["sql"].lstrip().upper().startswith("INSERT") for q in queries)


def test_a_batch_of_35_costs_a_constant_number_of_queries(provider, django_assert_max_num_queries):
    api = api_client_for(provider)
    numbers = [store_piece(number_for(MID, 100 + n), mid=MID).tracking_number for n in range(35)]
    body = [{"trackingNumber": n} for n in numbers]
    api.post("/tracking/v3r2/tracking", body[:2], format="json")  # warm

    with django_assert_max_num_queries(3):
        response = api.post("/tracking/v3r2/tracking", body, format="json")

    assert response.status_code == 200
    assert len(response.json()) == 35


def test_a_drain_that_lost_its_lock_mid_write_leaves_the_next_batch_alone(
    provider, piece, monkeypatch
):
    api = api_client_for(provider)
    legacy(api, piece.tracking_number)
    client = tracking_redis.client()
    real_write = disclosures._write
    theirs = b'{"another drain": "moved this batch in"}'

    def stalled_write(items):
        result = real_write(items)
        # Meanwhile the lock expired and another drain took it and moved its own batch in.
        client.set(disclosures.LOCK_KEY, b"another-drain")
        client.rpush(PROCESSING_KEY, theirs)
        return result

    monkeypatch.setattr(disclosures, "_write", stalled_write)

    report = disclosures.drain()

    assert report.batches == 0
    assert theirs in client.lrange(PROCESSING_KEY, 0, -1)
    assert Disclosure.objects.count() == 1  # its own batch was written, exactly once

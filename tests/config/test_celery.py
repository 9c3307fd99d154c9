"""A task round trip through the real Redis broker and an in-process worker."""

import pytest
from django.core.cache import cache
from django.utils.dateparse import parse_datetime

from config.celery import HEARTBEAT_CACHE_KEY, heartbeat, ping


def test_task_round_trip_through_redis(celery_worker):
    result = ping.delay("round-trip")

    assert result.get(timeout=15) == "pong:round-trip"


def test_heartbeat_runs_on_the_worker_and_records_its_time(celery_worker):
    heartbeat.apply_async(ignore_result=False).get(timeout=15)

    recorded = cache.get(HEARTBEAT_CACHE_KEY)
    assert recorded is not None
    assert parse_datetime(recorded).tzinfo is not None


def test_beat_schedule_uses_json_and_known_tasks():
    from config.celery import app

    assert app.conf.task_serializer == "json"
    assert app.conf.accept_content == ["json"]
    assert app.conf.task_time_limit > app.conf.task_soft_time_limit > 0
    for name, entry in app.conf.beat_schedule.items():
        assert entry["task"] in app.tasks, f"beat entry {name!r} names an unknown task"


@pytest.mark.django_db
def test_database_scheduler_is_configured():
    from django.conf import settings

    assert settings.CELERY_BEAT_SCHEDULER == "django_celery_beat.schedulers:DatabaseScheduler"

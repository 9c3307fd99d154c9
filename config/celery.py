"""The Celery app. Tasks live in each app's tasks.py and are found by autodiscovery."""

import os

from celery import Celery
from django.utils import timezone

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.dev")

app = Celery("config")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

HEARTBEAT_CACHE_KEY = "celery:heartbeat"


@app.task(name="config.celery.heartbeat", ignore_result=True)
def heartbeat() -> str:
    """Scheduled by beat and run by a worker: its timestamp proves both are alive (/healthz)."""
    from django.core.cache import cache

    now = timezone.now().isoformat()
    cache.set(HEARTBEAT_CACHE_KEY, now, timeout=None)
    return now


@app.task(name="config.celery.ping", ignore_result=False)
def ping(payload: str) -> str:
    """Echo task for round-trip checks through the real broker."""
    return f"pong:{payload}"

"""Shared fixtures. Tests run against the real PostgreSQL, Redis and localstripe services
that scripts/test.sh starts (see README)."""

import pytest
import requests
from celery.contrib.testing.worker import start_worker
from django.conf import settings
from django.core.cache import cache

from config.celery import app as celery_app


@pytest.fixture(autouse=True)
def _clear_cache():
    """Each test starts with an empty cache (the test settings use their own Redis db)."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def localstripe() -> str:
    """The real localstripe server started for the test run, wiped before the test."""
    base = settings.STRIPE_API_BASE
    response = requests.delete(f"{base}/_config/data", timeout=5)
    response.raise_for_status()
    return base


@pytest.fixture
def celery_worker(transactional_db):
    """A real Celery worker thread consuming from the real Redis broker.

    Needs committed rows, hence transactional_db.
    """
    with start_worker(celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        yield

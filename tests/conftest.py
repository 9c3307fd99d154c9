"""Shared fixtures. Tests run against the real PostgreSQL, Redis and localstripe services
that scripts/test.sh starts (see README)."""

import pytest
import requests
from celery.contrib.testing.worker import start_worker
from django.conf import settings
from django.core.cache import cache
from django.test import Client

from config.celery import app as celery_app
from tests.otp import otp_login


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


@pytest.fixture
def admin_client(admin_user) -> Client:
    """pytest-django's admin_client, signed in to the two-factor admin with a verified TOTP
    device (tests/otp.py). For other staff users: `otp_login(client, user)`."""
    return otp_login(Client(), admin_user)


@pytest.fixture
def staff_groups(db):
    """The staff groups as core/migrations/0002_staff_groups.py makes them. They are rows a
    data migration wrote, and transactional tests end by truncating every table, so a later
    test cannot count on them: this re-applies the migration's own (idempotent) forward step."""
    import importlib
    from types import SimpleNamespace

    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    migration = importlib.import_module("core.migrations.0002_staff_groups")
    state = MigrationExecutor(connection).loader.project_state(("core", "0002_staff_groups"))
    migration.create_groups(state.apps, SimpleNamespace(connection=connection))
    # Each app's own data migration then adds its models' permissions to the groups.
    for app_label, name, function in [
        ("tracking", "0002_staff_group_permissions", "grant"),
        ("tracking", "0005_extract_webhook_permissions", "grant"),
        ("billing", "0002_finance_permissions", "grant"),
    ]:
        module = importlib.import_module(f"{app_label}.migrations.{name}")
        later = MigrationExecutor(connection).loader.project_state((app_label, name))
        getattr(module, function)(later.apps, SimpleNamespace(connection=connection))

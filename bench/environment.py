"""Django set-up for the benchmarks: a throwaway database and a Redis db of their own.

Nothing here may touch the dev database (``portal``) or the dev cache (Redis db 1): the
benchmarks run in a test database created with Django's test machinery and destroyed at the
end, and the cache is pointed at a separate Redis db (5 by default) before Django reads its
settings. That db is the only one ever cleared.
"""

import os
from collections.abc import Iterator
from contextlib import contextmanager

import django

BENCH_DB_NAME = "bench_portal"
BENCH_REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/5")
BENCH_CACHE_PREFIX = "portal-bench"


def setup_django(settings_module: str | None = None, *, fast_hashers: bool = True) -> None:
    """Point the cache at the bench Redis db, then configure Django (dev settings by default;
    ``settings_module`` forces another, e.g. the API benchmark's ``bench.settings``, whose
    gunicorn must verify client secrets hashed here: it passes ``fast_hashers=False``)."""
    if settings_module:
        os.environ["DJANGO_SETTINGS_MODULE"] = settings_module
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.dev")
    # Forced, not defaulted: an inherited REDIS_URL could be the dev cache, which we clear.
    os.environ["REDIS_URL"] = BENCH_REDIS_URL
    os.environ["CACHE_KEY_PREFIX"] = BENCH_CACHE_PREFIX
    # Production-like: DEBUG would also log every query, which is not what we want to measure.
    os.environ["DJANGO_DEBUG"] = "false"
    django.setup()

    from django.conf import settings

    location = settings.CACHES["default"]["LOCATION"]
    if location != BENCH_REDIS_URL:
        raise SystemExit(
            f"refusing to run: the cache is {location!r}, not the bench db {BENCH_REDIS_URL!r} "
            f"(settings module {os.environ['DJANGO_SETTINGS_MODULE']!r} overrides REDIS_URL)"
        )
    if fast_hashers:
        # Users are created only to satisfy foreign keys; PBKDF2 would dominate the set-up time.
        settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def clear_bench_cache() -> None:
    """Flush the bench Redis db (and only it: setup_django checked where the cache points)."""
    from django.core.cache import cache

    cache.clear()


@contextmanager
def bench_database(name: str = BENCH_DB_NAME, *, keep: bool = False) -> Iterator[str]:
    """Create the throwaway test database ``name``, yield it, and destroy it (unless ``keep``)."""
    from django.db import connection

    connection.settings_dict["TEST"] = {**connection.settings_dict["TEST"], "NAME": name}
    old_name = connection.settings_dict["NAME"]
    created = connection.creation.create_test_db(
        verbosity=0, autoclobber=True, keepdb=False, serialize=False
    )
    try:
        if connection.settings_dict["NAME"] != name:
            raise RuntimeError(f"expected to be connected to {name}, got {created}")
        yield created
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0, keepdb=keep)

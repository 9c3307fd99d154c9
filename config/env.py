"""The one django-environ reader every settings module shares, plus the database parser."""

from pathlib import Path
from typing import Any

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()

# A local .env is a convenience for development; real deployments set the environment.
if (BASE_DIR / ".env").is_file():
    env.read_env(BASE_DIR / ".env", overwrite=False)

LOCAL_DATABASE_URL = "postgres://postgres:postgres@127.0.0.1:5432/portal"


def database_config(url: str) -> dict[str, Any]:
    """Parse a DATABASE_URL, refusing anything but PostgreSQL (tests run on the real engine)."""
    config = env.db_url_config(url)
    if config["ENGINE"] != "django.db.backends.postgresql":
        raise ImproperlyConfigured(
            "DATABASE_URL must point at PostgreSQL (postgres://...), "
            f"got engine {config['ENGINE']!r}."
        )
    # Persistent connections are worth ~10x throughput on the tracking API (setup-notes.md).
    config.setdefault("CONN_MAX_AGE", env.int("DATABASE_CONN_MAX_AGE", default=60))
    config["CONN_HEALTH_CHECKS"] = True
    return config

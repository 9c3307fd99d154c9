"""The one django-environ reader every settings module shares, plus the database parser."""

from pathlib import Path
from typing import Any

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()


def read_dotenv() -> None:
    """Load a local .env (development only: production and tests never read it).

    Variables already in the environment win. DJANGO_READ_DOT_ENV=false skips the file.
    """
    path = BASE_DIR / ".env"
    if env.bool("DJANGO_READ_DOT_ENV", default=True) and path.is_file():
        env.read_env(path, overwrite=False)


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
    # Fail fast (and let /healthz answer 503) instead of hanging when the server is unreachable.
    config.setdefault("OPTIONS", {}).setdefault(
        "connect_timeout", env.int("DATABASE_CONNECT_TIMEOUT", default=5)
    )
    return config

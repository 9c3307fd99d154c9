"""Settings of the tracking API benchmark (``python -m bench api``) and of the gunicorn it runs.

Development settings made production-like where it changes the cost of a request: DEBUG off
(DEBUG keeps every query in memory), persistent database connections (about 10x the throughput
of a connection per request, docs/setup-notes), and a URLconf with the framework-ceiling
endpoint. Everything else, middleware included, is what the portal runs.
"""

from config.settings.dev import *  # noqa: F403
from config.settings.dev import DATABASES, env

DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
ROOT_URLCONF = "bench.urls"
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)

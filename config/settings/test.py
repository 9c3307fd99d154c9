"""Tests: the real PostgreSQL and Redis, but their own Redis databases and localstripe port,
so a running dev portal is never disturbed."""

from .base import *  # noqa: F403
from .base import BASE_DIR, CACHES, STORAGES, env

DEBUG = False
SECRET_KEY = env("DJANGO_SECRET_KEY", default="test-only-insecure-key-never-use-in-production-01")
ALLOWED_HOSTS = ["testserver", "127.0.0.1", "localhost"]

REDIS_URL = env("TEST_REDIS_URL", default="redis://127.0.0.1:6379/3")
CACHES["default"]["LOCATION"] = REDIS_URL
CACHES["default"]["KEY_PREFIX"] = "portal-test"
CELERY_BROKER_URL = env("TEST_CELERY_BROKER_URL", default="redis://127.0.0.1:6379/2")
CELERY_RESULT_BACKEND = CELERY_BROKER_URL
STRIPE_API_BASE = env("TEST_STRIPE_API_BASE", default="http://127.0.0.1:8421")
STRIPE_JS_URL = f"{STRIPE_API_BASE}/js.stripe.com/v3/"

# Hashing strength is production's concern; tests need a real hasher that is quick.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES["staticfiles"] = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
MEDIA_ROOT = BASE_DIR / "var" / "test-media"
# Uploaded evidence written by tests never lands in a developer's real private storage.
PRIVATE_MEDIA_ROOT = BASE_DIR / "var" / "test-private"

DEMO_DATA_ALLOWED = True
# Enforced as in production: admin tests sign staff in with a verified device
# (tests/otp.py: otp_login, and the admin_client fixture in tests/conftest.py).
STAFF_2FA_REQUIRED = True
# Webhook tests deliver to a live_server on 127.0.0.1 over http; the SSRF tests turn these
# back to production's values with `settings` overrides.
WEBHOOK_REQUIRE_HTTPS = False
WEBHOOK_ALLOW_LOOPBACK = True
WEBHOOK_BACKOFF_BASE_SECONDS = 1

"""Local development: DEBUG on, localstripe on 127.0.0.1:8420, safe defaults everywhere."""

from config.env import read_dotenv

read_dotenv()  # before base.py reads the environment

from .base import *  # noqa: E402,F403
from .base import env  # noqa: E402

DEBUG = env.bool("DJANGO_DEBUG", default=True)
SECRET_KEY = env("DJANGO_SECRET_KEY", default="dev-only-insecure-key-never-use-in-production-0123")
STRIPE_API_BASE = env("STRIPE_API_BASE", default="http://127.0.0.1:8420")
STRIPE_JS_URL = env("STRIPE_JS_URL", default=f"{STRIPE_API_BASE}/js.stripe.com/v3/")
STORAGES["staticfiles"] = {  # noqa: F405
    "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
}

DEMO_DATA_ALLOWED = True
# Local development only: DJANGO_STAFF_2FA_REQUIRED=false opens the admin with a password alone.
STAFF_2FA_REQUIRED = env.bool("DJANGO_STAFF_2FA_REQUIRED", default=True)
# Development listeners are local (an http://127.0.0.1 receiver); production never allows this.
WEBHOOK_REQUIRE_HTTPS = env.bool("WEBHOOK_REQUIRE_HTTPS", default=False)
WEBHOOK_ALLOW_LOOPBACK = env.bool("WEBHOOK_ALLOW_LOOPBACK", default=True)

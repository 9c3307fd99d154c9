"""Production: every secret must be set (no defaults), HTTPS everywhere."""

from django.core.exceptions import ImproperlyConfigured

from config.env import database_config

from .base import *  # noqa: F403
from .base import LOGGING, env

DEBUG = False
# Re-read without defaults so a missing secret stops the boot with django-environ's message,
# e.g. "Set the STRIPE_SECRET_KEY environment variable".
SECRET_KEY = env("DJANGO_SECRET_KEY")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS")
DATABASES = {"default": database_config(env("DATABASE_URL"))}
REDIS_URL = env("REDIS_URL")
CACHES["default"]["LOCATION"] = REDIS_URL  # noqa: F405
CELERY_BROKER_URL = env("CELERY_BROKER_URL")
CELERY_RESULT_BACKEND = env("CELERY_RESULT_BACKEND", default=CELERY_BROKER_URL)
STRIPE_SECRET_KEY = env("STRIPE_SECRET_KEY")
STRIPE_WEBHOOK_SECRET = env("STRIPE_WEBHOOK_SECRET")
STRIPE_PUBLISHABLE_KEY = env("STRIPE_PUBLISHABLE_KEY")
STRIPE_API_BASE = env("STRIPE_API_BASE", default="https://api.stripe.com")
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])
# Sign-up, verification and password-reset mail must really leave the building.
EMAIL_CONFIG = env.email_url("EMAIL_URL")
globals().update(EMAIL_CONFIG)  # EMAIL_BACKEND, EMAIL_HOST, EMAIL_PORT, ...

DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL")
PORTAL_BASE_URL = env("PORTAL_BASE_URL")
ACCOUNT_DEFAULT_HTTP_PROTOCOL = "https"

# Staff two-factor authentication is never relaxed here. The development switch is refused
# loudly rather than ignored, so nobody believes they turned it off.
if not env.bool("DJANGO_STAFF_2FA_REQUIRED", default=True):
    raise ImproperlyConfigured(
        "DJANGO_STAFF_2FA_REQUIRED=false is for local development only: production always "
        "requires staff two-factor authentication. Unset the variable."
    )
STAFF_2FA_REQUIRED = True

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# TLS ends at one proxy (README): without this, every client would share the proxy's address
# in allauth's per-IP rate limits, and signatures would record the proxy's IP.
ALLAUTH_TRUSTED_PROXY_COUNT = env.int("DJANGO_TRUSTED_PROXY_COUNT", default=1)
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
# Load balancers probe health over plain HTTP.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 365)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SESSION_COOKIE_SECURE = True
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_SECURE = True
X_FRAME_OPTIONS = "DENY"

LOGGING["root"]["level"] = env("DJANGO_LOG_LEVEL", default="WARNING")

# Webhook listeners: https to public addresses only (SSRF), whatever the environment says.
WEBHOOK_REQUIRE_HTTPS = True
WEBHOOK_ALLOW_LOOPBACK = False
# Subscription secrets are encrypted with their own keys, not derived from SECRET_KEY.
WEBHOOK_SECRET_KEYS = env.list("WEBHOOK_SECRET_KEYS")

"""Settings shared by every environment. Anything that differs between them comes from env."""

from celery.schedules import crontab

from config.env import BASE_DIR, LOCAL_DATABASE_URL, database_config, env

# SECRET_KEY is set by each environment module: only dev and test may default it.
DEBUG = env.bool("DJANGO_DEBUG", default=False)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])

INSTALLED_APPS = [
    # Django's admin, with the staff site (config.admin_site) as admin.site: TOTP required.
    "config.apps.StaffAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "django.contrib.humanize",
    "django.forms",
    "allauth",
    "allauth.account",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "rest_framework",
    "oauth2_provider",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    # Domain apps, bottom layer first: each may import only the apps listed before it.
    "core",
    "accounts",
    "agreements",
    "tracking",
    "billing",
    "demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Refuses NUL in parameters before CSRF or any view reads them (static files are already
    # answered by WhiteNoise, which never reads parameters).
    "config.middleware.RejectNulBytesMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # request.user.is_verified(): the session holds a confirmed OTP device of this user.
    "django_otp.middleware.OTPMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    # After authentication: which provider the user is acting for, re-checked every request.
    "accounts.middleware.ActiveProviderMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
# Widget templates can then be overridden from templates/, like every other template.
FORM_RENDERER = "django.forms.renderers.TemplatesSetting"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "accounts.context_processors.portal",
                "agreements.context_processors.reacceptance_banner",
            ],
        },
    },
]

# --- Database: PostgreSQL only. Tests run on the production engine, so there is no fallback.
DATABASES = {"default": database_config(env("DATABASE_URL", default=LOCAL_DATABASE_URL))}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: cache (the access-decision cache lives here) and the Celery broker.
REDIS_URL = env("REDIS_URL", default="redis://127.0.0.1:6379/1")
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": env("CACHE_KEY_PREFIX", default="portal"),
        # Short timeouts: an unreachable cache must degrade to the database, not hang requests.
        "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
    }
}

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",  # the staff admin
    "allauth.account.auth_backends.AuthenticationBackend",  # the portal
]

# --- Portal accounts (django-allauth): e-mail login, verified addresses, rate limits on.
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_CONFIRM_EMAIL_ON_GET = False  # a link preview or scanner must not confirm for the user
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_EMAIL_SUBJECT_PREFIX = "[Tracking Access Portal] "
ACCOUNT_DEFAULT_HTTP_PROTOCOL = env("ACCOUNT_DEFAULT_HTTP_PROTOCOL", default="http")
# allauth's defaults (per IP and per key), spelled out so nobody switches them off unawares.
ACCOUNT_RATE_LIMITS = {
    "login": "30/m/ip",
    "login_failed": "10/m/ip,5/5m/key",
    "signup": "20/m/ip",
    "confirm_email": "1/3m/key",
    "reset_password": "20/m/ip,5/m/key",
    "reset_password_from_key": "20/m/ip",
    "change_password": "5/m/user",
}
# How many reverse proxies in front of the app add to X-Forwarded-For. 0: trust only
# REMOTE_ADDR. allauth's per-IP rate limits and recorded signer IPs both use this.
ALLAUTH_TRUSTED_PROXY_COUNT = env.int("DJANGO_TRUSTED_PROXY_COUNT", default=0)
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "agreements:dashboard"
ACCOUNT_LOGOUT_REDIRECT_URL = "home"

# --- Staff two-factor authentication (django-otp, TOTP): the staff admin at /admin/ asks for
# the password and a code from an authenticator app, and admits only sessions verified that way.
# Only config.settings.dev may relax it (DJANGO_STAFF_2FA_REQUIRED=false); production refuses to.
STAFF_2FA_REQUIRED = True
OTP_TOTP_ISSUER = "Tracking Access Portal"
# Defence in depth: the TOTP device admin is not registered (config.apps), and would hide keys.
OTP_ADMIN_HIDE_SENSITIVE_DATA = True

# Team invitations expire after this many days unless accepted.
INVITATION_TTL_DAYS = env.int("INVITATION_TTL_DAYS", default=7)
# Against invitation spam: pending invitations per provider, invitations per user per hour.
INVITATIONS_PENDING_MAX = env.int("INVITATIONS_PENDING_MAX", default=50)
INVITATIONS_PER_HOUR = env.int("INVITATIONS_PER_HOUR", default=20)

# Sessions end after this much inactivity (every request renews the cookie).
SESSION_COOKIE_AGE = env.int("SESSION_IDLE_TIMEOUT_SECONDS", default=30 * 60)
SESSION_SAVE_EVERY_REQUEST = True

# Where the portal is reached: links in e-mails sent outside a request (consent requests).
PORTAL_BASE_URL = env("PORTAL_BASE_URL", default="http://127.0.0.1:8000")

# --- E-mail: the console in development, SMTP from EMAIL_URL in production.
EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
globals().update(EMAIL_CONFIG)  # EMAIL_BACKEND, EMAIL_HOST, EMAIL_PORT, ...

DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="Tracking Access Portal <noreply@localhost>")
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
# USWDS and axe-core, fetched from the npm registry by scripts/vendor.sh (never a CDN).
STATICFILES_DIRS = [BASE_DIR / "var" / "vendor" / "static"]
STATIC_ROOT = env.path("DJANGO_STATIC_ROOT", default=BASE_DIR / "var" / "static")
MEDIA_URL = "media/"
MEDIA_ROOT = env.path("DJANGO_MEDIA_ROOT", default=BASE_DIR / "var" / "media")
# Uploaded evidence: a storage with no URL at all, served only through permission-checked views.
PRIVATE_MEDIA_ROOT = env.path("DJANGO_PRIVATE_MEDIA_ROOT", default=BASE_DIR / "var" / "private")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    # Every API error, whatever raised it, leaves in the USPS error envelope.
    "EXCEPTION_HANDLER": "tracking.api.errors.usps_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Tracking Access Portal API",
    "DESCRIPTION": (
        "USPS-compatible Tracking 3.0 (legacy) and 3.2 endpoints, gated per Mailer ID by the "
        "portal's access decision. Get a token at /oauth2/v3/token (client credentials)."
    ),
    "VERSION": "3.2.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # The schema and its viewers are public documentation, like USPS's.
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    # Only the API: the portal's and admin's HTML views are not part of it.
    "SCHEMA_PATH_PREFIX": r"/(tracking|oauth2)/",
}

# --- OAuth 2.0 (django-oauth-toolkit): client credentials, as USPS's oauth2/v3.
OAUTH2_PROVIDER = {
    # USPS tokens last 8 hours; USPS answers expires_in 28799.
    "ACCESS_TOKEN_EXPIRE_SECONDS": env.int("API_TOKEN_EXPIRE_SECONDS", default=28799),
    "SCOPES_BACKEND_CLASS": "tracking.oauth.AppScopes",
    "OAUTH2_VALIDATOR_CLASS": "tracking.oauth.PortalOAuth2Validator",
    # Every RFC 9700 (OAuth 2.0 Security BCP) behaviour on; among them, tokens are stored as
    # SHA-256 checksums only, so a database leak yields no token.
    **{
        f"COMPLIANT_BCP_RFC9700_{name}": True
        for name in (
            "ACCESS_TOKEN_TRANSPORT",
            "AUTHZ_RESPONSE_ISS",
            "IMPLICIT_GRANT",
            "PASSWORD_GRANT",
            "PKCE_METHOD",
            "PKCE_REQUIRED",
            "REDIRECT_URI_MATCHING",
            "REDIRECT_URI_SCHEME",
            "REFRESH_TOKEN",
            "TOKEN_STORAGE",
        )
    },
    # What those demand of the grants we do not use (no refresh tokens, no redirects are
    # issued), set so the checks hold should anyone enable them.
    "REFRESH_TOKEN_REUSE_PROTECTION": True,
    "ALLOWED_REDIRECT_URI_SCHEMES": ["https"],
}

# Named explicitly so migrations can depend on them (django-oauth-toolkit's swappable models).
OAUTH2_PROVIDER_APPLICATION_MODEL = "oauth2_provider.Application"
OAUTH2_PROVIDER_ACCESS_TOKEN_MODEL = "oauth2_provider.AccessToken"  # noqa: S105 - a model name
OAUTH2_PROVIDER_REFRESH_TOKEN_MODEL = "oauth2_provider.RefreshToken"  # noqa: S105
OAUTH2_PROVIDER_ID_TOKEN_MODEL = "oauth2_provider.IDToken"  # noqa: S105
OAUTH2_PROVIDER_GRANT_MODEL = "oauth2_provider.Grant"

# --- Tracking API
# Calls per app per hour unless staff set a provider's quota (USPS's default product: 60).
API_DEFAULT_QUOTA_PER_HOUR = env.int("API_DEFAULT_QUOTA_PER_HOUR", default=60)
# After a secret rotation the old secret keeps working this long.
API_SECRET_ROTATION_OVERLAP_HOURS = env.int("API_SECRET_ROTATION_OVERLAP_HOURS", default=24)
# A token's cached authentication is re-read from the database at least this often
# (revoking an app or token removes it from the cache at once).
API_TOKEN_CACHE_SECONDS = env.int("API_TOKEN_CACHE_SECONDS", default=60)
# Disclosure records are buffered in Redis and written in bulk by a Celery task.
API_DISCLOSURE_DRAIN_BATCH = env.int("API_DISCLOSURE_DRAIN_BATCH", default=5000)
# The largest JSON body the API parses (a full 35-item batch is about 4 KB).
API_MAX_BODY_BYTES = env.int("API_MAX_BODY_BYTES", default=64 * 1024)

# --- Scan event extracts (docs/extracts.md)
# Provider types whose extracts wait for staff approval before they are built.
EXTRACT_APPROVAL_REQUIRED_TYPES = env.list(
    "EXTRACT_APPROVAL_REQUIRED_TYPES", default=["SERVICE_PROVIDER"]
)
# How long a built extract can be downloaded (and its signed link works), in hours.
EXTRACT_LINK_TTL_HOURS = env.int("EXTRACT_LINK_TTL_HOURS", default=24)
# The widest date range and the most MIDs one extract may ask for.
EXTRACT_MAX_DAYS = env.int("EXTRACT_MAX_DAYS", default=92)
EXTRACT_MAX_MIDS = env.int("EXTRACT_MAX_MIDS", default=50)
# Rows fetched from the server-side cursor at a time; the access decision is asked again
# between chunks, so a revoked MID stops a build within one chunk.
EXTRACT_CHUNK_ROWS = env.int("EXTRACT_CHUNK_ROWS", default=5000)
# Events per page of GET /tracking/v3r2/extracts/events (and its ceiling for `limit`).
EXTRACT_PAGE_SIZE = env.int("EXTRACT_PAGE_SIZE", default=500)
EXTRACT_MAX_PAGE_SIZE = env.int("EXTRACT_MAX_PAGE_SIZE", default=1000)

# --- Tracking webhooks, Subscriptions-Tracking 3.2 (docs/webhooks.md)
# Outside development listener URLs must be https and resolve to public addresses only.
WEBHOOK_REQUIRE_HTTPS = env.bool("WEBHOOK_REQUIRE_HTTPS", default=True)
# Tests deliver to a live_server on 127.0.0.1; nothing else should turn this on.
WEBHOOK_ALLOW_LOOPBACK = env.bool("WEBHOOK_ALLOW_LOOPBACK", default=False)
WEBHOOK_TIMEOUT_SECONDS = env.int("WEBHOOK_TIMEOUT_SECONDS", default=10)
# Attempts of one delivery before it is given up, with exponential backoff between them.
WEBHOOK_MAX_ATTEMPTS = env.int("WEBHOOK_MAX_ATTEMPTS", default=8)
WEBHOOK_BACKOFF_BASE_SECONDS = env.int("WEBHOOK_BACKOFF_BASE_SECONDS", default=30)
WEBHOOK_BACKOFF_MAX_SECONDS = env.int("WEBHOOK_BACKOFF_MAX_SECONDS", default=6 * 3600)
# Consecutive failed attempts (any delivery) after which a subscription is SUSPENDED.
WEBHOOK_SUSPEND_AFTER_FAILURES = env.int("WEBHOOK_SUSPEND_AFTER_FAILURES", default=10)
# Fernet keys (urlsafe base64, 32 bytes) encrypting subscription secrets at rest; the first
# encrypts, all decrypt, so a key can be rotated. Empty: derived from SECRET_KEY.
WEBHOOK_SECRET_KEYS = env.list("WEBHOOK_SECRET_KEYS", default=[])

# --- Celery
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default="redis://127.0.0.1:6379/0")
CELERY_RESULT_BACKEND = env("CELERY_RESULT_BACKEND", default=CELERY_BROKER_URL)
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_TIMEZONE = TIME_ZONE
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=60)
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=90)
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_EXPIRES = 3600
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# Reviewed in code; django-celery-beat's DatabaseScheduler copies these entries into its tables
# at start-up, where staff can see their last run in the admin.
CELERY_BEAT_SCHEDULE = {
    # Every minute: https://crontab.guru/#*_*_*_*_*
    "heartbeat": {
        "task": "config.celery.heartbeat",
        "schedule": crontab(minute="*"),
        "options": {"expires": 50},
    },
    # Every 10 seconds: the buffered disclosure records into PostgreSQL, in bulk.
    "drain-disclosures": {
        "task": "tracking.tasks.drain_disclosures",
        "schedule": 10.0,
        "options": {"expires": 9},
    },
    # Every minute: webhook deliveries whose retry time has come (docs/webhooks.md).
    "webhooks-send-due": {
        "task": "tracking.webhooks.tasks.send_due_deliveries",
        "schedule": 60.0,
        "options": {"expires": 55},
    },
    # Hourly: built extracts past their link lifetime are deleted, and builds whose worker
    # died are queued again (docs/extracts.md). https://crontab.guru/#5_*_*_*_*
    "extracts-housekeeping": {
        "task": "tracking.extracts.tasks.housekeeping",
        "schedule": crontab(minute=5),
        "options": {"expires": 50 * 60},
    },
    # The monthly invoice run (docs/billing.md, "Monthly run"). It bills the previous calendar
    # month of BILLING_TIMEZONE, while these crontabs are UTC (CELERY_TIMEZONE): hourly on the
    # 1st to 3rd catches the month's turn in that zone (04:00 or 05:00 UTC for New York) and
    # retries a failed run soon; daily on the other days catches up a missed month. Repeats are
    # harmless: a provider's month is invoiced once (a unique constraint), and a run before the
    # month has ended in the zone finds nothing to do.
    # https://crontab.guru/#20_*_1-3_*_*
    "issue-monthly-invoices": {
        "task": "billing.tasks.issue_monthly_invoices",
        "schedule": crontab(minute=20, day_of_month="1-3"),
        "options": {"expires": 50 * 60},
    },
    # https://crontab.guru/#20_6_4-31_*_*
    "issue-monthly-invoices-daily": {
        "task": "billing.tasks.issue_monthly_invoices",
        "schedule": crontab(minute=20, hour=6, day_of_month="4-31"),
        "options": {"expires": 50 * 60},
    },
    # Card collection (docs/billing.md, "Collection, webhooks and dunning"). Hourly: charges
    # whose retry time has come (refused cards on BILLING_RETRY_DAYS, unknown outcomes an hour
    # later) and webhook events whose task was lost. Each charge re-checks under a row lock.
    # https://crontab.guru/#35_*_*_*_*
    "billing-retry-charges": {
        "task": "billing.tasks.retry_due_charges",
        "schedule": crontab(minute=35),
        "options": {"expires": 50 * 60},
    },
    # Daily, early morning in New York (BILLING_TIMEZONE's days decide who is past grace):
    # https://crontab.guru/#50_10_*_*_*
    "billing-apply-holds": {
        "task": "billing.tasks.apply_billing_holds",
        "schedule": crontab(minute=50, hour=10),
        "options": {"expires": 6 * 3600},
    },
    # Nightly in New York: card payments of the last BILLING_RECONCILE_DAYS against Stripe.
    # https://crontab.guru/#40_7_*_*_*
    "billing-reconcile-with-stripe": {
        "task": "billing.tasks.reconcile_with_stripe",
        "schedule": crontab(minute=40, hour=7),
        "options": {"expires": 6 * 3600},
    },
}

# --- Stripe (only billing/stripe_gateway.py talks to it)
STRIPE_SECRET_KEY = env("STRIPE_SECRET_KEY", default="sk_test_local")
STRIPE_API_BASE = env("STRIPE_API_BASE", default="https://api.stripe.com")
STRIPE_WEBHOOK_SECRET = env("STRIPE_WEBHOOK_SECRET", default="whsec_local")
STRIPE_TIMEOUT_SECONDS = env.int("STRIPE_TIMEOUT_SECONDS", default=10)

# --- Billing (docs/billing.md)
# The monthly run issues invoices for the previous calendar month of this time zone.
BILLING_TIMEZONE = env("BILLING_TIMEZONE", default="America/New_York")
# Invoices open (and are charged) only when finance approves them, unless this is on.
BILLING_AUTO_APPROVE = env.bool("BILLING_AUTO_APPROVE", default=False)
BILLING_NET_DAYS = env.int("BILLING_NET_DAYS", default=30)
# A failed card charge is retried this many days after the first failure.
BILLING_RETRY_DAYS = [int(day) for day in env.list("BILLING_RETRY_DAYS", default=["3", "5", "7"])]
# Days past the due date before unpaid invoices put the provider on billing hold.
BILLING_GRACE_DAYS = env.int("BILLING_GRACE_DAYS", default=15)
# The nightly reconciliation compares the last N days of invoices and payments with Stripe.
BILLING_RECONCILE_DAYS = env.int("BILLING_RECONCILE_DAYS", default=35)
# Stripe.js for the card form: the real one in production, localstripe's fake in dev and tests.
STRIPE_PUBLISHABLE_KEY = env("STRIPE_PUBLISHABLE_KEY", default="pk_test_local")
STRIPE_JS_URL = env("STRIPE_JS_URL", default="https://js.stripe.com/v3/")
# Where the billing contact is told to send wires and checks (shown on invoices).
BILLING_REMIT_TO = env(
    "BILLING_REMIT_TO",
    default="Tracking Access Portal, 475 L'Enfant Plaza SW, Washington, DC 20260",
)

# --- Access decision
# Upper bound on how long a cached decision lives (writes invalidate it sooner).
ACCESS_DECISION_CACHE_SECONDS = env.int("ACCESS_DECISION_CACHE_SECONDS", default=60)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("DJANGO_LOG_LEVEL", default="INFO")},
}

# seed_demo writes well-known passwords; only dev and test switch it on.
DEMO_DATA_ALLOWED = False
DEMO_PASSWORD = env("DEMO_PASSWORD", default="portal-demo-2026")

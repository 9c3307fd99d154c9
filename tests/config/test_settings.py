"""Each settings module loads, and production refuses to boot without its secrets."""

import json
import os
import subprocess
import sys

import pytest
from django.conf import settings

ROOT = settings.BASE_DIR

PRODUCTION_ENV = {
    "DJANGO_SECRET_KEY": "prod-" + "k3y-Z9q!xV7#mT2@wL5$" * 3,
    "DJANGO_ALLOWED_HOSTS": "portal.example.gov",
    "DATABASE_URL": "postgres://postgres:postgres@127.0.0.1:5432/portal",
    "REDIS_URL": "redis://127.0.0.1:6379/1",
    "CELERY_BROKER_URL": "redis://127.0.0.1:6379/0",
    "STRIPE_SECRET_KEY": "sk_live_example",
    "STRIPE_WEBHOOK_SECRET": "whsec_example",
    "STRIPE_PUBLISHABLE_KEY": "pk_live_example",
    "EMAIL_URL": "smtp+tls://mailer:secret@smtp.example.gov:587",
    "DEFAULT_FROM_EMAIL": "Tracking Access Portal <noreply@portal.example.gov>",
    "PORTAL_BASE_URL": "https://portal.example.gov",
    "WEBHOOK_SECRET_KEYS": "mAVbZ0n1S7Nf0p2m8m9QeX3kq3c1h2b7Yk4Wm1Zr6xA=",
}

PROBE = (
    "import django, json; django.setup(); from django.conf import settings as s; "
    "print(json.dumps({'debug': s.DEBUG, 'engine': s.DATABASES['default']['ENGINE'], "
    "'conn_max_age': s.DATABASES['default']['CONN_MAX_AGE'], 'stripe': s.STRIPE_API_BASE, "
    "'demo': s.DEMO_DATA_ALLOWED, 'user_model': s.AUTH_USER_MODEL}))"
)


def run_python(module: str, extra_env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    # A clean environment: only what the mode itself needs, nothing inherited from this run.
    env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/root")}
    # A developer's .env must not change what these tests see.
    env |= {"DJANGO_SETTINGS_MODULE": module, "DJANGO_READ_DOT_ENV": "false", **extra_env}
    return subprocess.run(  # noqa: S603 - fixed argv, our own interpreter
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize(
    ("module", "extra_env", "expected"),
    [
        ("config.settings.dev", {}, {"debug": True, "stripe": "http://127.0.0.1:8420"}),
        ("config.settings.test", {}, {"debug": False, "stripe": "http://127.0.0.1:8421"}),
        (
            "config.settings.production",
            PRODUCTION_ENV,
            {"debug": False, "stripe": "https://api.stripe.com", "demo": False},
        ),
    ],
)
def test_settings_load_in_each_mode(module, extra_env, expected):
    result = run_python(module, extra_env, "-c", PROBE)

    assert result.returncode == 0, result.stderr
    loaded = json.loads(result.stdout)
    assert loaded["engine"] == "django.db.backends.postgresql"
    assert loaded["conn_max_age"] == 60
    assert loaded["user_model"] == "accounts.User"
    for key, value in expected.items():
        assert loaded[key] == value


@pytest.mark.parametrize(
    "missing", ["DJANGO_SECRET_KEY", "DATABASE_URL", "STRIPE_SECRET_KEY", "EMAIL_URL"]
)
def test_production_refuses_to_boot_without_a_secret(missing):
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != missing}

    result = run_python("config.settings.production", env, "-c", PROBE)

    assert result.returncode != 0
    assert f"Set the {missing} environment variable" in result.stderr


def test_database_url_must_be_postgres():
    result = run_python(
        "config.settings.dev", {"DATABASE_URL": "sqlite:///db.sqlite3"}, "-c", PROBE
    )

    assert result.returncode != 0
    assert "DATABASE_URL must point at PostgreSQL" in result.stderr


def test_production_passes_check_deploy_with_no_warnings():
    result = run_python(
        "config.settings.production",
        PRODUCTION_ENV,
        "manage.py",
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


@pytest.fixture
def dot_env():
    """Write a .env into the checkout for one test, keeping any real one aside meanwhile."""
    path, aside = ROOT / ".env", ROOT / ".env.pytest-aside"
    if path.exists():
        path.rename(aside)
    try:
        yield path
    finally:
        path.unlink(missing_ok=True)
        if aside.exists():
            aside.rename(path)


def test_dev_reads_dot_env_but_production_never_does(dot_env):
    dot_env.write_text("STRIPE_SECRET_KEY=sk_test_local\nSTRIPE_API_BASE=http://127.0.0.1:9999\n")
    read = {"DJANGO_READ_DOT_ENV": "true"}

    dev = run_python("config.settings.dev", read, "-c", PROBE)
    production_env = {k: v for k, v in PRODUCTION_ENV.items() if k != "STRIPE_SECRET_KEY"}
    production = run_python("config.settings.production", production_env | read, "-c", PROBE)

    assert json.loads(dev.stdout)["stripe"] == "http://127.0.0.1:9999"
    assert production.returncode != 0
    assert "Set the STRIPE_SECRET_KEY environment variable" in production.stderr

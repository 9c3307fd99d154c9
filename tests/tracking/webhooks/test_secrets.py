"""Subscription secrets: exactly 32 characters, encrypted at rest with rotatable keys, and the
X-HMAC signature exactly as USPS describes it."""

import base64
import hashlib
import hmac

import pytest
from cryptography.fernet import Fernet
from django.test import override_settings

from core.errors import DomainError
from tests.tracking.webhooks.helpers import SECRET, allowed_provider, subscribe
from tracking.webhooks import secrets
from tracking.webhooks.signing import sign, verify


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("short", "exactly 32 characters long; this one has 5"),
        ("x" * 33, "this one has 33"),
        ("has spaces in it and is 32 long!", "printable ASCII"),
        ("é" * 32, "printable ASCII"),
        ("*" * 32, "not 32 asterisks"),
        (12345, "must be a string"),
    ],
)
def test_bad_secrets_are_refused(value, message):
    with pytest.raises(DomainError, match=message):
        secrets.validate_secret(value)


def test_generated_secrets_are_valid_and_differ():
    first, second = secrets.generate_secret(), secrets.generate_secret()

    assert secrets.validate_secret(first) == first
    assert first != second


def test_encryption_round_trips_and_rotates_keys():
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    with override_settings(WEBHOOK_SECRET_KEYS=[old]):
        token = secrets.encrypt_secret(SECRET)
    assert SECRET not in token
    with override_settings(WEBHOOK_SECRET_KEYS=[new, old]):
        assert secrets.decrypt_secret(token) == SECRET
        rotated = secrets.reencrypt(token)
    with override_settings(WEBHOOK_SECRET_KEYS=[new]):
        assert secrets.decrypt_secret(rotated) == SECRET
        with pytest.raises(DomainError, match="cannot be decrypted"):
            secrets.decrypt_secret(token)


def test_without_keys_the_key_comes_from_secret_key():
    token = secrets.encrypt_secret(SECRET)

    assert secrets.decrypt_secret(token) == SECRET
    with override_settings(SECRET_KEY="another-secret-key"), pytest.raises(DomainError):
        secrets.decrypt_secret(token)


@pytest.mark.django_db
def test_the_stored_secret_is_encrypted():
    subscription = subscribe(allowed_provider())

    assert SECRET not in subscription.secret_encrypted
    assert secrets.decrypt_secret(subscription.secret_encrypted) == SECRET


def test_the_signature_is_the_usps_formula():
    timestamp = "2024-12-27T19:05:42.747Z"
    payload = '{"trackingNumber":"12345678"}'
    expected = base64.b64encode(
        hmac.new(SECRET.encode(), (timestamp + payload).encode(), hashlib.sha256).digest()
    ).decode()

    assert sign(secret=SECRET, timestamp=timestamp, payload=payload) == expected
    assert verify(secret=SECRET, timestamp=timestamp, payload=payload, signature=expected)
    assert not verify(secret=SECRET, timestamp=timestamp, payload=payload + " ", signature=expected)


@pytest.mark.django_db
def test_error_reports_do_not_show_the_clear_secret(monkeypatch):
    """A crash inside the services that hold the clear secret: Django's error report (what
    a 500 e-mail or the debug page shows) has it replaced by stars in every frame."""
    import sys

    from django.views.debug import ExceptionReporter

    from tracking.webhooks import services

    def broken(**kwargs):
        raise RuntimeError("audit log unavailable")

    monkeypatch.setattr(services, "audit_record", broken)
    with pytest.raises(RuntimeError):
        try:
            services.subscription_create(
                provider=allowed_provider(),
                app=None,
                actor=None,
                mid="900100200",
                listener_url="http://127.0.0.1:9/hook",
                secret=SECRET,
                admin_emails=["ops@example.com"],
            )
        except RuntimeError:
            frames = ExceptionReporter(None, *sys.exc_info()).get_traceback_data()["frames"]
            raise

    shown = {frame["function"]: dict(frame["vars"]) for frame in frames}
    assert shown["subscription_create"]["secret"] == "'********************'"
    assert SECRET not in str(shown)

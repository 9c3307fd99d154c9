"""Subscription secrets: checked (USPS: exactly 32 characters), encrypted at rest, decrypted
only to sign a notification.

The secret is an HMAC key, so it cannot be hashed like a password: it is encrypted with Fernet
(AES-128-CBC + HMAC-SHA256). settings.WEBHOOK_SECRET_KEYS lists Fernet keys; the first
encrypts and every one decrypts (MultiFernet), so a key is rotated by putting a new one first
and re-encrypting (`reencrypt`). With no keys configured (development, tests) one key is
derived from SECRET_KEY with HKDF under a fixed label, so it differs from every other use of
SECRET_KEY. Nothing here logs a secret, and no page or API answer shows one.
"""

import base64
import secrets as _random

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.views.decorators.debug import sensitive_variables

from core.errors import DomainError

SECRET_LENGTH = 32
# What API answers show instead of the secret: as long as a secret, so the answer still fits
# the USPS schema (minLength = maxLength = 32). A PUT sending it back keeps the secret.
MASK = "*" * SECRET_LENGTH
_HKDF_LABEL = b"tracking-access-portal/webhook-subscription-secret/v1"


def _derived_key() -> bytes:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_HKDF_LABEL)
    return base64.urlsafe_b64encode(hkdf.derive(settings.SECRET_KEY.encode("utf-8")))


def _cipher() -> MultiFernet:
    keys = [key for key in settings.WEBHOOK_SECRET_KEYS if key] or [_derived_key()]
    return MultiFernet([Fernet(key) for key in keys])


def validate_secret(secret: object, *, field: str = "secret") -> str:
    """The secret as given, or a DomainError saying exactly what is wrong with it."""
    if not isinstance(secret, str):
        raise DomainError("The secret must be a string of 32 characters.", field=field)
    if len(secret) != SECRET_LENGTH:
        raise DomainError(
            f"The secret must be exactly {SECRET_LENGTH} characters long; this one has "
            f"{len(secret)}.",
            field=field,
        )
    if not all("!" <= char <= "~" for char in secret):
        raise DomainError(
            "The secret may contain only printable ASCII characters, without spaces.",
            field=field,
        )
    if secret == MASK:
        raise DomainError("Choose a real secret, not 32 asterisks.", field=field)
    return secret


def generate_secret() -> str:
    """32 URL-safe characters (192 random bits)."""
    return _random.token_urlsafe(24)


@sensitive_variables()
def encrypt_secret(secret: str) -> str:
    return _cipher().encrypt(secret.encode("ascii")).decode("ascii")


class SecretUnavailable(DomainError):
    """No configured key opens a stored secret: our configuration's fault, not the customer's."""


@sensitive_variables()
def decrypt_secret(token: str) -> str:
    """Raises SecretUnavailable when no configured key opens it (a key was removed too early)."""
    try:
        return _cipher().decrypt(token.encode("ascii")).decode("ascii")
    except (InvalidToken, ValueError) as exc:
        raise SecretUnavailable(
            "The subscription's secret cannot be decrypted with the configured "
            "WEBHOOK_SECRET_KEYS; was a key removed before the secrets were re-encrypted?"
        ) from exc


def reencrypt(token: str) -> str:
    """The same secret under the first (current) key."""
    return _cipher().rotate(token.encode("ascii")).decode("ascii")

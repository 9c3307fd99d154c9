"""Staff authenticators (TOTP devices of django-otp) for the two-factor staff admin.

The admin site that asks for the codes is config.admin_site; this module enrols the devices.
"""

import binascii
from base64 import b32decode, b32encode
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django_otp.plugins.otp_totp.models import TOTPDevice

from core.audit import audit_record
from core.errors import DomainError

DEVICE_NAME = "authenticator"


def is_verified_staff(user: Any) -> bool:
    """Active staff whose session was verified by a confirmed OTP device (request.user, as
    django_otp.middleware.OTPMiddleware sets it up), unless STAFF_2FA_REQUIRED is relaxed.

    The staff admin admits exactly these users (config.admin_site); a staff-only page outside
    the admin should ask the same, through `admin.site.admin_view` or this function.
    """
    if not (user.is_active and user.is_staff):
        return False
    if not settings.STAFF_2FA_REQUIRED:
        return True
    is_verified = getattr(user, "is_verified", None)  # missing without the middleware
    return bool(is_verified and is_verified())


def staff_user_for_email(email: str) -> Any:
    """The staff account with this address (any case), or a DomainError saying why not."""
    user_model = get_user_model()
    address = (email or "").strip()
    user = user_model.objects.filter(**{f"{user_model.USERNAME_FIELD}__iexact": address}).first()
    if user is None:
        raise DomainError(f"No account uses the address {address!r}.")
    if not user.is_active:
        raise DomainError(f"{user} is deactivated: reactivate the account first.")
    if not user.is_staff:
        raise DomainError(
            f"{user} is not staff. Only staff sign in to the admin, so only they get an "
            "authenticator; portal users sign in without one."
        )
    return user


def base32_secret(device: TOTPDevice) -> str:
    """The secret as authenticator apps and `oathtool --totp -b` take it."""
    return b32encode(device.bin_key).decode("ascii")


def hex_key_from_base32(secret: str) -> str:
    try:
        key = b32decode(secret.replace(" ", "").upper())
    except binascii.Error:
        raise DomainError("The TOTP secret must be base32 (A-Z and 2-7).") from None
    if len(key) < 10:
        raise DomainError("The TOTP secret must hold at least 80 bits (16 base32 characters).")
    return key.hex()


@transaction.atomic
def staff_totp_enrol(
    *, user: Any, replace: bool = False, secret: str | None = None, actor: Any | None = None
) -> TOTPDevice:
    """Give a staff member a confirmed TOTP device; with `replace`, their earlier ones stop working.

    A random secret unless `secret` (base32) is given, which only the demo data does. Recorded
    in the audit log, without the secret.
    """
    if not (user.is_active and user.is_staff):
        raise DomainError(f"{user} is not active staff and cannot enrol an authenticator.")
    existing = TOTPDevice.objects.select_for_update().filter(user=user)
    removed = 0
    if existing.filter(confirmed=True).exists():
        if not replace:
            raise DomainError(
                f"{user} already has an authenticator. Replace it (the old one then stops "
                "working) only if it was lost: pass --replace."
            )
    if replace:
        removed, _ = existing.delete()
    fields = {} if secret is None else {"key": hex_key_from_base32(secret)}
    device = TOTPDevice.objects.create(user=user, name=DEVICE_NAME, confirmed=True, **fields)
    audit_record(
        subject=device,
        action="staff_totp_enrol",
        actor=actor,
        provider_id=None,
        extra={"user_id": user.pk, "replaced_devices": removed},
    )
    return device

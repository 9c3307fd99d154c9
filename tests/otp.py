"""Signing staff in to the two-factor admin in tests.

Use `otp_login(client, user)` wherever a test would `client.force_login(staff)` and then open
/admin/ (or `admin_client`, which tests/conftest.py builds with it). Tests of the sign-in
itself post real codes to the admin login form instead (tests/config/test_staff_2fa.py).
"""

from types import SimpleNamespace

import django_otp
from django.test import Client
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice


def staff_device(user) -> TOTPDevice:
    """The user's confirmed TOTP device, enrolled now if they have none."""
    device = TOTPDevice.objects.filter(user=user, confirmed=True).order_by("pk").first()
    return device or TOTPDevice.objects.create(user=user, name="test", confirmed=True)


def otp_login(client: Client, user) -> Client:
    """Log `user` in with a session verified by their TOTP device, as the admin login does.

    After the password step (force_login), django_otp.login() stores the device in the session,
    exactly what the admin login form does after a correct code. OTPMiddleware then re-checks
    on every request that the device is confirmed and the user's, so a deleted or unconfirmed
    device still locks the session out of the admin.
    """
    client.force_login(user)
    session = client.session
    django_otp.login(SimpleNamespace(user=user, session=session), staff_device(user))
    session.save()
    return client


def current_code(device: TOTPDevice) -> str:
    """The code the device's authenticator app shows now (what a person would type)."""
    code = totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits)
    return f"{code:0{device.digits}d}"

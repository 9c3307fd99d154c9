"""The staff admin site: a password and a TOTP code from an enrolled authenticator (issue 8).

`StaffAdminSite` is django-otp's `OTPAdminSite` under the usual name "admin", so every URL and
`admin:` name stays as it was. A session counts as staff only once it has been verified by a
confirmed device of its user (django_otp.middleware.OTPMiddleware reads that from the session
on every request); staff signed in otherwise, e.g. through the portal's allauth sign-in, get the
admin login page. `settings.STAFF_2FA_REQUIRED = False` (config.settings.dev only) falls back to
Django's password-only admin.
"""

import re

from django import forms
from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.core.cache import cache
from django.http import HttpRequest
from django_otp import devices_for_user
from django_otp.admin import OTPAdminAuthenticationForm, OTPAdminSite

from accounts.portal import client_ip
from core.otp import is_verified_staff

# The only device ids the login form accepts back (django-otp's persistent id of a TOTP device).
# Anything else is ignored: django-otp 1.7 would look it up as a model and could crash (500).
TOTP_DEVICE_ID = re.compile(r"^otp_totp\.totpdevice/[0-9]{1,18}$")

# Failed staff sign-ins allowed per client address and per account in a window; allauth's limits
# cover only the portal's sign-in, not /admin/login/.
LOGIN_FAILURES_ALLOWED = 10
LOGIN_FAILURE_WINDOW_SECONDS = 15 * 60
TOO_MANY = (
    "Too many failed sign-in attempts. Wait 15 minutes, then try again, or ask another "
    "administrator for help."
)
# One message whether the password or the code was wrong: the page must not confirm passwords.
INVALID_LOGIN = (
    "Please enter the correct e-mail address, password and the code your authenticator app "
    "shows now."
)

ENROL_HINT = (
    "No authenticator is enrolled for this account yet. Ask an administrator to run "
    '"manage.py staff_totp_enrol <your e-mail>" and add the secret it prints to your '
    "authenticator app."
)


class StaffLoginForm(OTPAdminAuthenticationForm):
    """E-mail, password and the 6-digit code of the staff member's authenticator app.

    django-otp asks the user to pick a device when none is posted (it will not try a code
    against every device, which would throttle the ones not used). Staff usually have exactly
    one, so that one is chosen for them; with several, the form asks them to pick.
    """

    otp_token = forms.CharField(
        required=False,
        label="Authentication code",
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "maxlength": 8}
        ),
    )
    otp_error_messages = {
        **OTPAdminAuthenticationForm.otp_error_messages,
        "token_required": "Enter the 6-digit code from your authenticator app.",
        "invalid_token": "That code is not valid. Enter the code your authenticator app shows now.",
        "device_required": "You have more than one authenticator: choose the one you used.",
    }

    def clean(self):
        keys = self._failure_keys()
        if any(_failures(key) >= LOGIN_FAILURES_ALLOWED for key in keys):
            raise forms.ValidationError(TOO_MANY, code="too_many_attempts")
        if not (self.data.get("otp_token") or "").strip():
            # Asked before the password is checked, so the answer says nothing about it.
            raise forms.ValidationError(
                self.otp_error_messages["token_required"], code="token_required"
            )
        try:
            return super().clean()
        except forms.ValidationError as exc:
            for key in keys:
                _count_failure(key)
            if any(error.code in {"no_device", "device_required"} for error in exc.error_list):
                raise
            raise forms.ValidationError(INVALID_LOGIN, code="invalid_login") from exc

    def _failure_keys(self) -> list[str]:
        email = (self.data.get("username") or "").strip().lower()[:254]
        address = client_ip(self.request) if self.request is not None else None
        return [f"admin-login-fail:ip:{address}", f"admin-login-fail:user:{email}"]

    def _chosen_device(self, user):
        chosen = self.cleaned_data.get("otp_device")
        if chosen and not TOTP_DEVICE_ID.match(str(chosen)):
            self.cleaned_data["otp_device"] = None
        device = super()._chosen_device(user)
        if device is None and not self.cleaned_data.get("otp_device"):
            # Inside clean_otp()'s transaction: locked like django-otp locks a chosen device.
            devices = list(devices_for_user(user, for_verify=True))
            if not devices:
                raise forms.ValidationError(ENROL_HINT, code="no_device")
            if len(devices) == 1:
                device = devices[0]
        return device

    def device_count(self) -> int:
        user = self.get_user()
        return 0 if user is None else len(list(devices_for_user(user)))


def _failures(key: str) -> int:
    try:
        return int(cache.get(key) or 0)
    except Exception:  # noqa: BLE001 - an unreachable cache must not lock every staff member out
        return 0


def _count_failure(key: str) -> None:
    try:
        if not cache.add(key, 1, timeout=LOGIN_FAILURE_WINDOW_SECONDS):
            cache.incr(key)
    except Exception:  # noqa: BLE001, S110 - counting is best effort; the password still rules
        pass


class StaffAdminSite(OTPAdminSite):
    """The Django admin at /admin/, closed to sessions without a verified TOTP device."""

    def __init__(self, name: str = "admin") -> None:
        # OTPAdminSite names itself "otpadmin"; the project's URLs and tests say "admin".
        super().__init__(name)

    @property
    def login_form(self) -> type[AdminAuthenticationForm]:
        return StaffLoginForm if settings.STAFF_2FA_REQUIRED else AdminAuthenticationForm

    @property
    def login_template(self) -> str:
        return "admin/staff_login.html" if settings.STAFF_2FA_REQUIRED else "admin/login.html"

    def has_permission(self, request: HttpRequest) -> bool:
        """Active staff, verified by an OTP device unless the setting relaxes it (dev only).

        Staff-only pages outside the admin's own URLs should use `admin.site.admin_view(...)`
        or core.otp.is_verified_staff, so that they ask for the same second factor.
        """
        return is_verified_staff(request.user)

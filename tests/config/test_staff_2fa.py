"""Staff two-factor authentication (issue 8): a TOTP code is required to reach /admin/.

The sign-in is exercised through the real admin login form with real codes; other admin tests
use tests/otp.py, which verifies the session the way that form does.
"""

import base64
import json
import re
from io import StringIO

import pytest
from allauth.account.models import EmailAddress
from django.contrib import admin
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from config.admin_site import ENROL_HINT, StaffAdminSite
from core.models import AuditEntry
from core.otp import is_verified_staff
from tests.config.test_settings import PRODUCTION_ENV, run_python
from tests.factories import MembershipFactory, StaffFactory, UserFactory
from tests.otp import current_code, otp_login, staff_device

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery"  # tests.factories.UserFactory's
ADMIN_PAGES = [
    "/admin/",
    "/admin/accounts/provider/",
    "/admin/agreements/agreement/",
    "/admin/core/auditentry/",
    "/admin/password_change/",
]


def sign_in(client: Client, user, **fields):
    return client.post(
        reverse("admin:login"),
        {"username": user.email, "password": PASSWORD, "next": "/admin/", **fields},
    )


def sent_to_login(response) -> bool:
    return response.status_code == 302 and response.url.startswith(reverse("admin:login"))


def form_errors(response) -> list[str]:
    return [str(error) for errors in response.context["form"].errors.values() for error in errors]


def test_the_admin_site_is_the_two_factor_staff_site():
    assert isinstance(admin.site, StaffAdminSite)
    assert admin.site.name == "admin"
    assert not admin.site.is_registered(TOTPDevice)  # its page would show every secret


@pytest.mark.parametrize("with_device", [False, True], ids=["no device", "device"])
def test_staff_signed_in_by_password_alone_get_the_login_page(client, with_device):
    staff = StaffFactory()
    if with_device:
        staff_device(staff)
    client.force_login(staff)

    for url in ADMIN_PAGES:
        assert sent_to_login(client.get(url)), url


def test_staff_without_a_device_cannot_sign_in_and_are_told_how_to_enrol(client):
    staff = StaffFactory()

    response = sign_in(client, staff, otp_token="123456")

    assert response.status_code == 200
    assert ENROL_HINT in form_errors(response)
    assert sent_to_login(client.get("/admin/"))


def test_a_wrong_code_does_not_sign_in(client):
    staff = StaffFactory()
    device = staff_device(staff)
    wrong = f"{(int(current_code(device)) + 500_000) % 1_000_000:06d}"

    response = sign_in(client, staff, otp_token=wrong)

    assert response.status_code == 200
    # The same words as a wrong password: the page never confirms which one was right.
    assert "Please enter the correct e-mail address, password and the code" in " ".join(
        form_errors(response)
    )
    assert sent_to_login(client.get("/admin/"))
    device.refresh_from_db()
    assert device.throttling_failure_count == 1  # django-otp slows down guessing


def test_a_missing_code_does_not_sign_in(client):
    staff = StaffFactory()
    staff_device(staff)

    response = sign_in(client, staff)

    assert "Enter the 6-digit code from your authenticator app." in form_errors(response)
    assert sent_to_login(client.get("/admin/"))


def test_the_right_code_signs_in_and_opens_every_admin_page(client):
    staff = StaffFactory()
    device = staff_device(staff)

    response = sign_in(client, staff, otp_token=current_code(device))

    assert response.status_code == 302 and response.url == "/admin/"
    assert client.session[DEVICE_ID_SESSION_KEY] == device.persistent_id
    for url in ADMIN_PAGES:
        assert client.get(url).status_code == 200, url


def test_a_code_is_accepted_only_once(client):
    staff = StaffFactory()
    code = current_code(staff_device(staff))
    assert sign_in(client, staff, otp_token=code).status_code == 302

    second = Client()
    replayed = sign_in(second, staff, otp_token=code)

    assert replayed.status_code == 200
    assert "_auth_user_id" not in second.session
    assert form_errors(replayed)  # told why, not silently shown the form again


def test_a_wrong_password_with_the_right_code_does_not_sign_in(client):
    staff = StaffFactory()
    device = staff_device(staff)

    response = client.post(
        reverse("admin:login"),
        {"username": staff.email, "password": "wrong", "otp_token": current_code(device)},
    )

    assert response.status_code == 200
    assert sent_to_login(client.get("/admin/"))


def test_a_user_who_is_not_staff_gets_nothing_from_a_valid_code(client):
    user = UserFactory()
    device = staff_device(user)

    response = sign_in(client, user, otp_token=current_code(device))

    assert response.status_code == 200
    assert sent_to_login(client.get("/admin/"))


def test_staff_with_two_authenticators_choose_one(client):
    staff = StaffFactory()
    first = staff_device(staff)
    second = TOTPDevice.objects.create(user=staff, name="spare phone", confirmed=True)

    asked = sign_in(client, staff, otp_token=current_code(second))
    assert "choose the one you used" in " ".join(form_errors(asked))
    assert 'name="otp_device"' in asked.text and "spare phone" in asked.text

    response = sign_in(
        client, staff, otp_device=second.persistent_id, otp_token=current_code(second)
    )

    assert response.status_code == 302
    assert client.session[DEVICE_ID_SESSION_KEY] == second.persistent_id
    assert first.persistent_id != second.persistent_id


def test_another_staff_members_device_is_refused(client):
    staff, other = StaffFactory(), StaffFactory()
    staff_device(staff)
    theirs = staff_device(other)

    response = sign_in(
        client, staff, otp_device=theirs.persistent_id, otp_token=current_code(theirs)
    )

    assert response.status_code == 200
    assert sent_to_login(client.get("/admin/"))


def test_removing_the_device_ends_admin_access_at_once():
    staff = StaffFactory()
    client = otp_login(Client(), staff)
    assert client.get("/admin/").status_code == 200

    TOTPDevice.objects.filter(user=staff).delete()

    assert sent_to_login(client.get("/admin/"))


def test_an_unconfirmed_device_does_not_count():
    staff = StaffFactory()
    client = otp_login(Client(), staff)
    TOTPDevice.objects.filter(user=staff).update(confirmed=False)

    assert sent_to_login(client.get("/admin/"))


def test_development_may_relax_it_to_a_password(client, settings):
    settings.STAFF_2FA_REQUIRED = False
    staff = StaffFactory()

    login_page = client.get(reverse("admin:login"))
    assert "otp_token" not in login_page.text
    client.force_login(staff)

    assert client.get("/admin/").status_code == 200


def test_the_portal_sign_in_for_providers_is_unaffected(client):
    member = MembershipFactory().user
    EmailAddress.objects.create(user=member, email=member.email, verified=True, primary=True)

    response = client.post("/account/login/", {"login": member.email, "password": PASSWORD})

    assert response.status_code == 302
    assert client.get("/dashboard/").status_code == 200
    assert TOTPDevice.objects.count() == 0


def test_staff_signed_in_through_the_portal_still_need_a_code_for_the_admin(client):
    staff = StaffFactory()
    staff_device(staff)
    EmailAddress.objects.create(user=staff, email=staff.email, verified=True, primary=True)
    assert (
        client.post("/account/login/", {"login": staff.email, "password": PASSWORD}).status_code
        == 302
    )

    assert sent_to_login(client.get("/admin/"))


def test_is_verified_staff_is_the_admins_own_rule(settings):
    """For staff pages outside the admin: the same answer the admin site gives."""
    staff = StaffFactory()
    verified = otp_login(Client(), staff).get("/").wsgi_request.user
    password_only = Client()
    password_only.force_login(staff)
    unverified = password_only.get("/").wsgi_request.user
    member = otp_login(Client(), UserFactory()).get("/").wsgi_request.user

    assert is_verified_staff(verified)
    assert not is_verified_staff(unverified)
    assert not is_verified_staff(member)  # a device, but not staff
    settings.STAFF_2FA_REQUIRED = False
    assert is_verified_staff(unverified)
    assert not is_verified_staff(member)


# --- settings ---------------------------------------------------------------------------------

PROBE = (
    "import django, json; django.setup(); from django.conf import settings as s; "
    "print(json.dumps(s.STAFF_2FA_REQUIRED))"
)


@pytest.mark.parametrize(
    ("module", "extra_env", "required"),
    [
        ("config.settings.dev", {}, True),
        ("config.settings.dev", {"DJANGO_STAFF_2FA_REQUIRED": "false"}, False),
        ("config.settings.test", {"DJANGO_STAFF_2FA_REQUIRED": "false"}, True),
        ("config.settings.production", PRODUCTION_ENV, True),
        (
            "config.settings.production",
            PRODUCTION_ENV | {"DJANGO_STAFF_2FA_REQUIRED": "true"},
            True,
        ),
    ],
)
def test_only_development_can_relax_staff_2fa(module, extra_env, required):
    result = run_python(module, extra_env, "-c", PROBE)

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) is required


def test_production_refuses_to_boot_when_asked_to_relax_staff_2fa():
    env = PRODUCTION_ENV | {"DJANGO_STAFF_2FA_REQUIRED": "false"}

    result = run_python("config.settings.production", env, "-c", PROBE)

    assert result.returncode != 0
    assert "production always requires staff two-factor authentication" in result.stderr


# --- enrolment --------------------------------------------------------------------------------


def enrol(*args: str) -> str:
    out = StringIO()
    call_command("staff_totp_enrol", *args, stdout=out)
    return out.getvalue()


def test_enrolment_prints_a_secret_that_signs_in(client):
    staff = StaffFactory(email="pat.reviewer@usps.example")

    output = enrol("Pat.Reviewer@USPS.example")

    secret = re.search(r"secret \(base32\): ([A-Z2-7]+)", output).group(1)
    assert "otpauth://totp/Tracking%20Access%20Portal%3Apat.reviewer%40usps.example?" in output
    assert f"secret={secret}" in output
    device = TOTPDevice.objects.get(user=staff)
    assert device.confirmed
    entry = AuditEntry.objects.get(action="staff_totp_enrol")
    assert entry.extra == {"user_id": staff.pk, "replaced_devices": 0}
    assert secret not in json.dumps(entry.extra) + entry.reason
    code = f"{totp(base64.b32decode(secret)):06d}"
    assert sign_in(client, staff, otp_token=code).status_code == 302


def test_enrolment_refuses_who_is_not_staff_and_unknown_addresses():
    UserFactory(email="owner@provider.example")

    with pytest.raises(CommandError, match="is not staff"):
        enrol("owner@provider.example")
    with pytest.raises(CommandError, match="No account uses"):
        enrol("nobody@example.com")
    assert not TOTPDevice.objects.exists()


def test_enrolment_refuses_a_second_device_unless_replacing():
    staff = StaffFactory()
    old = staff_device(staff)

    with pytest.raises(CommandError, match="already has an authenticator"):
        enrol(staff.email)
    assert list(TOTPDevice.objects.filter(user=staff)) == [old]

    output = enrol(staff.email, "--replace")

    assert "Done" in output
    new = TOTPDevice.objects.get(user=staff)
    assert new.pk != old.pk and new.key != old.key
    assert AuditEntry.objects.get(action="staff_totp_enrol").extra["replaced_devices"] == 1


# --- Review findings: no 5xx, no password oracle, a limit on guessing ------------------------


@pytest.mark.parametrize(
    "tampered", ["auth.user/1", "contenttypes.contenttype/1", "x", "a.b/1", "otp_totp.totpdevice/x"]
)
def test_a_tampered_device_id_is_ignored_not_a_500(client, tampered):
    staff = StaffFactory()
    device = staff_device(staff)

    response = sign_in(client, staff, otp_device=tampered, otp_token=current_code(device))

    assert response.status_code == 302 and response.url == "/admin/"


def test_a_wrong_password_and_a_wrong_code_read_the_same(client):
    staff = StaffFactory()
    device = staff_device(staff)
    wrong_code = f"{(int(current_code(device)) + 1) % 1_000_000:06d}"

    bad_password = client.post(
        reverse("admin:login"),
        {"username": staff.email, "password": "wrong", "otp_token": current_code(device)},
    )
    bad_code = sign_in(Client(), staff, otp_token=wrong_code)

    assert form_errors(bad_password) == form_errors(bad_code)


def test_the_code_is_asked_for_before_the_password_is_checked(client):
    staff = StaffFactory()
    staff_device(staff)

    right = sign_in(client, staff)
    wrong = client.post(reverse("admin:login"), {"username": staff.email, "password": "wrong"})

    assert (
        form_errors(right)
        == form_errors(wrong)
        == ["Enter the 6-digit code from your authenticator app."]
    )


def test_repeated_failures_lock_the_sign_in_for_a_while(client):
    staff = StaffFactory()
    device = staff_device(staff)
    for _ in range(10):
        client.post(
            reverse("admin:login"),
            {"username": staff.email, "password": "wrong", "otp_token": "123456"},
        )

    response = sign_in(Client(), staff, otp_token=current_code(device))

    assert response.status_code == 200
    assert any("Too many failed sign-in attempts" in error for error in form_errors(response))

import importlib

import pytest
from django.apps import apps as django_apps
from django.contrib.auth import authenticate
from django.db import IntegrityError
from django.urls import reverse

from accounts.models import User
from tests.otp import current_code, staff_device

pytestmark = pytest.mark.django_db


def test_email_is_the_login_and_is_normalised():
    user = User.objects.create_user(email="Pat@Example.COM", password="a-long-passphrase")

    assert user.email == "pat@example.com"
    assert User.USERNAME_FIELD == "email"
    assert user.check_password("a-long-passphrase")


def test_email_is_unique_ignoring_case():
    User.objects.create_user(email="pat@example.com", password="x")
    User.objects.filter(email="pat@example.com").update(email="pat@example.com")

    with pytest.raises(IntegrityError):
        User.objects.bulk_create([User(email="PAT@example.com")])


def test_create_user_requires_an_email():
    with pytest.raises(ValueError, match="e-mail address is required"):
        User.objects.create_user(email="", password="x")


# --- E-mail addresses are stored lowercased, whichever path writes them (issue 6, defect 9).

PASSWORD = "a-long-passphrase-2026"


def _change_form_data(user: User, **overrides) -> dict:
    data = {
        "email": user.email,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "is_active": "on",
        "date_joined_0": "2026-01-01",
        "date_joined_1": "09:00:00",
        "last_login_0": "",
        "last_login_1": "",
    }
    data.update(overrides)
    return data


def test_a_user_added_in_the_admin_is_stored_lowercase_and_can_log_in(admin_client, client):
    response = admin_client.post(
        reverse("admin:accounts_user_add"),
        {"email": "  Mixed.Case@Example.com ", "password1": PASSWORD, "password2": PASSWORD},
    )

    assert response.status_code == 302, response.context["adminform"].form.errors
    user = User.objects.get(email__iexact="mixed.case@example.com")
    assert user.email == "mixed.case@example.com"
    assert client.login(email="mixed.case@example.com", password=PASSWORD)
    assert client.login(email="MIXED.CASE@example.COM", password=PASSWORD)


def test_the_admin_login_page_accepts_any_case(client):
    staff = User.objects.create_superuser(email="staff@example.com", password=PASSWORD)
    code = current_code(staff_device(staff))  # the admin asks for a second factor too

    response = client.post(
        reverse("admin:login"),
        {
            "username": "Staff@Example.COM",
            "password": PASSWORD,
            "otp_token": code,
            "next": reverse("admin:index"),
        },
    )

    assert response.status_code == 302
    assert response.url == reverse("admin:index")


def test_an_admin_change_to_a_mixed_case_address_is_stored_lowercase(admin_client):
    user = User.objects.create_user(email="pat@example.com", password=PASSWORD)

    response = admin_client.post(
        reverse("admin:accounts_user_change", args=[user.pk]),
        _change_form_data(user, email="Pat.New@Example.COM"),
    )

    assert response.status_code == 302, response.context["adminform"].form.errors
    user.refresh_from_db()
    assert user.email == "pat.new@example.com"


def test_the_admin_add_form_refuses_an_address_taken_in_another_case(admin_client):
    User.objects.create_user(email="taken@example.com", password=PASSWORD)

    response = admin_client.post(
        reverse("admin:accounts_user_add"),
        {"email": "Taken@Example.com", "password1": PASSWORD, "password2": PASSWORD},
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["email"] == [
        "A user with this e-mail address already exists."
    ]
    assert User.objects.filter(email__iexact="taken@example.com").count() == 1


def test_the_admin_change_form_refuses_an_address_taken_in_another_case(admin_client):
    User.objects.create_user(email="taken@example.com", password=PASSWORD)
    user = User.objects.create_user(email="pat@example.com", password=PASSWORD)

    response = admin_client.post(
        reverse("admin:accounts_user_change", args=[user.pk]),
        _change_form_data(user, email="TAKEN@example.com"),
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["email"] == [
        "A user with this e-mail address already exists."
    ]
    user.refresh_from_db()
    assert user.email == "pat@example.com"


def test_the_admin_change_form_keeps_the_users_own_address(admin_client):
    user = User.objects.create_user(email="pat@example.com", password=PASSWORD)

    response = admin_client.post(
        reverse("admin:accounts_user_change", args=[user.pk]),
        _change_form_data(user, email="PAT@example.com", first_name="Pat"),
    )

    assert response.status_code == 302, response.context["adminform"].form.errors
    user.refresh_from_db()
    assert (user.email, user.first_name) == ("pat@example.com", "Pat")


@pytest.mark.parametrize(
    "save",
    [
        lambda email: User(email=email).save(),
        lambda email: User.objects.create(email=email),
        lambda email: User.objects.create_user(email=email, password=PASSWORD),
        lambda email: User.objects.create_superuser(email=email, password=PASSWORD),
    ],
    ids=["save", "objects.create", "create_user", "create_superuser"],
)
def test_every_write_path_stores_the_address_lowercase(save):
    save(" X.Person@Y.Example.COM ")

    assert list(User.objects.values_list("email", flat=True)) == ["x.person@y.example.com"]


def test_clean_normalises_the_address():
    user = User(email=" Pat@Example.COM")

    user.clean()

    assert user.email == "pat@example.com"


def test_normalize_email_address():
    assert User.normalize_email_address("  Mixed.Case@Example.COM\n") == "mixed.case@example.com"
    assert User.normalize_email_address("") == ""


def test_login_lookup_ignores_case_even_for_a_row_stored_in_mixed_case():
    user = User.objects.create_user(email="pat@example.com", password=PASSWORD)
    # A row written before addresses were normalised (update() bypasses save()).
    User.objects.filter(pk=user.pk).update(email="Legacy.Pat@Example.com")

    assert User.objects.get_by_natural_key("legacy.pat@example.com") == user
    assert User.objects.get_by_natural_key("LEGACY.PAT@EXAMPLE.COM") == user
    assert authenticate(username="legacy.pat@example.com", password=PASSWORD) == user
    assert authenticate(email=" Legacy.Pat@example.com ", password=PASSWORD) == user


def test_the_data_migration_lowercases_existing_addresses():
    migration = importlib.import_module("accounts.migrations.0003_lowercase_user_emails")
    mixed = User.objects.create_user(email="one@example.com", password=PASSWORD)
    clean = User.objects.create_user(email="two@example.com", password=PASSWORD)
    User.objects.filter(pk=mixed.pk).update(email="One.Person@Example.COM")

    migration.lowercase_user_emails(django_apps, schema_editor=None)

    mixed.refresh_from_db()
    clean.refresh_from_db()
    assert (mixed.email, clean.email) == ("one.person@example.com", "two@example.com")

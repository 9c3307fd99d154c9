import pytest
from django.db import IntegrityError

from accounts.models import User

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

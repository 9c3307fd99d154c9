"""The portal shell: landing page, sign-up with e-mail verification, organisation, switcher."""

import re

import pytest
from django.urls import reverse

from accounts.constants import MembershipRole, ProviderStatus, ProviderType
from accounts.middleware import SESSION_KEY
from accounts.models import Membership, Provider, User
from core.models import AuditEntry
from tests.factories import MembershipFactory, ProviderFactory, UserFactory

pytestmark = pytest.mark.django_db

ORGANISATION = {
    "legal_name": "Parcel Insights LLC",
    "dba_name": "",
    "crid": "12345678",
    "provider_type": ProviderType.SERVICE_PROVIDER,
    "address_line1": "1 Main St",
    "address_line2": "",
    "city": "Springfield",
    "state": "IL",
    "zip_code": "62701",
    "contact_email": "ops@example.com",
    "contact_phone": "+1 217 555 0100",
    "submission": "f" * 32,
}


def test_the_landing_page_invites_people_in(client):
    response = client.get("/")
    assert response.status_code == 200
    assert reverse("account_signup") in response.content.decode()


def test_portal_pages_send_anonymous_people_to_sign_in(client):
    for url in ["/dashboard/", "/organisation/", "/organisation/new/"]:
        response = client.get(url)
        assert response.status_code == 302
        assert response.url.startswith(reverse("account_login"))


def test_sign_up_verify_and_form_an_organisation(client, mailoutbox):
    response = client.post(
        reverse("account_signup"),
        {
            "email": "New.Person@Example.com",
            "password1": "a-long-passphrase-1",
            "password2": "a-long-passphrase-1",
        },
    )
    assert response.status_code == 302
    user = User.objects.get()
    assert user.email == "new.person@example.com"
    # Mandatory verification: not signed in until the link from the e-mail is used.
    assert client.get("/dashboard/").status_code == 302
    link = re.search(r"https?://[^\s]+/account/confirm-email/[^\s]+", mailoutbox[0].body).group(0)
    path = link.split("testserver", 1)[1]
    assert client.post(path).status_code == 302

    response = client.get("/dashboard/", follow=True)
    assert response.redirect_chain[-1][0] == reverse("accounts:organisation_create")

    response = client.post(reverse("accounts:organisation_create"), ORGANISATION)
    assert response.status_code == 302
    provider = Provider.objects.get()
    assert provider.status == ProviderStatus.PENDING_REVIEW
    assert Membership.objects.get(provider=provider).user == user
    assert Membership.objects.get(provider=provider).role == MembershipRole.OWNER
    dashboard = client.get("/dashboard/").content.decode()
    assert "Parcel Insights LLC" in dashboard
    assert "postal staff are reviewing it" in dashboard


def test_bad_organisation_details_keep_what_was_typed_and_save_nothing(client):
    client.force_login(UserFactory())
    data = {**ORGANISATION, "crid": "12ab", "zip_code": "1234", "state": "Illinois"}

    response = client.post(reverse("accounts:organisation_create"), data)

    assert response.status_code == 200
    form = response.context["form"]
    assert set(form.errors) >= {"state"}
    page = response.content.decode()
    assert 'value="Parcel Insights LLC"' in page  # kept
    assert "usa-error-message" in page
    assert not Provider.objects.exists()
    assert not AuditEntry.objects.exists()


def test_the_services_field_errors_land_on_the_form(client):
    client.force_login(UserFactory())

    response = client.post(
        reverse("accounts:organisation_create"), {**ORGANISATION, "crid": "12ab"}
    )

    assert response.status_code == 200
    assert response.context["form"].errors["crid"] == ["A CRID is 2 to 18 digits."]
    assert not Provider.objects.exists()


def test_fullwidth_digits_in_the_crid_and_zip_code_are_refused_on_their_fields(client):
    client.force_login(UserFactory())

    response = client.post(
        reverse("accounts:organisation_create"),
        {**ORGANISATION, "crid": "１２３４５", "zip_code": "１２３４５"},
    )

    assert response.status_code == 200
    errors = response.context["form"].errors
    assert errors["crid"] == ["A CRID is 2 to 18 digits."]
    assert errors["zip_code"] == ["Use a ZIP code like 20260 or 20260-0004."]
    assert 'value="１２３４５"' in response.content.decode()  # kept as typed
    assert not Provider.objects.exists()


def test_a_double_submit_creates_one_organisation(client):
    client.force_login(UserFactory())

    first = client.post(reverse("accounts:organisation_create"), ORGANISATION)
    second = client.post(reverse("accounts:organisation_create"), ORGANISATION)

    assert first.status_code == second.status_code == 302
    assert Provider.objects.count() == 1


def test_the_switcher_acts_only_for_the_users_own_providers(client):
    user = UserFactory()
    mine = MembershipFactory(user=user, provider=ProviderFactory(legal_name="Alpha LLC")).provider
    other = MembershipFactory(user=user, provider=ProviderFactory(legal_name="Beta LLC")).provider
    stranger = ProviderFactory(legal_name="Gamma LLC")
    client.force_login(user)

    assert (
        client.post(reverse("accounts:switch_provider"), {"provider_id": other.pk}).status_code
        == 302
    )
    assert client.session[SESSION_KEY] == other.pk
    assert "Beta LLC" in client.get("/organisation/").content.decode()

    for bad in [stranger.pk, "abc", ""]:
        response = client.post(reverse("accounts:switch_provider"), {"provider_id": bad})
        assert response.status_code == 404
    assert client.session[SESSION_KEY] == other.pk
    assert client.get(reverse("accounts:switch_provider")).status_code == 405
    assert mine.pk != other.pk


def test_a_removed_membership_stops_acting_for_that_provider_at_the_next_request(client):
    user = UserFactory()
    kept = MembershipFactory(user=user, provider=ProviderFactory(legal_name="Alpha LLC"))
    removed = MembershipFactory(user=user, provider=ProviderFactory(legal_name="Zulu LLC"))
    client.force_login(user)
    client.post(reverse("accounts:switch_provider"), {"provider_id": removed.provider_id})

    removed.delete()

    response = client.get("/organisation/")
    assert response.context["portal"].provider == kept.provider
    assert "<h1>Alpha LLC</h1>" in response.content.decode()
    assert client.session[SESSION_KEY] == kept.provider_id


def test_a_suspended_provider_sees_why_on_the_organisation_page_and_dashboard(client):
    from accounts import services

    provider = ProviderFactory(legal_name="Parcel Insights LLC")
    services.provider_suspend(
        provider=provider, actor=None, reason="Audit of data use", cause="STAFF_ACTION"
    )
    client.force_login(MembershipFactory(provider=provider).user)

    for url in ("/organisation/", "/dashboard/"):
        page = client.get(url).content.decode()
        assert "Suspended: no tracking data is served" in page
        assert "was suspended by postal staff" in page and "Audit of data use" in page


def test_a_session_ends_after_the_configured_inactivity(client, settings):
    from datetime import timedelta

    from django.contrib.sessions.models import Session
    from django.utils import timezone

    assert settings.SESSION_SAVE_EVERY_REQUEST  # every request renews the idle timer
    membership = MembershipFactory()
    client.force_login(membership.user)
    assert client.get("/dashboard/").status_code == 200

    # The idle timeout elapses: the stored session's expiry passes.
    Session.objects.update(expire_date=timezone.now() - timedelta(seconds=1))

    response = client.get("/dashboard/")
    assert response.status_code == 302
    assert response.url.startswith(reverse("account_login"))


def test_password_reset_by_e_mail_and_password_change(client, mailoutbox):
    user = UserFactory(email="pat@example.com")
    from allauth.account.models import EmailAddress

    EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)

    client.post(reverse("account_reset_password"), {"email": "PAT@example.com"})
    link = re.search(r"http://testserver(/account/password/reset/key/\S+)", mailoutbox[0].body)
    form_page = client.get(link.group(1), follow=True)
    action = form_page.redirect_chain[-1][0] if form_page.redirect_chain else link.group(1)
    response = client.post(
        action, {"password1": "a-brand-new-passphrase", "password2": "a-brand-new-passphrase"}
    )
    assert response.status_code == 302
    assert client.login(email="pat@example.com", password="a-brand-new-passphrase")

    response = client.post(
        reverse("account_change_password"),
        {
            "oldpassword": "a-brand-new-passphrase",
            "password1": "yet-another-passphrase",
            "password2": "yet-another-passphrase",
        },
    )
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password("yet-another-passphrase")

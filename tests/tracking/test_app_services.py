"""API app services: create (the secret shown once), rotate with an overlap, revoke."""

from datetime import timedelta

import pytest
from django.contrib.auth.hashers import check_password
from django.utils import timezone
from oauth2_provider.models import AccessToken, Application

from core.errors import DomainError, InvalidTransition
from core.models import AuditEntry
from tests.factories import ProviderFactory, UserFactory
from tracking import credentials_cache
from tracking.constants import SCOPE_SUBSCRIPTIONS_TRACKING, SCOPE_TRACKING, ApiAppStatus
from tracking.credentials_cache import ApiCaller
from tracking.models import ApiApp
from tracking.services.apps import (
    MAX_ACTIVE_APPS_PER_PROVIDER,
    app_create,
    app_revoke,
    app_rotate_secret,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def provider():
    return ProviderFactory()


@pytest.fixture
def user():
    return UserFactory()


def audit_actions(app: ApiApp) -> list[str]:
    entries = AuditEntry.objects.filter(subject_id=app.pk, subject_type__model="apiapp")
    return list(entries.order_by("pk").values_list("action", flat=True))


# --- app_create


def test_create_returns_the_secret_once_and_stores_only_its_hash(provider, user):
    issued = app_create(provider=provider, name="  Warehouse   sync ", actor=user)

    app = ApiApp.objects.select_related("application").get(pk=issued.app.pk)
    assert app.name == "Warehouse sync"
    assert app.provider == provider
    assert app.scope == "tracking"
    assert app.status == ApiAppStatus.ACTIVE
    assert app.created_by == user
    assert app.client_id == issued.client_id
    assert app.application.client_secret != issued.client_secret
    assert check_password(issued.client_secret, app.application.client_secret)
    assert app.application.client_type == Application.CLIENT_CONFIDENTIAL
    assert app.application.authorization_grant_type == Application.GRANT_CLIENT_CREDENTIALS


def test_create_is_audited_with_the_client_id_and_scope(provider, user):
    issued = app_create(
        provider=provider,
        name="Hooks",
        actor=user,
        scopes=(SCOPE_TRACKING, SCOPE_SUBSCRIPTIONS_TRACKING),
    )

    entry = AuditEntry.objects.get(subject_id=issued.app.pk, action="api_app_create")
    assert entry.actor == user
    assert entry.provider_id == provider.pk
    assert entry.to_status == ApiAppStatus.ACTIVE
    assert entry.extra == {
        "client_id": issued.client_id,
        "scope": "tracking subscriptions-tracking",
    }
    assert issued.client_secret not in str(entry.extra)


@pytest.mark.parametrize("name", ["", "   ", "\t\n"])
def test_create_needs_a_name(provider, name):
    with pytest.raises(DomainError) as caught:
        app_create(provider=provider, name=name, actor=None)

    assert caught.value.field_errors == {"name": ["Give the app a name."]}
    assert not ApiApp.objects.exists()
    assert not Application.objects.exists()


def test_create_refuses_a_name_over_100_characters(provider):
    with pytest.raises(DomainError) as caught:
        app_create(provider=provider, name="x" * 101, actor=None)

    assert "name" in caught.value.field_errors
    assert not ApiApp.objects.exists()


def test_create_refuses_a_duplicate_active_name(provider):
    app_create(provider=provider, name="Warehouse sync", actor=None)

    with pytest.raises(DomainError) as caught:
        app_create(provider=provider, name="Warehouse  sync", actor=None)

    assert "already named" in caught.value.field_errors["name"][0]
    assert ApiApp.objects.count() == 1
    assert Application.objects.count() == 1


def test_a_revoked_apps_name_can_be_reused(provider):
    first = app_create(provider=provider, name="Warehouse sync", actor=None)
    app_revoke(app=first.app, actor=None)

    second = app_create(provider=provider, name="Warehouse sync", actor=None)

    assert second.app.pk != first.app.pk


def test_names_and_limits_are_per_provider(provider):
    other = ProviderFactory()
    for n in range(MAX_ACTIVE_APPS_PER_PROVIDER):
        app_create(provider=other, name=f"App {n}", actor=None)

    issued = app_create(provider=provider, name="App 0", actor=None)

    assert issued.app.provider == provider


def test_create_refuses_more_than_20_active_apps(provider):
    for n in range(MAX_ACTIVE_APPS_PER_PROVIDER):
        app_create(provider=provider, name=f"App {n}", actor=None)

    with pytest.raises(DomainError, match="at most 20 active apps"):
        app_create(provider=provider, name="One too many", actor=None)

    assert ApiApp.objects.filter(provider=provider).count() == MAX_ACTIVE_APPS_PER_PROVIDER
    assert Application.objects.count() == MAX_ACTIVE_APPS_PER_PROVIDER


def test_a_revoked_app_frees_its_place(provider):
    apps = [
        app_create(provider=provider, name=f"App {n}", actor=None)
        for n in range(MAX_ACTIVE_APPS_PER_PROVIDER)
    ]
    app_revoke(app=apps[0].app, actor=None)

    issued = app_create(provider=provider, name="Replacement", actor=None)

    assert issued.app.status == ApiAppStatus.ACTIVE


@pytest.mark.parametrize("scopes", [("tracking", "labels"), ("addresses",), ()])
def test_create_refuses_unknown_or_no_scopes(provider, scopes):
    with pytest.raises(DomainError) as caught:
        app_create(provider=provider, name="Scoped", actor=None, scopes=scopes)

    assert "scopes" in caught.value.field_errors
    assert not ApiApp.objects.exists()


# --- app_rotate_secret


def test_rotation_keeps_the_old_secret_hash_for_the_overlap(provider, user, settings):
    settings.API_SECRET_ROTATION_OVERLAP_HOURS = 2
    issued = app_create(provider=provider, name="Warehouse sync", actor=None)
    old_hash = Application.objects.get(pk=issued.app.application_id).client_secret
    before = timezone.now()

    rotated = app_rotate_secret(app=issued.app, actor=user)

    app = ApiApp.objects.select_related("application").get(pk=issued.app.pk)
    assert rotated.client_id == issued.client_id
    assert rotated.client_secret != issued.client_secret
    assert app.previous_secret == old_hash
    assert check_password(issued.client_secret, app.previous_secret)
    assert check_password(rotated.client_secret, app.application.client_secret)
    assert before + timedelta(hours=2) <= app.previous_secret_expires_at
    assert app.previous_secret_expires_at <= timezone.now() + timedelta(hours=2)
    assert app.secret_rotated_at is not None
    entry = AuditEntry.objects.get(subject_id=app.pk, action="api_app_rotate_secret")
    assert entry.actor == user
    assert entry.provider_id == provider.pk
    assert rotated.client_secret not in str(entry.extra)


def test_rotation_leaves_issued_tokens_working(provider):
    issued = app_create(provider=provider, name="Warehouse sync", actor=None)
    AccessToken.objects.create(
        application_id=issued.app.application_id,
        token="",
        token_checksum="a" * 64,
        expires=timezone.now() + timedelta(hours=1),
        scope="tracking",
    )

    app_rotate_secret(app=issued.app, actor=None)

    assert AccessToken.objects.filter(token_checksum="a" * 64).exists()


def test_a_revoked_app_cannot_be_rotated(provider):
    issued = app_create(provider=provider, name="Warehouse sync", actor=None)
    app_revoke(app=issued.app, actor=None)

    with pytest.raises(DomainError, match="revoked"):
        app_rotate_secret(app=issued.app, actor=None)

    assert audit_actions(issued.app) == ["api_app_create", "revoke_api_app"]


# --- app_revoke


def test_revoke_locks_the_app_out_and_deletes_its_tokens(provider, user):
    issued = app_create(provider=provider, name="Warehouse sync", actor=None)
    app_rotate_secret(app=issued.app, actor=None)
    checksum = "b" * 64
    AccessToken.objects.create(
        application_id=issued.app.application_id,
        token="",
        token_checksum=checksum,
        expires=timezone.now() + timedelta(hours=1),
        scope="tracking",
    )
    credentials_cache.put(
        checksum,
        ApiCaller(
            app_id=issued.app.pk,
            provider_id=provider.pk,
            client_id=issued.client_id,
            scopes=("tracking",),
            quota_per_hour=60,
            expires_at=(timezone.now() + timedelta(hours=1)).timestamp(),
        ),
        ttl=60,
    )

    app_revoke(app=issued.app, actor=user, reason="Key leaked in a public repository")

    app = ApiApp.objects.select_related("application").get(pk=issued.app.pk)
    assert app.status == ApiAppStatus.REVOKED
    assert app.revoked_at is not None
    assert (app.previous_secret, app.previous_secret_expires_at) == ("", None)
    assert not check_password(issued.client_secret, app.application.client_secret)
    assert not AccessToken.objects.filter(application_id=app.application_id).exists()
    assert credentials_cache.get(checksum) is None
    entry = AuditEntry.objects.get(subject_id=app.pk, action="revoke_api_app")
    assert (entry.from_status, entry.to_status) == (ApiAppStatus.ACTIVE, ApiAppStatus.REVOKED)
    assert entry.actor == user
    assert entry.provider_id == provider.pk
    assert entry.reason == "Key leaked in a public repository"


def test_revoke_leaves_other_apps_tokens_alone(provider):
    mine = app_create(provider=provider, name="Mine", actor=None)
    other = app_create(provider=ProviderFactory(), name="Theirs", actor=None)
    AccessToken.objects.create(
        application_id=other.app.application_id,
        token="",
        token_checksum="c" * 64,
        expires=timezone.now() + timedelta(hours=1),
        scope="tracking",
    )

    app_revoke(app=mine.app, actor=None)

    assert AccessToken.objects.filter(token_checksum="c" * 64).exists()
    other.app.refresh_from_db()
    assert other.app.status == ApiAppStatus.ACTIVE


def test_revoking_twice_is_refused_and_changes_nothing(provider):
    issued = app_create(provider=provider, name="Warehouse sync", actor=None)
    app_revoke(app=issued.app, actor=None)
    revoked_at = ApiApp.objects.get(pk=issued.app.pk).revoked_at

    with pytest.raises(InvalidTransition):
        app_revoke(app=issued.app, actor=None)

    assert ApiApp.objects.get(pk=issued.app.pk).revoked_at == revoked_at
    assert audit_actions(issued.app) == ["api_app_create", "revoke_api_app"]


def test_revoke_fails_whole_when_the_token_cache_cannot_be_cleared(provider, monkeypatch):
    issued = app_create(provider=provider, name="Warehouse sync", actor=None)
    AccessToken.objects.create(
        application_id=issued.app.application_id,
        token="",
        token_checksum="d" * 64,
        expires=timezone.now() + timedelta(hours=1),
        scope="tracking",
    )

    def unreachable(checksums):
        raise ConnectionError("redis down")

    monkeypatch.setattr(credentials_cache, "forget_tokens", unreachable)

    with pytest.raises(ConnectionError):
        app_revoke(app=issued.app, actor=None)

    assert ApiApp.objects.get(pk=issued.app.pk).status == ApiAppStatus.ACTIVE
    assert AccessToken.objects.filter(token_checksum="d" * 64).exists()
    assert audit_actions(issued.app) == ["api_app_create"]


def test_a_closed_organisation_cannot_create_apps(provider):
    provider.status = "CLOSED"
    provider.save(update_fields=["status"])

    with pytest.raises(DomainError, match="closed"):
        app_create(provider=provider, name="Late", actor=None)

    assert not ApiApp.objects.filter(provider=provider).exists()

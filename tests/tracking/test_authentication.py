"""Bearer authentication and the scope permission of the tracking API (tracking.authentication),
through throwaway views (tests/tracking/oauth_test_urls.py) and real tokens from the endpoint."""

import json
from datetime import timedelta
from unittest import mock
from urllib.parse import urlencode

import pytest
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone
from oauth2_provider.models import AccessToken

from tests.factories import ProviderFactory
from tracking import credentials_cache
from tracking.authentication import ApiUser, InsufficientScope
from tracking.constants import SCOPE_SUBSCRIPTIONS_TRACKING, SCOPE_TRACKING
from tracking.credentials_cache import ApiCaller
from tracking.models import ApiApp, ProviderApiQuota
from tracking.services.apps import app_create

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.tracking.oauth_test_urls")]

PROBE = "/probe"
CHALLENGE = 'Bearer realm="tracking"'
REFUSED = 'Bearer realm="tracking", error="invalid_token"'


def issue_token(client, issued, scope: str | None = None) -> str:
    data = {
        "grant_type": "client_credentials",
        "client_id": issued.client_id,
        "client_secret": issued.client_secret,
    }
    if scope is not None:
        data["scope"] = scope
    response = client.post(
        "/oauth2/v3/token", urlencode(data), content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 200, response.content
    return response.json()["access_token"]


def probe(client, authorization: str | None, path: str = PROBE):
    headers = {"Authorization": authorization} if authorization is not None else {}
    return client.get(path, headers=headers)


@pytest.fixture
def provider():
    return ProviderFactory()


@pytest.fixture
def issued(provider):
    return app_create(provider=provider, name="Warehouse sync", actor=None)


@pytest.fixture
def token(client, issued):
    return issue_token(client, issued)


def test_a_valid_token_authenticates_the_app_and_its_provider(client, issued, provider, token):
    response = probe(client, f"Bearer {token}")

    assert response.status_code == 200, response.content
    assert response.json() == {
        "app_id": issued.app.pk,
        "provider_id": provider.pk,
        "client_id": issued.client_id,
        "scopes": ["tracking"],
        "quota_per_hour": 60,
        "user": f"API app {issued.client_id}",
        "user_pk": None,
        "user_is_staff": False,
        "user_is_authenticated": True,
    }


def test_each_token_is_its_own_apps_and_providers(client, issued, token):
    other_provider = ProviderFactory()
    other = app_create(provider=other_provider, name="Warehouse sync", actor=None)
    other_token = issue_token(client, other)

    mine = probe(client, f"Bearer {token}").json()
    theirs = probe(client, f"Bearer {other_token}").json()

    assert (mine["app_id"], mine["provider_id"]) == (issued.app.pk, issued.app.provider_id)
    assert (theirs["app_id"], theirs["provider_id"]) == (other.app.pk, other_provider.pk)


def test_the_scheme_name_is_case_insensitive(client, token):
    assert probe(client, f"bearer {token}").status_code == 200


def test_the_providers_quota_comes_with_the_caller(client, provider, token):
    ProviderApiQuota.objects.create(provider=provider, calls_per_hour=100_000)

    assert probe(client, f"Bearer {token}").json()["quota_per_hour"] == 100_000


def test_the_default_quota_follows_the_setting(client, token, settings):
    settings.API_DEFAULT_QUOTA_PER_HOUR = 7

    assert probe(client, f"Bearer {token}").json()["quota_per_hour"] == 7


def test_a_cold_token_costs_one_query_and_a_warm_one_none(client, token, django_assert_num_queries):
    with django_assert_num_queries(1):
        assert probe(client, f"Bearer {token}").status_code == 200
    with django_assert_num_queries(0):
        assert probe(client, f"Bearer {token}").status_code == 200


def test_the_cached_entry_lives_no_longer_than_the_setting(client, token, settings):
    settings.API_TOKEN_CACHE_SECONDS = 30
    probe(client, f"Bearer {token}")

    key = cache.make_and_validate_key(f"api:token:{credentials_cache.token_checksum(token)}")
    ttl = cache._cache.get_client(key).ttl(key)
    assert 0 < ttl <= 30


def test_the_cached_entry_lives_no_longer_than_the_token(client, token):
    AccessToken.objects.update(expires=timezone.now() + timedelta(seconds=5))
    probe(client, f"Bearer {token}")

    key = cache.make_and_validate_key(f"api:token:{credentials_cache.token_checksum(token)}")
    assert 0 < cache._cache.get_client(key).ttl(key) <= 5


def test_when_the_cache_is_unreachable_the_database_answers(client, token):
    with (
        mock.patch.object(cache, "get", side_effect=ConnectionError("redis down")),
        mock.patch.object(cache, "set", side_effect=ConnectionError("redis down")),
    ):
        response = probe(client, f"Bearer {token}")

    assert response.status_code == 200


def test_a_cache_entry_of_another_shape_is_read_again_from_the_database(client, issued, token):
    checksum = credentials_cache.token_checksum(token)
    cache.set(f"api:token:{checksum}", {"app_id": 1, "renamed_field": 2}, 60)
    assert credentials_cache.get(checksum) is None

    assert probe(client, f"Bearer {token}").status_code == 200
    assert credentials_cache.get(checksum).app_id == issued.app.pk


# --- Refusals: every 401 carries the bearer challenge


def test_no_authorization_header_is_401_with_the_challenge(client):
    response = probe(client, None)

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == CHALLENGE


def test_another_scheme_is_not_authenticated(client, issued):
    response = probe(client, "Basic " + "eDp5")

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == CHALLENGE


@pytest.mark.parametrize(
    ("authorization", "detail"),
    [
        ("Bearer", "no access token given"),
        ("Bearer two words", "must not contain spaces"),
        ('Bearer bad"quote', "malformed"),
        ("Bearer " + "a" * 513, "malformed"),
        ("Bearer never-issued-token", "invalid or has been revoked"),
    ],
)
def test_a_refused_token_is_401_invalid_token(client, token, authorization, detail):
    response = probe(client, authorization)

    assert response.status_code == 401
    assert detail in response.json()["detail"]
    assert response["WWW-Authenticate"] == REFUSED


def test_a_non_ascii_token_is_malformed(client):
    response = client.get(PROBE, HTTP_AUTHORIZATION="Bearer t\u00f6ken")

    assert response.status_code == 401
    assert "malformed" in response.json()["detail"]


def test_an_expired_token_is_refused(client, token):
    AccessToken.objects.update(expires=timezone.now() - timedelta(seconds=1))

    response = probe(client, f"Bearer {token}")

    assert response.status_code == 401
    assert response.json()["detail"] == "The access token is expired."
    assert credentials_cache.get(credentials_cache.token_checksum(token)) is None


def test_a_cached_token_is_refused_once_it_expires(client, token, django_assert_num_queries):
    assert probe(client, f"Bearer {token}").status_code == 200
    expires_at = AccessToken.objects.get().expires.timestamp()

    with (
        mock.patch("tracking.authentication.time.time", return_value=expires_at + 1),
        django_assert_num_queries(0),
    ):
        response = probe(client, f"Bearer {token}")

    assert response.status_code == 401
    assert response.json()["detail"] == "The access token is expired."


def test_a_token_of_a_revoked_app_is_refused(client, issued, token):
    # Set directly, not through app_revoke (which deletes the tokens): the status alone
    # must refuse them.
    ApiApp.objects.filter(pk=issued.app.pk).update(status="REVOKED")

    response = probe(client, f"Bearer {token}")

    assert response.status_code == 401
    assert "revoked" in response.json()["detail"]


def test_a_token_of_an_application_that_is_no_api_app_is_refused(client, issued, token):
    ApiApp.objects.filter(pk=issued.app.pk).update(status="REVOKED")
    AccessToken.objects.update(application=None)

    response = probe(client, f"Bearer {token}")

    assert response.status_code == 401
    assert "invalid" in response.json()["detail"]


# --- Scopes


def test_a_token_without_the_required_scope_is_401_insufficient_scope(client, provider):
    hooks = app_create(
        provider=provider, name="Hooks", actor=None, scopes=(SCOPE_SUBSCRIPTIONS_TRACKING,)
    )
    token = issue_token(client, hooks)

    response = probe(client, f"Bearer {token}")

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == (
        'Bearer realm="tracking", error="insufficient_scope", scope="tracking"'
    )
    assert "tracking scope" in response.json()["detail"]
    assert probe(client, f"Bearer {token}", "/probe/subscriptions").status_code == 200


def test_a_token_granted_fewer_scopes_than_the_app_holds_has_only_those(client, provider):
    both = app_create(
        provider=provider,
        name="Both",
        actor=None,
        scopes=(SCOPE_TRACKING, SCOPE_SUBSCRIPTIONS_TRACKING),
    )
    token = issue_token(client, both, scope="subscriptions-tracking")

    assert probe(client, f"Bearer {token}").status_code == 401
    assert probe(client, f"Bearer {token}", "/probe/subscriptions").status_code == 200


def test_the_insufficient_scope_exception_carries_its_challenge():
    exc = InsufficientScope(["tracking"])

    assert exc.status_code == 401
    assert exc.get_codes() == "insufficient_scope"
    assert exc.required_scopes == ("tracking",)
    assert exc.www_authenticate == (
        'Bearer realm="tracking", error="insufficient_scope", scope="tracking"'
    )


def test_a_view_without_required_scopes_is_a_configuration_error(client, token):
    with pytest.raises(ImproperlyConfigured, match="required_scopes"):
        probe(client, f"Bearer {token}", "/probe/unscoped")


def test_the_api_user_is_no_person():
    caller = ApiCaller(
        app_id=1,
        provider_id=2,
        client_id="abc",
        scopes=("tracking",),
        quota_per_hour=60,
        expires_at=0.0,
    )
    user = ApiUser(caller)

    assert user.is_authenticated and not user.is_anonymous
    assert (user.pk, user.is_staff, user.is_superuser) == (None, False, False)
    assert not user.has_perm("tracking.view_mailpiece")
    assert not user.has_module_perms("tracking")
    assert json.dumps(str(user)) == '"API app abc"'


def test_a_token_cached_again_after_its_revocation_is_not_served(db):
    from tracking.credentials_cache import ApiCaller, get, put, revoke_tokens, token_checksum

    checksum = token_checksum("late-writer")
    caller = ApiCaller(
        app_id=1,
        provider_id=1,
        client_id="c",
        scopes=("tracking",),
        quota_per_hour=60,
        expires_at=4_102_444_800.0,
    )
    revoke_tokens([checksum])
    # A request that read the row before the revocation committed caches it afterwards.
    put(checksum, caller, ttl=60)

    assert get(checksum) is None

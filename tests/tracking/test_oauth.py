"""POST /oauth2/v3/token and /oauth2/v3/revoke: USPS's oauth2/v3 on django-oauth-toolkit."""

import base64
import hashlib
import json
import time
from datetime import timedelta
from urllib.parse import urlencode

import pytest
from django.contrib.auth.hashers import make_password
from django.test import Client
from django.utils import timezone
from oauth2_provider.models import AccessToken, Application

from tests.factories import ProviderFactory
from tracking import credentials_cache
from tracking.constants import SCOPE_SUBSCRIPTIONS_TRACKING, SCOPE_TRACKING
from tracking.models import ApiApp
from tracking.services.apps import app_create, app_revoke, app_rotate_secret

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.tracking.oauth_test_urls")]

TOKEN_URL = "/oauth2/v3/token"
REVOKE_URL = "/oauth2/v3/revoke"
FORM = "application/x-www-form-urlencoded"
JSON = "application/json"


def post_form(client: Client, url: str, data: dict, **kwargs):
    return client.post(url, urlencode(data), content_type=FORM, **kwargs)


def post_json(client: Client, url: str, data, **kwargs):
    return client.post(url, json.dumps(data), content_type=JSON, **kwargs)


def basic(client_id: str, secret: str) -> dict:
    pair = f"{client_id}:{secret}".encode()
    return {"Authorization": "Basic " + base64.b64encode(pair).decode()}


def credentials(issued, **extra) -> dict:
    return {
        "grant_type": "client_credentials",
        "client_id": issued.client_id,
        "client_secret": issued.client_secret,
        **extra,
    }


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def provider():
    return ProviderFactory()


@pytest.fixture
def issued(provider):
    return app_create(provider=provider, name="Warehouse sync", actor=None)


@pytest.fixture
def both_scopes(provider):
    return app_create(
        provider=provider,
        name="Hooks and tracking",
        actor=None,
        scopes=(SCOPE_TRACKING, SCOPE_SUBSCRIPTIONS_TRACKING),
    )


def assert_oauth_error(response, status: int, error: str) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == JSON
    body = response.json()
    assert set(body) == {"error", "error_description"}
    assert body["error"] == error
    assert body["error_description"]
    return body


# --- Issuing tokens


@pytest.mark.parametrize("post", [post_form, post_json], ids=["form", "json"])
def test_a_token_is_issued_for_a_form_or_a_json_body(client, issued, post):
    before = int(time.time() * 1000)
    response = post(client, TOKEN_URL, credentials(issued))
    after = time.time() * 1000

    assert response.status_code == 200, response.content
    assert response["Content-Type"] == JSON
    assert response["Cache-Control"] == "no-store"
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 28799
    assert body["scope"] == "tracking"
    assert isinstance(body["issued_at"], int)
    assert before <= body["issued_at"] <= after
    assert body["client_id"] == issued.client_id
    assert body["status"] == "approved"
    assert body["issuer"] == "testserver"
    assert body["application_name"] == "Warehouse sync"
    token = AccessToken.objects.get(application__api_app=issued.app)
    assert token.scope == "tracking"
    assert token.user is None


def test_the_token_is_stored_only_as_a_checksum(client, issued):
    access_token = post_form(client, TOKEN_URL, credentials(issued)).json()["access_token"]

    row = AccessToken.objects.get(application__api_app=issued.app)
    assert row.token == ""
    assert row.token_checksum == hashlib.sha256(access_token.encode()).hexdigest()
    assert not AccessToken.objects.filter(token=access_token).exists()


def test_issuing_a_token_records_when_the_app_was_last_used(client, issued):
    before = timezone.now()
    post_form(client, TOKEN_URL, credentials(issued))

    issued.app.refresh_from_db()
    assert issued.app.last_used_at is not None
    assert before <= issued.app.last_used_at <= timezone.now()


def test_the_token_expiry_matches_expires_in(client, issued):
    before = timezone.now()
    post_form(client, TOKEN_URL, credentials(issued))
    after = timezone.now()

    expires = AccessToken.objects.get(application__api_app=issued.app).expires
    assert before + timedelta(seconds=28799) <= expires <= after + timedelta(seconds=28799)


def test_expires_in_follows_the_setting(client, issued, settings):
    settings.OAUTH2_PROVIDER = {**settings.OAUTH2_PROVIDER, "ACCESS_TOKEN_EXPIRE_SECONDS": 600}
    before = timezone.now()

    response = post_form(client, TOKEN_URL, credentials(issued))

    assert response.json()["expires_in"] == 600
    expires = AccessToken.objects.get(application__api_app=issued.app).expires
    assert before + timedelta(seconds=600) <= expires <= timezone.now() + timedelta(seconds=600)


def test_http_basic_client_authentication(client, issued):
    response = post_form(
        client,
        TOKEN_URL,
        {"grant_type": "client_credentials"},
        headers=basic(issued.client_id, issued.client_secret),
    )

    assert response.status_code == 200, response.content
    assert response.json()["client_id"] == issued.client_id


def test_the_basic_scheme_name_is_case_insensitive(client, issued):
    headers = basic(issued.client_id, issued.client_secret)
    headers["Authorization"] = headers["Authorization"].replace("Basic", "basic")

    response = post_json(client, TOKEN_URL, {"grant_type": "client_credentials"}, headers=headers)

    assert response.status_code == 200, response.content


def test_the_token_endpoint_needs_no_csrf_token(issued):
    client = Client(enforce_csrf_checks=True)

    response = post_form(client, TOKEN_URL, credentials(issued))

    assert response.status_code == 200


def test_a_token_request_costs_a_handful_of_queries(client, issued, django_assert_max_num_queries):
    # The application and its app in one query, the token insert, the last-used update, and
    # the savepoint around the insert.
    with django_assert_max_num_queries(5):
        response = post_form(client, TOKEN_URL, credentials(issued))
    assert response.status_code == 200


# --- Refusals


def test_a_wrong_secret_in_the_body_is_invalid_client(client, issued):
    response = post_form(client, TOKEN_URL, credentials(issued, client_secret="not-it"))

    assert_oauth_error(response, 401, "invalid_client")
    assert response["WWW-Authenticate"].startswith("Basic ")
    assert not AccessToken.objects.exists()


def test_a_wrong_secret_by_basic_auth_is_401_with_a_basic_challenge(client, issued):
    response = post_form(
        client,
        TOKEN_URL,
        {"grant_type": "client_credentials"},
        headers=basic(issued.client_id, "not-it"),
    )

    assert_oauth_error(response, 401, "invalid_client")
    assert response["WWW-Authenticate"] == 'Basic realm="oauth2", charset="UTF-8"'
    assert not AccessToken.objects.exists()


@pytest.mark.parametrize("header", ["Basic", "Basic !!!notbase64", "Basic bm9jb2xvbg=="])
def test_a_malformed_basic_header_is_invalid_client(client, issued, header):
    response = post_form(
        client, TOKEN_URL, {"grant_type": "client_credentials"}, headers={"Authorization": header}
    )

    assert_oauth_error(response, 401, "invalid_client")


def test_basic_auth_and_a_body_naming_another_client_authenticate_neither(client, issued, provider):
    other = app_create(provider=provider, name="Other", actor=None)

    response = post_form(
        client,
        TOKEN_URL,
        {"grant_type": "client_credentials", "client_id": other.client_id},
        headers=basic(issued.client_id, issued.client_secret),
    )

    assert_oauth_error(response, 401, "invalid_client")


def test_an_unknown_client_is_invalid_client(client, issued):
    response = post_json(client, TOKEN_URL, credentials(issued, client_id="no-such-client"))

    assert_oauth_error(response, 401, "invalid_client")


def test_a_client_id_without_a_secret_is_invalid_client(client, issued):
    data = credentials(issued)
    del data["client_secret"]

    response = post_form(client, TOKEN_URL, data)

    assert_oauth_error(response, 401, "invalid_client")


def test_a_revoked_app_cannot_get_a_token(client, issued):
    app_revoke(app=issued.app, actor=None)

    response = post_form(client, TOKEN_URL, credentials(issued))

    assert_oauth_error(response, 401, "invalid_client")
    assert not AccessToken.objects.exists()


def test_a_revoked_app_is_refused_even_if_its_secret_still_matched(client, issued):
    # app_revoke also replaces the secret; the status alone must already lock the app out.
    ApiApp.objects.filter(pk=issued.app.pk).update(status="REVOKED")

    response = post_form(client, TOKEN_URL, credentials(issued))

    assert_oauth_error(response, 401, "invalid_client")


def test_an_oauth_application_that_is_no_api_app_cannot_get_a_token(client):
    Application.objects.create(
        client_id="bare-client",
        client_secret="bare-secret",
        client_type=Application.CLIENT_CONFIDENTIAL,
        authorization_grant_type=Application.GRANT_CLIENT_CREDENTIALS,
        name="Not an API app",
    )

    response = post_form(
        client,
        TOKEN_URL,
        {
            "grant_type": "client_credentials",
            "client_id": "bare-client",
            "client_secret": "bare-secret",
        },
    )

    assert_oauth_error(response, 401, "invalid_client")


def test_a_missing_grant_type_is_invalid_request(client, issued):
    data = credentials(issued)
    del data["grant_type"]

    response = post_form(client, TOKEN_URL, data)

    body = assert_oauth_error(response, 400, "invalid_request")
    assert "grant type" in body["error_description"]


@pytest.mark.parametrize("grant_type", ["password", "authorization_code", "refresh_token", "x"])
def test_other_grant_types_are_unsupported(client, issued, grant_type):
    response = post_form(client, TOKEN_URL, credentials(issued, grant_type=grant_type))

    body = assert_oauth_error(response, 400, "unsupported_grant_type")
    assert "client_credentials" in body["error_description"]
    assert not AccessToken.objects.exists()


def test_parameters_in_the_query_string_are_refused(client, issued):
    response = post_form(client, f"{TOKEN_URL}?client_secret=leaked", credentials(issued))

    assert_oauth_error(response, 400, "invalid_request")
    assert not AccessToken.objects.exists()


@pytest.mark.parametrize(
    "content_type", ["text/plain", "multipart/form-data; boundary=xyz", "application/xml", ""]
)
def test_other_content_types_are_invalid_request_naming_the_two_accepted(
    client, issued, content_type
):
    response = client.post(TOKEN_URL, urlencode(credentials(issued)), content_type=content_type)

    body = assert_oauth_error(response, 400, "invalid_request")
    assert FORM in body["error_description"]
    assert JSON in body["error_description"]


def test_a_content_type_with_a_charset_is_accepted(client, issued):
    response = client.post(
        TOKEN_URL, json.dumps(credentials(issued)), content_type="application/json; charset=utf-8"
    )

    assert response.status_code == 200, response.content


@pytest.mark.parametrize(
    ("body", "description"),
    [
        ("{not json", "not valid JSON"),
        ('["client_credentials"]', "must be an object"),
        ('"grant_type=client_credentials"', "must be an object"),
        ('{"grant_type": "client_credentials", "client_id": 12}', "client_id parameter"),
        ('{"grant_type": "client_credentials", "scope": ["tracking"]}', "must be a string"),
        ('{"grant_type": "client_credentials", "scope": null}', "must be a string"),
        ('{"grant_type": "client_credentials", "client_id": "a\\u0000b"}', "NUL"),
    ],
)
def test_a_json_body_must_be_an_object_of_strings(client, body, description):
    response = client.post(TOKEN_URL, body, content_type=JSON)

    error = assert_oauth_error(response, 400, "invalid_request")
    assert description in error["error_description"]


@pytest.mark.parametrize("content_type", [JSON, FORM, ""])
def test_an_empty_body_is_answered_as_missing_parameters(client, content_type):
    response = client.post(TOKEN_URL, b"", content_type=content_type)

    body = assert_oauth_error(response, 400, "invalid_request")
    assert "grant type" in body["error_description"]


def test_a_repeated_form_parameter_is_invalid_request(client, issued):
    body = urlencode(credentials(issued)) + "&scope=tracking&scope=labels"

    response = client.post(TOKEN_URL, body, content_type=FORM)

    error = assert_oauth_error(response, 400, "invalid_request")
    assert "scope parameter is given more than once" in error["error_description"]


def test_get_is_not_allowed(client):
    response = client.get(TOKEN_URL)

    assert_oauth_error(response, 405, "invalid_request")
    assert "POST" in response["Allow"]


# --- Scopes


def test_only_the_scopes_the_app_holds_are_granted(client, issued):
    response = post_form(
        client, TOKEN_URL, credentials(issued, scope="addresses tracking labels prices")
    )

    assert response.status_code == 200, response.content
    assert response.json()["scope"] == "tracking"
    assert AccessToken.objects.get().scope == "tracking"


def test_granted_scopes_keep_the_order_they_were_asked_in(client, both_scopes):
    response = post_json(
        client,
        TOKEN_URL,
        credentials(both_scopes, scope="labels subscriptions-tracking prices tracking tracking"),
    )

    assert response.json()["scope"] == "subscriptions-tracking tracking"


@pytest.mark.parametrize("scope", [None, ""])
def test_no_scope_asked_is_the_apps_default(client, both_scopes, scope):
    data = credentials(both_scopes) if scope is None else credentials(both_scopes, scope=scope)

    response = post_form(client, TOKEN_URL, data)

    assert response.json()["scope"] == "tracking subscriptions-tracking"


def test_only_scopes_the_app_lacks_is_invalid_scope(client, issued):
    response = post_form(client, TOKEN_URL, credentials(issued, scope="addresses labels"))

    body = assert_oauth_error(response, 400, "invalid_scope")
    assert "tracking" in body["error_description"]
    assert not AccessToken.objects.exists()


def test_a_scope_of_another_app_of_ours_is_not_granted(client, issued):
    response = post_form(client, TOKEN_URL, credentials(issued, scope="subscriptions-tracking"))

    assert_oauth_error(response, 400, "invalid_scope")


# --- Secret rotation


def test_both_secrets_work_during_the_rotation_overlap(client, issued):
    rotated = app_rotate_secret(app=issued.app, actor=None)

    new = post_form(client, TOKEN_URL, credentials(rotated))
    old_in_body = post_form(client, TOKEN_URL, credentials(issued))
    old_by_basic = post_form(
        client,
        TOKEN_URL,
        {"grant_type": "client_credentials"},
        headers=basic(issued.client_id, issued.client_secret),
    )

    assert rotated.client_secret != issued.client_secret
    assert (new.status_code, old_in_body.status_code, old_by_basic.status_code) == (200, 200, 200)


def test_the_old_secret_stops_when_the_overlap_ends(client, issued):
    rotated = app_rotate_secret(app=issued.app, actor=None)
    ApiApp.objects.filter(pk=issued.app.pk).update(
        previous_secret_expires_at=timezone.now() - timedelta(seconds=1)
    )

    old_in_body = post_form(client, TOKEN_URL, credentials(issued))
    old_by_basic = post_form(
        client,
        TOKEN_URL,
        {"grant_type": "client_credentials"},
        headers=basic(issued.client_id, issued.client_secret),
    )

    assert_oauth_error(old_in_body, 401, "invalid_client")
    assert_oauth_error(old_by_basic, 401, "invalid_client")
    assert post_form(client, TOKEN_URL, credentials(rotated)).status_code == 200


def test_a_second_rotation_ends_the_first_overlap(client, issued):
    second = app_rotate_secret(app=issued.app, actor=None)
    third = app_rotate_secret(app=issued.app, actor=None)

    assert_oauth_error(post_form(client, TOKEN_URL, credentials(issued)), 401, "invalid_client")
    assert post_form(client, TOKEN_URL, credentials(second)).status_code == 200
    assert post_form(client, TOKEN_URL, credentials(third)).status_code == 200


def test_a_previous_secret_that_is_no_hash_never_matches(client, issued):
    # Defence in depth: only a password hash is ever compared, never a clear value.
    ApiApp.objects.filter(pk=issued.app.pk).update(
        previous_secret="plain-old-secret",
        previous_secret_expires_at=timezone.now() + timedelta(hours=1),
    )

    response = post_form(client, TOKEN_URL, credentials(issued, client_secret="plain-old-secret"))

    assert_oauth_error(response, 401, "invalid_client")


def test_a_previous_secret_hash_is_checked(client, issued):
    ApiApp.objects.filter(pk=issued.app.pk).update(
        previous_secret=make_password("an-older-secret"),
        previous_secret_expires_at=timezone.now() + timedelta(hours=1),
    )

    response = post_form(client, TOKEN_URL, credentials(issued, client_secret="an-older-secret"))

    assert response.status_code == 200


# --- Revocation


def issue(client: Client, issued) -> str:
    response = post_form(client, TOKEN_URL, credentials(issued))
    assert response.status_code == 200, response.content
    return response.json()["access_token"]


@pytest.mark.parametrize("post", [post_form, post_json], ids=["form", "json"])
def test_revoking_a_token_stops_it_at_once_even_when_cached(client, issued, post):
    token = issue(client, issued)
    assert client.get("/probe", headers=bearer(token)).status_code == 200
    checksum = credentials_cache.token_checksum(token)
    assert credentials_cache.get(checksum) is not None

    response = post(
        client,
        REVOKE_URL,
        {
            "token": token,
            "token_type_hint": "access_token",
            "client_id": issued.client_id,
            "client_secret": issued.client_secret,
        },
    )

    assert response.status_code == 200
    assert response.content == b""
    assert not AccessToken.objects.exists()
    assert credentials_cache.get(checksum) is None
    assert client.get("/probe", headers=bearer(token)).status_code == 401


def test_revoking_with_basic_auth_and_usps_default_hint(client, issued):
    token = issue(client, issued)

    response = post_form(
        client,
        REVOKE_URL,
        {"token": token, "token_type_hint": "refresh_token"},
        headers=basic(issued.client_id, issued.client_secret),
    )

    assert response.status_code == 200
    assert not AccessToken.objects.exists()


def test_revoking_an_unknown_token_answers_200(client, issued):
    issue(client, issued)

    response = post_form(
        client, REVOKE_URL, {"token": "never-issued"}, headers=basic(issued.client_id, "x")
    )
    assert_oauth_error(response, 401, "invalid_client")

    response = post_form(
        client,
        REVOKE_URL,
        {"token": "never-issued"},
        headers=basic(issued.client_id, issued.client_secret),
    )
    assert response.status_code == 200
    assert AccessToken.objects.count() == 1


def test_a_client_cannot_revoke_another_clients_token(client, issued, provider):
    other = app_create(provider=ProviderFactory(), name="Someone else", actor=None)
    token = issue(client, issued)

    response = post_form(
        client,
        REVOKE_URL,
        {"token": token},
        headers=basic(other.client_id, other.client_secret),
    )

    assert response.status_code == 200
    assert AccessToken.objects.count() == 1
    assert client.get("/probe", headers=bearer(token)).status_code == 200


def test_revoking_needs_client_authentication(client, issued):
    token = issue(client, issued)

    response = post_form(client, REVOKE_URL, {"token": token})

    assert_oauth_error(response, 401, "invalid_client")
    assert AccessToken.objects.count() == 1


def test_revoking_needs_a_token(client, issued):
    response = post_form(client, REVOKE_URL, {}, headers=basic(issued.client_id, "x"))

    body = assert_oauth_error(response, 400, "invalid_request")
    assert "token" in body["error_description"]


def test_revoke_refuses_other_content_types(client, issued):
    response = client.post(REVOKE_URL, "token=x", content_type="text/plain")

    assert_oauth_error(response, 400, "invalid_request")


def test_revoking_the_app_stops_its_tokens_even_when_cached(
    client, issued, django_capture_on_commit_callbacks
):
    token = issue(client, issued)
    assert client.get("/probe", headers=bearer(token)).status_code == 200
    assert credentials_cache.get(credentials_cache.token_checksum(token)) is not None

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        app_revoke(app=issued.app, actor=None)

    assert len(callbacks) >= 1
    assert credentials_cache.get(credentials_cache.token_checksum(token)) is None
    assert not AccessToken.objects.exists()
    response = client.get("/probe", headers=bearer(token))
    assert response.status_code == 401
    assert "invalid or has been revoked" in response.json()["detail"]


def test_absurdly_nested_json_is_an_oauth_error_not_a_500(client):
    response = client.post("/oauth2/v3/token", "[" * 50_000, content_type="application/json")

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"

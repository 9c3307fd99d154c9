"""Subscriptions-Tracking 3.2 over HTTP with real tokens: create, list with filters and
pages, get with ETag, update with If-Match (428, 412), delete; another provider's ids are a
404 on every method and change nothing; bad input is a 400 in the USPS envelope naming the
parameter; the scope is required; the secret is never shown."""

import uuid

import pytest

from agreements.models import MidLink
from agreements.services.mid_links import mid_link_revoke
from core.models import AuditEntry
from tests.tracking.api_helpers import OTHER_MID, api_client_for
from tests.tracking.webhooks.helpers import (
    SECRET,
    allowed_provider,
    another_provider,
    number_for,
    subscribe,
)
from tracking.constants import SubscriptionStatus
from tracking.models import Subscription
from tracking.webhooks.secrets import MASK, decrypt_secret
from tracking.webhooks.services import MAX_SUBSCRIPTIONS_PER_PROVIDER

pytestmark = pytest.mark.django_db

MID = "900100200"
THIRD_MID = "900500600"
BASE = "/subscriptions-tracking/v3r2/subscriptions"
SCOPES = ("tracking", "subscriptions-tracking")


def body(**changes):
    data = {
        "listenerURL": "http://127.0.0.1:9/listener",
        "secret": SECRET,
        "adminNotification": [{"email": "user@example.com"}],
        "filterProperties": {"MID": MID, "trackingEventTypes": ["ALL_UPDATES"]},
    }
    data.update(changes)
    return data


@pytest.fixture
def api():
    return api_client_for(allowed_provider(mids=(MID, OTHER_MID)), scopes=SCOPES)


@pytest.fixture
def stranger(api):
    """Another provider, with its own MID and token."""
    return api_client_for(another_provider(like=api.app.provider, mids=(THIRD_MID,)), scopes=SCOPES)


def problems(response):
    data = response.json()
    assert data["apiVersion"] == "/subscriptions-tracking/v3r2"
    assert data["error"]["code"] == str(response.status_code)
    return [(p.get("source", {}).get("parameter"), p["detail"]) for p in data["error"]["errors"]]


def create(api, **changes):
    response = api.post(BASE, body(**changes), format="json")
    assert response.status_code == 201, response.content
    return response


def test_create_answers_201_with_location_etag_and_the_subscription(api):
    response = create(api, unknownField="tolerated")

    data = response.json()
    subscription = Subscription.objects.get()
    assert data == {
        "subscriptionId": str(subscription.public_id),
        "listenerURL": "http://127.0.0.1:9/listener",
        "secret": MASK,
        "status": "ENABLED",
        "adminNotification": [{"email": "user@example.com"}],
        "filterProperties": {"MID": MID, "trackingEventTypes": ["ALL_UPDATES"]},
        "creationTimestamp": data["creationTimestamp"],
        "statusChangeTimestamp": data["statusChangeTimestamp"],
    }
    assert response["Location"].endswith(f"{BASE}/{subscription.public_id}")
    assert response["ETag"].startswith('"')
    assert SECRET not in response.content.decode()
    assert decrypt_secret(subscription.secret_encrypted) == SECRET
    assert subscription.app == api.app
    entry = AuditEntry.objects.get(action="webhook_subscription_create")
    assert entry.extra["app_id"] == api.app.pk and SECRET not in str(entry.extra)


def test_a_tracking_number_filter_is_stored_as_its_pic(api):
    number = number_for(MID, 42)

    data = create(api, filterProperties={"trackingNumber": f"42080301{number}"}).json()

    assert data["filterProperties"] == {
        "trackingNumber": number,
        "trackingEventTypes": ["ALL_UPDATES"],
    }


def test_event_types_default_to_all_updates(api):
    data = create(api, filterProperties={"MID": MID}).json()

    assert data["filterProperties"]["trackingEventTypes"] == ["ALL_UPDATES"]


@pytest.mark.parametrize(
    ("changes", "parameter", "detail"),
    [
        ({"filterProperties": {"MID": "12345"}}, "filterProperties.MID", "not a valid MID"),
        ({"filterProperties": {"MID": 900100200}}, "filterProperties.MID", "Must be a string"),
        (
            {"filterProperties": {"trackingNumber": "9400111899223344556678"}},
            "filterProperties.trackingNumber",
            "not a valid tracking number",
        ),
        (
            {"filterProperties": {"MID": MID, "trackingNumber": number_for(MID, 1)}},
            "filterProperties",
            "not both",
        ),
        ({"filterProperties": {}}, "filterProperties", "Give a MID or a tracking number"),
        (
            {"filterProperties": {"MID": MID, "trackingEventTypes": ["EVERYTHING"]}},
            "filterProperties.trackingEventTypes",
            "Unknown tracking event type EVERYTHING",
        ),
        (
            {"filterProperties": {"MID": MID, "trackingEventTypes": []}},
            "filterProperties.trackingEventTypes",
            "at least one",
        ),
        (
            {
                "filterProperties": {
                    "trackingNumber": number_for(MID, 2),
                    "trackingEventTypes": ["SCAN_EVENT_EXTRACT"],
                }
            },
            "filterProperties.trackingEventTypes",
            "MID filter only",
        ),
        ({"listenerURL": "ftp://x.example/"}, "listenerURL", "must start with https://"),
        ({"listenerURL": "http://10.0.0.1/x"}, "listenerURL", "private address"),
        ({"secret": "too-short"}, "secret", "exactly 32 characters"),
        ({"adminNotification": []}, "adminNotification", "Give 1 to 3"),
        (
            {"adminNotification": [{"email": f"a{n}@x.org"} for n in range(4)]},
            "adminNotification",
            "At most 3",
        ),
        (
            {"adminNotification": [{"email": "not-an-email"}]},
            "adminNotification",
            "not a valid e-mail",
        ),
    ],
)
def test_bad_input_is_a_400_naming_the_parameter(api, changes, parameter, detail):
    response = api.post(BASE, body(**changes), format="json")

    assert response.status_code == 400
    found = problems(response)
    assert any(p == parameter and detail in d for p, d in found), found
    assert not Subscription.objects.exists()


def test_every_problem_is_reported_at_once(api):
    response = api.post(
        BASE,
        body(secret="short", listenerURL="ftp://x/", adminNotification=[]),
        format="json",
    )

    assert response.status_code == 400
    assert {p for p, _ in problems(response)} == {"secret", "listenerURL", "adminNotification"}


@pytest.mark.parametrize(
    ("payload", "parameter"),
    [
        ({}, "listenerURL"),
        ([1, 2], None),
        ("text", None),
    ],
)
def test_missing_fields_and_bodies_that_are_not_objects(api, payload, parameter):
    response = api.post(BASE, payload, format="json")

    assert response.status_code == 400
    assert parameter in {p for p, _ in problems(response)}


def test_an_oversized_body_is_refused(api, settings):
    settings.API_MAX_BODY_BYTES = 1024

    response = api.post(BASE, body(padding="x" * 2000), format="json")

    assert response.status_code == 400
    detail = problems(response)[0][1]
    assert "over 1,024 bytes" in detail and "a subscription" in detail
    assert "tracking numbers" not in detail  # the tracking API's batch limit is not ours
    assert not Subscription.objects.exists()


def test_a_huge_offset_is_a_400_naming_offset(api):
    response = api.get(BASE, {"offset": "99999999999999999999"})

    assert response.status_code == 400
    assert "offset" in {p for p, _ in problems(response)}


@pytest.mark.parametrize("status", ["ENABLED", "DISABLED"])
def test_create_honours_the_status_given(api, status):
    response = create(api, status=status)

    assert response.json()["status"] == status
    assert Subscription.objects.get().status == status


@pytest.mark.parametrize(
    ("status", "detail"), [("SUSPENDED", "set by the server"), ("PAUSED", "Unknown status")]
)
def test_create_refuses_other_statuses(api, status, detail):
    response = api.post(BASE, body(status=status), format="json")

    assert response.status_code == 400
    assert any(p == "status" and detail in d for p, d in problems(response)), problems(response)
    assert not Subscription.objects.exists()


def test_an_unauthorized_mid_is_refused_with_the_decisions_reason(api):
    response = api.post(BASE, body(filterProperties={"MID": "900999999"}), format="json")

    assert response.status_code == 403
    error = response.json()["error"]["errors"][0]
    assert error["code"] == "MID_NOT_AUTHORIZED"
    assert error["source"]["parameter"] == "filterProperties.MID"
    assert not Subscription.objects.exists()


def test_a_revoked_mid_cannot_be_subscribed(api):
    link = MidLink.objects.get(provider=api.app.provider, mid=OTHER_MID)
    mid_link_revoke(link=link, actor=None, reason="ended")

    response = api.post(BASE, body(filterProperties={"MID": OTHER_MID}), format="json")

    assert response.status_code == 403


def test_the_number_of_subscriptions_is_capped(api, monkeypatch):
    monkeypatch.setattr("tracking.webhooks.services.MAX_SUBSCRIPTIONS_PER_PROVIDER", 2)
    create(api)
    create(api)

    response = api.post(BASE, body(), format="json")

    assert response.status_code == 400
    assert "at most 2 subscriptions" in problems(response)[0][1]
    assert MAX_SUBSCRIPTIONS_PER_PROVIDER == 100


def test_the_scope_is_required():
    api = api_client_for(allowed_provider(), scopes=("tracking",))

    response = api.get(BASE)

    assert response.status_code == 401
    assert 'scope="subscriptions-tracking"' in response["WWW-Authenticate"]
    assert problems(response)


def test_no_token_is_a_401_in_the_envelope(client):
    response = client.get(BASE)

    assert response.status_code == 401
    assert problems(response)


def test_get_answers_the_subscription_with_its_etag(api):
    created = create(api)
    location = created["Location"]

    response = api.get(location)

    assert response.status_code == 200
    assert response.json() == created.json()
    assert response["ETag"] == created["ETag"]


def test_list_filters_and_pages(api, stranger):
    numbers = [number_for(MID, n) for n in range(3)]
    for number in numbers:
        create(api, filterProperties={"trackingNumber": number})
    create(api)
    create(api, filterProperties={"MID": OTHER_MID})
    theirs = stranger.post(BASE, body(filterProperties={"MID": THIRD_MID}), format="json")
    assert theirs.status_code == 201

    everything = api.get(BASE).json()
    assert everything["metadata"] == {
        "totalCount": 5,
        "offset": 0,
        "limit": 20,
        "page": 1,
        "totalPages": 1,
    }
    by_mid = api.get(BASE, {"MID": f"{MID},{OTHER_MID}"}).json()
    assert sorted(s["filterProperties"]["MID"] for s in by_mid["subscriptions"]) == sorted(
        [MID, OTHER_MID]
    )
    by_number = api.get(BASE, {"trackingNumber": ",".join(numbers[:2])}).json()
    assert {s["filterProperties"]["trackingNumber"] for s in by_number["subscriptions"]} == set(
        numbers[:2]
    )
    page = api.get(BASE, {"offset": 2, "limit": 2}).json()
    assert page["metadata"] == {
        "totalCount": 5,
        "offset": 2,
        "limit": 2,
        "page": 2,
        "totalPages": 3,
    }
    assert len(page["subscriptions"]) == 2
    pages = [
        s["subscriptionId"]
        for offset in (0, 2, 4)
        for s in api.get(BASE, {"offset": offset, "limit": 2}).json()["subscriptions"]
    ]
    assert sorted(pages) == sorted(s["subscriptionId"] for s in everything["subscriptions"])


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 101}, "limit"),
        ({"offset": -1}, "offset"),
        ({"limit": "ten"}, "limit"),
        ({"MID": "12"}, "MID"),
        ({"trackingNumber": "123"}, "trackingNumber"),
    ],
)
def test_bad_list_queries(api, query, parameter):
    response = api.get(BASE, query)

    assert response.status_code == 400
    assert parameter in {p for p, _ in problems(response)}


def test_put_changes_the_listener_secret_and_status_with_if_match(api):
    created = create(api)
    location, tag = created["Location"], created["ETag"]
    new_secret = "AnotherSecretOfExactly32Chars!!!"

    response = api.put(
        location,
        {
            **created.json(),
            "listenerURL": "http://127.0.0.1:9/new",
            "secret": new_secret,
            "status": "DISABLED",
        },
        format="json",
        HTTP_IF_MATCH=tag,
    )

    assert response.status_code == 200, response.content
    data = response.json()
    assert (data["listenerURL"], data["status"], data["secret"]) == (
        "http://127.0.0.1:9/new",
        "DISABLED",
        MASK,
    )
    assert response["ETag"] != tag
    subscription = Subscription.objects.get()
    assert decrypt_secret(subscription.secret_encrypted) == new_secret
    # The masked secret sent back keeps the current one.
    again = api.put(location, data, format="json", HTTP_IF_MATCH=response["ETag"])
    assert again.status_code == 200
    subscription.refresh_from_db()
    assert decrypt_secret(subscription.secret_encrypted) == new_secret


def test_put_and_delete_need_a_current_etag(api):
    created = create(api)
    location, tag = created["Location"], created["ETag"]

    missing = api.put(location, {"status": "DISABLED"}, format="json")
    assert missing.status_code == 428
    assert problems(missing)[0][0] == "If-Match"
    assert api.delete(location).status_code == 428

    assert (
        api.put(location, {"status": "DISABLED"}, format="json", HTTP_IF_MATCH=tag).status_code
        == 200
    )
    stale = api.put(location, {"status": "ENABLED"}, format="json", HTTP_IF_MATCH=tag)
    assert stale.status_code == 412
    assert api.delete(location, HTTP_IF_MATCH=tag).status_code == 412
    assert Subscription.objects.get().status == SubscriptionStatus.DISABLED


@pytest.mark.parametrize(
    ("changes", "parameter", "detail"),
    [
        ({"filterProperties": {"MID": OTHER_MID}}, "filterProperties", "cannot be changed"),
        (
            {"filterProperties": {"MID": MID, "trackingEventTypes": ["DELIVERY_ACTIVITY"]}},
            "filterProperties",
            "cannot be changed",
        ),
        (
            {"adminNotification": [{"email": "new@example.com"}]},
            "adminNotification",
            "cannot be changed",
        ),
        ({"status": "SUSPENDED"}, "status", "set by the server"),
        ({"status": "PAUSED"}, "status", "Unknown status"),
        ({"secret": "x"}, "secret", "exactly 32"),
        ({"listenerURL": "http://169.254.169.254/"}, "listenerURL", "link-local"),
    ],
)
def test_put_refuses_what_cannot_change(api, changes, parameter, detail):
    created = create(api)

    response = api.put(
        created["Location"],
        {**created.json(), **changes},
        format="json",
        HTTP_IF_MATCH=created["ETag"],
    )

    assert response.status_code == 400
    assert any(p == parameter and detail in d for p, d in problems(response)), problems(response)
    assert api.get(created["Location"]).json() == created.json()


def test_delete_is_a_204_and_the_subscription_is_gone(api):
    created = create(api)

    response = api.delete(created["Location"], HTTP_IF_MATCH=created["ETag"])

    assert response.status_code == 204
    assert api.get(created["Location"]).status_code == 404
    assert api.get(BASE).json()["metadata"]["totalCount"] == 0
    assert Subscription.objects.get().deleted_at is not None  # kept for the delivery log


def test_put_and_delete_of_a_deleted_subscription_are_404(api):
    created = create(api)
    assert api.delete(created["Location"], HTTP_IF_MATCH="*").status_code == 204

    put = api.put(created["Location"], {"status": "DISABLED"}, format="json", HTTP_IF_MATCH="*")
    delete = api.delete(created["Location"], HTTP_IF_MATCH="*")

    assert (put.status_code, delete.status_code) == (404, 404)
    assert problems(put)[0][0] == "subscriptionId"


@pytest.mark.parametrize("method", ["put", "delete"])
def test_a_subscription_deleted_while_the_request_runs_is_a_404(api, monkeypatch, method):
    """Another request deletes it after this one read it: the service refuses under the row
    lock, and the answer is the 404 of a subscription that is gone, not a 400."""
    from tracking.webhooks import api_views
    from tracking.webhooks.services import subscription_delete

    created = create(api)
    read = Subscription.objects.get()  # what this request read, before the delete
    subscription_delete(subscription=Subscription.objects.get(), actor=None)
    monkeypatch.setattr(api_views.selectors, "subscription_of", lambda **kwargs: read)

    response = getattr(api, method)(
        created["Location"], {"status": "DISABLED"}, format="json", HTTP_IF_MATCH="*"
    )

    assert response.status_code == 404
    assert problems(response)[0][0] == "subscriptionId"


@pytest.mark.parametrize("method", ["get", "put", "delete", "patch", "post"])
def test_another_providers_subscription_is_a_404_on_every_method(api, stranger, method):
    created = create(api)
    before = api.get(created["Location"]).json()

    response = getattr(stranger, method)(
        created["Location"],
        body(status="DISABLED"),
        format="json",
        HTTP_IF_MATCH=created["ETag"],
    )

    assert response.status_code == 404
    assert problems(response) == [
        ("subscriptionId", "You have no subscription with this subscriptionId.")
    ]
    assert api.get(created["Location"]).json() == before
    assert Subscription.objects.get().deleted_at is None


@pytest.mark.parametrize("subscription_id", ["not-a-uuid", str(uuid.uuid4())])
def test_unknown_ids_are_404(api, subscription_id):
    assert api.get(f"{BASE}/{subscription_id}").status_code == 404


def test_another_path_is_a_404_in_the_envelope(api):
    response = api.get("/subscriptions-tracking/v3r2/elsewhere")

    assert response.status_code == 404
    assert problems(response)


def test_the_list_costs_a_fixed_number_of_queries(api, django_assert_max_num_queries):
    for _ in range(5):
        create(api)
    api.get(BASE)  # a warm token

    with django_assert_max_num_queries(3):
        response = api.get(BASE)

    assert len(response.json()["subscriptions"]) == 5


def test_portal_made_subscriptions_are_listed_too(api):
    subscribe(api.app.provider)

    assert api.get(BASE).json()["metadata"]["totalCount"] == 1

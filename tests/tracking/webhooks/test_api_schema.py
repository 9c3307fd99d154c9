"""The Subscriptions-Tracking operations in our OpenAPI schema hold against our own server:
schemathesis sends known and generated requests to live_server with a real token and checks
each answer (no 5xx, a documented status, a body matching the schema for that status)."""

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.tracking.webhooks.helpers import MID, SECRET, allowed_provider
from tracking.services.apps import app_create

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
RUN = settings(
    max_examples=40,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
GOOD = {
    "listenerURL": "http://127.0.0.1:9/listener",
    "secret": SECRET,
    "adminNotification": [{"email": "ops@example.com"}],
    "filterProperties": {"MID": MID, "trackingEventTypes": ["ALL_UPDATES"]},
}


@pytest.fixture
def served(live_server):
    provider = allowed_provider()
    issued = app_create(
        provider=provider, name="schemathesis", actor=None, scopes=("subscriptions-tracking",)
    )
    token = requests.post(
        f"{live_server.url}/oauth2/v3/token",
        data={
            "grant_type": "client_credentials",
            "client_id": issued.client_id,
            "client_secret": issued.client_secret,
        },
        timeout=10,
    )
    assert token.status_code == 200, token.text
    return {
        "base_url": live_server.url,
        "headers": {"Authorization": f"Bearer {token.json()['access_token']}"},
        "schema": schemathesis.openapi.from_url(f"{live_server.url}/api/schema/"),
    }


def etag_of(response) -> str:
    value = {k.lower(): v for k, v in response.headers.items()}["etag"]
    return value[0] if isinstance(value, list) else value


def call(served, case):
    return case.call_and_validate(
        base_url=served["base_url"], headers=served["headers"], checks=CHECKS, timeout=10
    )


@pytest.mark.django_db(transaction=True)
def test_create_get_update_delete_answer_as_the_schema_says(served):
    schema = served["schema"]
    created = call(
        served,
        schema.find_operation_by_id("post-subscriptions-tracking").Case(
            body=GOOD, media_type="application/json"
        ),
    )
    assert created.status_code == 201
    subscription_id = created.json()["subscriptionId"]
    path = {"subscriptionId": subscription_id}
    got = call(
        served,
        schema.find_operation_by_id("get-subscriptions-tracking-id").Case(path_parameters=path),
    )
    assert got.status_code == 200
    updated = call(
        served,
        schema.find_operation_by_id("put-subscriptions-tracking-id").Case(
            path_parameters=path,
            headers={"If-Match": etag_of(got)},
            body={"status": "DISABLED"},
            media_type="application/json",
        ),
    )
    assert updated.status_code == 200
    listed = call(served, schema.find_operation_by_id("get-subscriptions-tracking").Case())
    assert listed.json()["metadata"]["totalCount"] == 1
    deleted = call(
        served,
        schema.find_operation_by_id("delete-subscriptions-tracking-id").Case(
            path_parameters=path, headers={"If-Match": etag_of(updated)}
        ),
    )
    assert deleted.status_code == 204


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "operation_id", ["post-subscriptions-tracking", "get-subscriptions-tracking"]
)
def test_generated_requests_answer_as_the_schema_says(served, operation_id):
    operation = served["schema"].find_operation_by_id(operation_id)
    strategy = st.one_of(
        operation.as_strategy(), operation.as_strategy(generation_mode=GenerationMode.NEGATIVE)
    )
    statuses: list[int] = []

    @RUN
    @given(case=strategy)
    def check(case):
        statuses.append(call(served, case).status_code)

    check()

    assert 400 in statuses

"""Our own OpenAPI schema (/api/schema/, drf-spectacular) holds against our own server:
schemathesis 4 generates requests for the two tracking operations, sends them to live_server
with a real token, and checks every answer: no 5xx, a documented status, a body that matches
the schema for that status. Hypothesis runs derandomized, so every run asks the same things.

Generated tracking numbers are almost never valid, so known numbers (allowed and stored,
denied, unknown, without a MID, malformed) are mixed in, and 200s, 207s, 403s and 404s come up
as often as 400s.
"""

import re
from html.parser import HTMLParser

import pytest
import requests
import schemathesis
from django.conf import settings as django_settings
from django.contrib.staticfiles import finders
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.tracking import h6_schema_data as data
from tests.tracking.api_helpers import allowed_provider, api_client_for
from tracking.models import ProviderApiQuota
from tracking.services.apps import app_create

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
RUN = settings(
    max_examples=80,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


@pytest.fixture
def served(live_server):
    """live_server with the store of h6_schema_data, a token of the allowed provider (from the
    token endpoint, over HTTP) and the schema as the server serves it."""
    provider = data.build_store()
    ProviderApiQuota.objects.create(provider=provider, calls_per_hour=10_000_000)
    issued = app_create(provider=provider, name="schemathesis", actor=None, scopes=("tracking",))
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
    schema = schemathesis.openapi.from_url(f"{live_server.url}/api/schema/")
    return {
        "base_url": live_server.url,
        "headers": {"Authorization": f"Bearer {token.json()['access_token']}"},
        "schema": schema,
    }


def _run(served, strategy) -> list[int]:
    statuses: list[int] = []

    @RUN
    @given(case=strategy)
    def check(case):
        response = case.call_and_validate(
            base_url=served["base_url"], headers=served["headers"], checks=CHECKS, timeout=10
        )
        statuses.append(response.status_code)

    check()
    return statuses


@pytest.mark.django_db(transaction=True)
def test_legacy_tracking_answers_as_the_schema_says(served):
    operation = served["schema"].find_operation_by_id("get-package-tracking")
    # Whatever the path parameter is called in the schema, it carries the number.
    names = [parameter.name for parameter in operation.path_parameters]
    known = st.tuples(st.sampled_from(data.NUMBERS), data.legacy_query()).flatmap(
        lambda pair: operation.as_strategy(
            path_parameters=dict.fromkeys(names, pair[0]), query=pair[1]
        )
    )
    strategy = st.one_of(
        known,
        operation.as_strategy(),
        operation.as_strategy(generation_mode=GenerationMode.NEGATIVE),
    )

    statuses = _run(served, strategy)

    # The run reached the answers that matter, not only the 400 of a random number.
    assert {200, 400, 403, 404} <= set(statuses)


@pytest.mark.django_db(transaction=True)
def test_batch_tracking_answers_as_the_schema_says(served):
    operation = served["schema"].find_operation_by_id("get-packages-tracking")
    strategy = st.one_of(
        data.batch_body().flatmap(lambda body: operation.as_strategy(body=body)),
        operation.as_strategy(),
        operation.as_strategy(generation_mode=GenerationMode.NEGATIVE),
    )

    statuses = _run(served, strategy)

    assert {200, 207, 400, 403} <= set(statuses)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "status",
    [200, 207, 403, 404, 400],
)
def test_each_kind_of_batch_answer_matches_the_schema(served, status):
    """The run above may reach a status by luck; these bodies reach each one for sure."""
    operation = served["schema"].find_operation_by_id("get-packages-tracking")
    body = {
        200: [{"trackingNumber": number} for number in data.ALLOWED_STORED],
        207: [{"trackingNumber": n} for n in (data.PLAIN, data.DENIED_STORED, data.TYPO)],
        403: [{"trackingNumber": data.DENIED_STORED}, {"trackingNumber": data.S10}],
        404: [{"trackingNumber": data.ALLOWED_UNKNOWN}],
        400: [{"trackingNumber": data.TYPO}],
    }[status]
    case = operation.Case(body=body, media_type="application/json")

    response = case.call_and_validate(
        base_url=served["base_url"], headers=served["headers"], checks=CHECKS, timeout=10
    )

    assert response.status_code == status


@pytest.mark.django_db
def test_a_nul_in_the_query_is_refused_in_the_envelope():
    api = api_client_for(allowed_provider())

    response = api.get(f"/tracking/v3/tracking/{data.PLAIN}", {"expand": "DETAIL\x00"})

    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["apiVersion"] == "/tracking/v3"
    assert body["error"]["errors"][0]["source"]["parameter"] == "expand"


@pytest.mark.django_db(transaction=True)
def test_the_checks_catch_a_body_that_breaks_the_schema(served, monkeypatch):
    """The net has no hole: a 200 missing a required field fails the run's checks."""
    from tracking.api import shapes

    real = shapes.v3r2_detail

    def without_eligibility(piece, events):
        detail = real(piece, events)
        del detail["servicesEligibility"]
        return detail

    monkeypatch.setattr(shapes, "v3r2_detail", without_eligibility)
    operation = served["schema"].find_operation_by_id("get-packages-tracking")
    case = operation.Case(body=[{"trackingNumber": data.PLAIN}], media_type="application/json")

    with pytest.raises(FailureGroup, match="servicesEligibility"):
        case.call_and_validate(
            base_url=served["base_url"], headers=served["headers"], checks=CHECKS, timeout=10
        )


# --- The schema document itself ----------------------------------------------------------


def _schema_document(client) -> dict:
    response = client.get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    return response.json()


@pytest.mark.django_db
def test_the_schema_documents_exactly_the_api_operations(client):
    """Tracking, extracts and subscriptions; not the catch-all that answers unknown API paths
    with a 404 envelope, for one."""
    paths = _schema_document(client)["paths"]

    documented = sorted(
        (operation["operationId"], method.upper())
        for methods in paths.values()
        for method, operation in methods.items()
    )
    assert documented == [
        ("delete-subscriptions-tracking-id", "DELETE"),
        ("get-extract", "GET"),
        ("get-extract-events", "GET"),
        ("get-extract-file", "GET"),
        ("get-package-tracking", "GET"),
        ("get-packages-tracking", "POST"),
        ("get-subscriptions-tracking", "GET"),
        ("get-subscriptions-tracking-id", "GET"),
        ("post-extract", "POST"),
        ("post-subscriptions-tracking", "POST"),
        ("put-subscriptions-tracking-id", "PUT"),
    ]


@pytest.mark.django_db
def test_every_path_parameter_is_in_its_path_exactly_once(client):
    paths = _schema_document(client)["paths"]

    for path, methods in paths.items():
        in_template = re.findall(r"{([^}]+)}", path)
        for operation in methods.values():
            declared = [p["name"] for p in operation.get("parameters", []) if p["in"] == "path"]
            assert sorted(declared) == sorted(in_template), (path, declared)
    assert "/tracking/v3/tracking/{trackingNumber}" in paths  # USPS's own name for it


# --- Swagger UI and Redoc, offline -------------------------------------------------------


class _References(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name in {"src", "href", "spec-url"} and value:
                self.urls.append(value)


def _assert_only_local_static_files(html: str) -> list[str]:
    assert not re.search(r"https?://|(?<![:\w])//[\w.-]+\.\w", html), "an external URL"
    parser = _References()
    parser.feed(html)
    static = "/" + django_settings.STATIC_URL.strip("/") + "/"
    assets = [url for url in parser.urls if url != "/api/schema/"]
    for url in assets:
        assert url.startswith(static), url
        assert finders.find(url.removeprefix(static)), f"{url} is not a local static file"
    return assets


def test_swagger_ui_loads_with_local_static_files_only(client):
    response = client.get("/api/docs/")

    assert response.status_code == 200
    html = response.content.decode()
    assets = _assert_only_local_static_files(html)
    assert any(url.endswith("swagger-ui-bundle.js") for url in assets)
    assert 'url: "/api/schema/"' in html


def test_redoc_loads_with_local_static_files_only(client):
    response = client.get("/api/redoc/")

    assert response.status_code == 200
    html = response.content.decode()
    assets = _assert_only_local_static_files(html)
    assert any(url.endswith("redoc.standalone.js") for url in assets)
    assert 'spec-url="/api/schema/"' in html


def test_redoc_loads_its_script_from_the_sidecar(client):
    """What does hold today, whatever the fonts: the page and its script are local."""
    response = client.get("/api/redoc/")

    assert response.status_code == 200
    parser = _References()
    parser.feed(response.content.decode())
    scripts = [url for url in parser.urls if url.endswith(".js")]
    assert scripts == ["/static/drf_spectacular_sidecar/redoc/bundles/redoc.standalone.js"]
    assert finders.find(scripts[0].removeprefix("/static/"))

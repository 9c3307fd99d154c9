import json
from io import StringIO

import pytest
from django.apps import apps
from django.core.management import CommandError, call_command

from accounts.models import User

pytestmark = pytest.mark.django_db


def snapshot() -> dict[str, list]:
    """Every row of every project model, so 'changes nothing' can be asserted exactly."""
    rows = {}
    for model in apps.get_models():
        if model._meta.app_label in {"accounts", "agreements", "tracking", "billing"}:
            rows[model._meta.label] = list(model.objects.order_by("pk").values())
    return rows


def run_seed(*args: str) -> str:
    out = StringIO()
    call_command("seed_demo", *args, stdout=out)
    return out.getvalue()


def test_seed_demo_twice_changes_nothing_the_second_time():
    first = json.loads(run_seed("--json"))
    after_first = snapshot()

    second = json.loads(run_seed("--json"))

    assert snapshot() == after_first
    assert first["created"] > 0 and second["created"] == 0
    assert all(user["created"] for user in first["users"])
    assert not any(user["created"] for user in second["users"])
    assert not any(provider["created"] for provider in second["providers"])
    assert second["sample_tracking_numbers"] == first["sample_tracking_numbers"]


def test_seed_demo_json_lists_the_demo_records():
    report = json.loads(run_seed("--json"))

    assert [
        (v["label"], v["published"], v["applies_to"]) for v in report["agreement_versions"]
    ] == [("v1", True, ["SERVICE_PROVIDER"])]
    providers = {p["legal_name"]: p for p in report["providers"]}
    insights = providers["Parcel Insights LLC"]
    assert (insights["provider_type"], insights["status"]) == ("SERVICE_PROVIDER", "ACTIVE")
    assert insights["agreement"]["status"] == "APPROVED"
    assert insights["agreement"]["schedule_lines"] == [{"mid": "654321", "status": "APPROVED"}]
    assert sorted((m["mid"], m["relation"], m["status"]) for m in insights["mid_links"]) == [
        ("901234567", "AUTHORIZED_BY_OWNER", "VERIFIED"),
        ("902345678", "OWNED", "VERIFIED"),
    ]
    acme = providers["Acme Shipping Co."]
    assert (acme["provider_type"], acme["status"]) == ("SHIPPER", "ACTIVE")
    assert [(m["mid"], m["relation"]) for m in acme["mid_links"]] == [("901234567", "OWNED")]
    labelhub = providers["LabelHub Inc."]
    assert (labelhub["provider_type"], labelhub["status"]) == ("PLATFORM", "PENDING_REVIEW")
    # An incoming consent request for Acme, and a claim staff rejected.
    assert sorted((m["mid"], m["relation"], m["status"]) for m in labelhub["mid_links"]) == [
        ("901234567", "AUTHORIZED_BY_OWNER", "REQUESTED"),
        ("903456789", "OWNED", "REJECTED"),
    ]
    owners = {p["owner"] for p in report["providers"]}
    logins = {u["email"] for u in report["users"]}
    assert owners < logins and "admin@example.com" in logins
    verdicts = [(s["mid"], s["allowed"]) for s in report["sample_tracking_numbers"]]
    assert verdicts == [
        ("902345678", True),
        ("901234567", True),
        ("654321", True),
        ("987654321", False),
        (None, False),
        (None, False),
    ]
    assert report["sample_tracking_numbers"][-1]["reasons"] == ["AMBIGUOUS_TRACKING_NUMBER"]


def test_demo_owners_can_log_in(client, settings):
    run_seed()

    for email in ("owner@parcelinsights.example", "owner@acmeshipping.example"):
        assert client.login(email=email, password=settings.DEMO_PASSWORD)


def test_seed_demo_creates_a_superuser_that_can_log_in(client, settings):
    output = run_seed()

    admin = User.objects.get(email="admin@example.com")
    assert admin.is_superuser and admin.is_staff
    assert settings.DEMO_PASSWORD in output
    assert client.login(email="admin@example.com", password=settings.DEMO_PASSWORD)
    assert client.get("/admin/").status_code == 200


def test_seed_demo_refuses_under_production_settings(settings):
    settings.DEMO_DATA_ALLOWED = False

    with pytest.raises(CommandError, match="disabled"):
        run_seed()

    assert not User.objects.exists()


def test_demo_owners_can_sign_in_to_the_portal(client, settings):
    settings.DEMO_PASSWORD = "demo-password-for-tests"
    call_command("seed_demo", stdout=StringIO())

    response = client.post(
        "/account/login/",
        {"login": "owner@parcelinsights.example", "password": "demo-password-for-tests"},
    )

    assert response.status_code == 302
    assert client.get("/dashboard/").context["provider"].legal_name == "Parcel Insights LLC"


def test_the_demo_shows_a_realistic_mix_in_the_portal(client, settings):
    run_seed()

    client.login(email="owner@acmeshipping.example", password=settings.DEMO_PASSWORD)
    consents = client.get("/consents/").content.decode()
    assert "LabelHub Inc." in consents and "901234567" in consents  # an incoming request

    client.login(email="owner@labelhub.example", password=settings.DEMO_PASSWORD)
    mids = client.get("/mids/").content.decode()
    assert "Business Customer Gateway lists another mailer" in mids  # the rejection's reason

import base64
import json
from io import StringIO

import pytest
from django.apps import apps
from django.contrib.auth.hashers import check_password
from django.core.management import CommandError, call_command
from django.urls import reverse
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import Provider, User
from agreements.decision import decide_for_number
from core.tracking_numbers import InvalidTrackingNumber, parse
from demo.seed import DEMO_TOTP_SECRET
from tracking.models import ApiApp, MailPiece
from tracking.services.apps import app_rotate_secret

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("staff_groups")]


SNAPSHOT_APPS = {"core", "accounts", "agreements", "tracking", "billing", "auth", "otp_totp"}


def snapshot() -> dict[str, list]:
    """Every row of every project model, the audit log, groups and memberships of them, and
    the staff's authenticators, so 'changes nothing' can be asserted exactly."""
    rows = {}
    for model in apps.get_models(include_auto_created=True):
        if model._meta.app_label in SNAPSHOT_APPS:
            rows[model._meta.label] = list(model.objects.order_by("pk").values())
    return rows


def demo_code() -> str:
    """What an authenticator app holding the printed demo secret shows now."""
    return f"{totp(base64.b32decode(DEMO_TOTP_SECRET)):06d}"


def admin_login(client, email: str, password: str):
    return client.post(
        reverse("admin:login"),
        {
            "username": email,
            "password": password,
            "otp_token": demo_code(),
            "next": reverse("admin:index"),
        },
    )


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
    ] == [("v1", True, ["SERVICE_PROVIDER"]), ("v2", False, ["SERVICE_PROVIDER"])]
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
    verdicts = [
        (s["provider"], s["mid"], s["allowed"], s["stored"])
        for s in report["sample_tracking_numbers"]
    ]
    insights, acme = "Parcel Insights LLC", "Acme Shipping Co."
    assert verdicts == [
        (insights, "902345678", True, True),
        (insights, "901234567", True, True),
        (insights, "654321", True, True),
        (insights, "987654321", False, True),
        (insights, "902345678", True, False),
        (insights, None, False, True),
        (insights, None, False, True),
        (insights, None, False, False),
        (acme, "901234567", True, True),
        (acme, "902345678", False, True),
    ]
    assert report["sample_tracking_numbers"][7]["reasons"] == ["AMBIGUOUS_TRACKING_NUMBER"]


def test_demo_owners_can_log_in(client, settings):
    run_seed()

    for email in ("owner@parcelinsights.example", "owner@acmeshipping.example"):
        assert client.login(email=email, password=settings.DEMO_PASSWORD)


def test_seed_demo_creates_a_superuser_that_can_log_in(client, settings):
    output = run_seed()

    admin = User.objects.get(email="admin@example.com")
    assert admin.is_superuser and admin.is_staff
    assert settings.DEMO_PASSWORD in output
    assert DEMO_TOTP_SECRET in output and f"oathtool --totp -b {DEMO_TOTP_SECRET}" in output
    response = admin_login(client, "admin@example.com", settings.DEMO_PASSWORD)
    assert response.status_code == 302, response.context["form"].errors
    assert client.get("/admin/").status_code == 200


def test_a_password_alone_does_not_open_the_admin_for_demo_staff(client, settings):
    run_seed()

    assert client.login(email="admin@example.com", password=settings.DEMO_PASSWORD)
    assert client.get("/admin/").url.startswith(reverse("admin:login"))


@pytest.mark.parametrize(
    ("email", "group", "agreements_status"),
    [
        ("reviewer@usps.example", "Agreement reviewers", 200),
        ("finance@usps.example", "Finance", 403),
        ("support@usps.example", "Support", 200),
    ],
)
def test_demo_staff_sign_in_with_the_printed_secret(
    client, settings, email, group, agreements_status
):
    report = json.loads(run_seed("--json"))

    login = next(user for user in report["users"] if user["email"] == email)
    assert login["totp_secret"] == DEMO_TOTP_SECRET
    assert login["otpauth_uri"].startswith("otpauth://totp/")
    assert f"secret={DEMO_TOTP_SECRET}" in login["otpauth_uri"]
    user = User.objects.get(email=email)
    assert user.is_staff and not user.is_superuser
    assert list(user.groups.values_list("name", flat=True)) == [group]
    assert admin_login(client, email, settings.DEMO_PASSWORD).status_code == 302
    agreements = client.get(reverse("admin:agreements_agreement_changelist"))
    assert agreements.status_code == agreements_status


def test_every_staff_queue_has_a_pending_item():
    report = json.loads(run_seed("--json"))

    pending = {item["queue"]: item["status"] for item in report["pending_review"]}
    assert pending == {
        "providers": "PENDING_REVIEW",
        "agreements": "SUBMITTED",
        "schedule lines": "REQUESTED",
        "MID links": "REQUESTED",
        "agreement versions": "DRAFT",
    }
    links = {p["legal_name"]: p["mid_links"] for p in report["providers"]}
    assert links["Route Metrics LLC"] == [
        {"mid": "904567890", "relation": "AUTHORIZED_BY_OWNER", "status": "REQUESTED"}
    ]


def test_the_reviewer_finds_every_pending_item_in_the_admin(client, settings):
    report = json.loads(run_seed("--json"))
    admin_login(client, "reviewer@usps.example", settings.DEMO_PASSWORD)
    changelists = {
        "providers": ("admin:accounts_provider_changelist", {"status__exact": "PENDING_REVIEW"}),
        "agreements": ("admin:agreements_agreement_changelist", {"status__exact": "SUBMITTED"}),
        "schedule lines": (
            "admin:agreements_agreementscheduleline_changelist",
            {"status__exact": "REQUESTED"},
        ),
        "MID links": ("admin:agreements_midlink_changelist", {"status__exact": "REQUESTED"}),
        "agreement versions": ("admin:agreements_agreementversion_changelist", {}),
    }

    for item in report["pending_review"]:
        url_name, query = changelists[item["queue"]]
        response = client.get(reverse(url_name), query)
        assert response.status_code == 200, item
        assert item["id"] in [row.pk for row in response.context["cl"].result_list], item


def test_a_device_enrolled_otherwise_is_left_alone(settings):
    run_seed()
    device = TOTPDevice.objects.get(user__email="reviewer@usps.example")
    device.key = "ab" * 20
    device.save(update_fields=["key"])

    report = json.loads(run_seed("--json"))

    login = next(user for user in report["users"] if user["email"] == "reviewer@usps.example")
    assert (login["totp_secret"], login["otpauth_uri"]) == (None, None)
    assert TOTPDevice.objects.get(pk=device.pk).key == "ab" * 20
    assert report["created"] == 0


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


def test_the_samples_behave_as_labelled():
    report = json.loads(run_seed("--json"))

    samples = report["sample_tracking_numbers"]
    for sample in samples:
        provider = Provider.objects.get(legal_name=sample["provider"])
        decision = decide_for_number(provider=provider, tracking_number=sample["tracking_number"])
        assert (decision.allowed, decision.reason_codes, decision.mid) == (
            sample["allowed"],
            sample["reasons"],
            sample["mid"],
        ), sample
        try:
            pic = parse(sample["tracking_number"]).pic
        except InvalidTrackingNumber:
            pic = None
        stored = MailPiece.objects.filter(tracking_number=pic).first()
        assert (stored is not None) == sample["stored"], sample
        if stored is not None:
            assert stored.events.exists() and stored.status
            assert stored.mid == (sample["mid"] or "")
    kinds = {(s["allowed"], s["stored"], s["mid"] is not None) for s in samples}
    assert {(True, True, True), (False, True, True), (True, False, True)} <= kinds
    no_mid = [s for s in samples if s["reasons"] == ["NO_MID_IN_TRACKING_NUMBER"]]
    assert {s["tracking_number"][:2] for s in no_mid} == {"EC", "95"}
    # "Denied although stored": a piece of another demo provider's own MID.
    foreign = samples[-1]
    assert foreign["provider"] == "Acme Shipping Co." and not foreign["allowed"]
    assert any(
        link["mid"] == foreign["mid"] and link["relation"] == "OWNED"
        for provider in report["providers"]
        if provider["legal_name"] == "Parcel Insights LLC"
        for link in provider["mid_links"]
    )


def test_the_tracking_store_holds_pieces_for_demo_and_unclaimed_mids():
    report = json.loads(run_seed("--json"))

    data = report["tracking_data"]
    assert data["mids"] == [
        "902345678",
        "901234567",
        "654321",
        "904567890",
        "612345",
        "987654321",
        "765432",
    ]
    for mid in data["mids"]:
        assert MailPiece.objects.filter(mid=mid).count() == data["pieces_per_mid"]
    assert data["rejected"] == 0
    assert data["pieces_created"] == MailPiece.objects.count() == 7 * 30 + 2
    assert data["events_imported"] == data["rows"]


def test_the_api_clients_hold_working_credentials_and_a_demo_quota(client):
    report = json.loads(run_seed("--json"))

    clients = {c["provider"]: c for c in report["api_clients"]}
    assert set(clients) == {"Parcel Insights LLC", "Acme Shipping Co."}
    for entry in clients.values():
        assert set(entry) == {
            "provider",
            "name",
            "client_id",
            "client_secret",
            "scope",
            "status",
            "quota_per_hour",
            "created",
        }
        app = ApiApp.objects.select_related("application", "provider").get(
            application__client_id=entry["client_id"]
        )
        assert app.provider.legal_name == entry["provider"]
        both = "tracking subscriptions-tracking"
        assert (app.status, app.scope, entry["scope"]) == ("ACTIVE", both, both)
        assert app.provider.api_quota.calls_per_hour == entry["quota_per_hour"] == 100_000
        # Stored hashed, like every secret; the printed one is the one that works.
        assert app.application.client_secret != entry["client_secret"]
        assert check_password(entry["client_secret"], app.application.client_secret)
    token = client.post(
        "/oauth2/v3/token",
        {
            "grant_type": "client_credentials",
            "client_id": clients["Parcel Insights LLC"]["client_id"],
            "client_secret": clients["Parcel Insights LLC"]["client_secret"],
        },
        content_type="application/json",
    )
    assert token.status_code == 200, token.content
    assert token.json()["scope"] == "tracking subscriptions-tracking"


def test_a_rotated_demo_secret_is_left_alone_and_not_printed():
    run_seed()
    app = ApiApp.objects.get(application__client_id="demo-acme-shipping")
    app_rotate_secret(app=app, actor=None)

    report = json.loads(run_seed("--json"))

    entry = next(c for c in report["api_clients"] if c["client_id"] == "demo-acme-shipping")
    assert entry["client_secret"] is None and not entry["created"]
    assert report["created"] == 0


def test_the_human_output_lists_clients_and_samples(settings):
    output = run_seed()

    assert f"client_secret: {settings.DEMO_PASSWORD}-demo-parcel-insights" in output
    assert "quota: 100,000 calls/hour" in output
    assert "EC" in output and "NO_MID_IN_TRACKING_NUMBER; in the store" in output
    assert "MID_NOT_AUTHORIZED; in the store" in output
    assert "allowed; not in the store" in output


def test_the_demo_has_a_built_extract_per_provider_and_a_disabled_subscription():
    """Through the real services: the service provider's extract was approved by the demo
    reviewer, the shipper's needed no approval; both hold a file whose hash is recorded."""
    from tracking.models import Extract, Subscription

    report = json.loads(run_seed("--json"))

    built = {entry["provider"]: entry for entry in report["extracts"]}
    assert set(built) == {"Parcel Insights LLC", "Acme Shipping Co."}
    for entry in built.values():
        extract = Extract.objects.get(public_id=entry["extract_id"])
        assert (entry["status"], extract.status) == ("READY", "READY")
        assert extract.row_count > 0 and len(extract.sha256) == 64
    insights = Extract.objects.get(public_id=built["Parcel Insights LLC"]["extract_id"])
    assert insights.decided_by.email == "reviewer@usps.example"
    (hook,) = report["webhooks"]
    subscription = Subscription.objects.get(public_id=hook["subscription_id"])
    assert (hook["mid"], subscription.status) == ("902345678", "DISABLED")
    again = json.loads(run_seed("--json"))
    assert [e["extract_id"] for e in again["extracts"]] == [
        e["extract_id"] for e in report["extracts"]
    ]
    assert again["created"] == 0

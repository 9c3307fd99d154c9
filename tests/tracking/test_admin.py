"""The staff admin of the tracking API: API apps (revoke), quotas per provider (through the
service, audited), mail pieces and their scans, disclosures and daily usage (read-only); the
pages each staff group opens; django-oauth-toolkit's admins kept off the site; and the project's
hostile-input walks run over these admins with rows to walk."""

import importlib
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace
from uuid import uuid4

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group, Permission
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from oauth2_provider.models import (
    AccessToken,
    get_access_token_model,
    get_application_model,
    get_grant_model,
    get_id_token_model,
    get_refresh_token_model,
)

from core.models import AuditEntry
from core.tracking_numbers import make_impb
from tests.config import test_admin_hostile as hostile
from tests.config import test_bad_input as bad_input
from tests.factories import ProviderFactory, StaffFactory, UserFactory, extract_and_webhook_rows
from tests.otp import otp_login
from tests.review_admin import decide, messages_of, open_reason_page, record_notifications
from tracking import credentials_cache
from tracking.admin import MAX_EVENTS_SHOWN
from tracking.constants import ApiAppStatus
from tracking.credentials_cache import ApiCaller, token_checksum
from tracking.models import (
    ApiApp,
    DailyUsage,
    Disclosure,
    MailPiece,
    ProviderApiQuota,
    TrackingEvent,
)
from tracking.services.apps import app_create, app_rotate_secret
from tracking.services.quotas import quota_set

pytestmark = pytest.mark.django_db

REVIEWERS, FINANCE, SUPPORT = "Agreement reviewers", "Finance", "Support"
MID = "901234567"
NUMBER = make_impb(mid=MID, service_type_code="001", serial="1234567")
TRACKING_ADMINS = sorted(
    (
        (model, model_admin)
        for model, model_admin in admin.site._registry.items()
        if model._meta.app_label == "tracking"
    ),
    key=lambda item: item[0]._meta.label,
)
TRACKING_IDS = [model._meta.label for model, _ in TRACKING_ADMINS]
# Quotas are written in the admin, through the service (tested below); the rest is read-only.
READ_ONLY = [model for model, _ in TRACKING_ADMINS if model is not ProviderApiQuota]


# --- Rows and people ---------------------------------------------------------------------------


@pytest.fixture
def groups(staff_groups):
    """The staff groups with their tracking permissions. tests/conftest.py's staff_groups
    re-applies core's migration only, which leaves each group with core's grants alone."""
    module = importlib.import_module("tracking.migrations.0002_staff_group_permissions")
    key = ("tracking", "0002_staff_group_permissions")
    state = MigrationExecutor(connection).loader.project_state(key)
    module.grant(state.apps, SimpleNamespace(connection=connection))


def member_of(group: str) -> Client:
    user = UserFactory(is_staff=True)
    user.groups.add(Group.objects.get(name=group))
    return otp_login(Client(), user)


def superuser() -> Client:
    return otp_login(Client(), StaffFactory())


def add_events(piece: MailPiece, count: int, *, day: int = 20) -> list[TrackingEvent]:
    """`count` scans an hour apart from `day` November 2026; the last one made is the newest."""
    start = datetime(2026, 11, day, 13, 0, tzinfo=UTC)
    events = []
    for n in range(count):
        moment = start + timedelta(hours=n)
        local = moment - timedelta(hours=5)
        events.append(
            TrackingEvent(
                piece=piece,
                event_code="10",
                event_type=f"Processed scan {n}",
                event_timestamp=local.strftime("%Y-%m-%dT%H:%M:%S"),
                gmt_timestamp=moment,
                gmt_offset="-5:00",
                city="WASHINGTON",
                state="DC",
                zip_code="20260",
            )
        )
    return TrackingEvent.objects.bulk_create(events)


@pytest.fixture
def rows():
    """One row of every tracking model the admin shows."""
    provider = ProviderFactory(legal_name="Parcel Insights LLC")
    app = app_create(provider=provider, name="Shop", actor=None).app
    quota = quota_set(provider=provider, calls_per_hour=5000, actor=None)
    piece = MailPiece.objects.create(
        tracking_number=NUMBER,
        mailing_date=date(2026, 11, 20),
        mid=MID,
        unique_mail_piece_id="ump-1",
        mail_class="Priority Mail",
        destination_city="WASHINGTON",
        destination_state="DC",
        destination_zip="20260",
    )
    add_events(piece, 3)
    disclosure = Disclosure.objects.create(
        record_id=uuid4(),
        occurred_at=timezone.now(),
        request_id="req-4711",
        provider=provider,
        app=app,
        tracking_number=NUMBER,
        mid=MID,
        allowed=False,
        reason_code="MID_NOT_AUTHORIZED",
        http_status=403,
    )
    usage = DailyUsage.objects.create(
        provider=provider,
        app=app,
        day=timezone.now().date(),
        allowed=False,
        reason_code="MID_NOT_AUTHORIZED",
        calls=3,
    )
    extract_and_webhook_rows(provider=provider, app=app, piece=piece, user=UserFactory())
    return SimpleNamespace(
        provider=provider, app=app, quota=quota, piece=piece, disclosure=disclosure, usage=usage
    )


def _url(obj, view: str = "change") -> str:
    return reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_{view}", args=[obj.pk])


def changelist(model) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")


# --- django-oauth-toolkit's admins ---------------------------------------------------------------


def test_the_oauth_toolkits_own_admins_are_not_on_the_site():
    """They would edit clients and tokens behind the services' back (no audit, no cache
    invalidation) and mint tokens for any client."""
    models = [
        get_application_model(),
        get_access_token_model(),
        get_refresh_token_model(),
        get_grant_model(),
        get_id_token_model(),
    ]
    client = superuser()

    assert [admin.site.is_registered(model) for model in models] == [False] * 5
    assert client.get("/admin/oauth2_provider/application/").status_code == 404
    assert client.get("/admin/oauth2_provider/accesstoken/").status_code == 404


# --- Who opens what ----------------------------------------------------------------------------

# The change page of each row, per role: superuser, reviewers, finance, support, no group.
CHANGE_PAGES = {
    "app": (200, 200, 200, 200, 403),
    "quota": (200, 200, 403, 200, 403),
    "piece": (200, 200, 403, 200, 403),
    "disclosure": (200, 200, 403, 200, 403),
    "usage": (200, 200, 200, 200, 403),
}
ROLES = ["superuser", REVIEWERS, FINANCE, SUPPORT, "staff without a group"]


def client_for(role: str) -> Client:
    if role == "superuser":
        return superuser()
    if role in (REVIEWERS, FINANCE, SUPPORT):
        return member_of(role)
    return otp_login(Client(), UserFactory(is_staff=True))


@pytest.mark.parametrize("role", ROLES)
def test_each_role_opens_exactly_its_change_pages(groups, rows, role):
    client = client_for(role)
    column = ROLES.index(role)

    statuses = {name: client.get(_url(getattr(rows, name))).status_code for name in CHANGE_PAGES}

    assert statuses == {name: row[column] for name, row in CHANGE_PAGES.items()}


@pytest.mark.parametrize("model", READ_ONLY, ids=[model._meta.label for model in READ_ONLY])
def test_nobody_adds_changes_or_deletes_the_read_only_records(rows, model):
    """Even a superuser: apps change through the portal and the revoke action, the rest is
    written by the API and its drain."""
    obj = model._default_manager.first()
    client = superuser()
    info = f"admin:{model._meta.app_label}_{model._meta.model_name}"

    assert client.get(reverse(f"{info}_add")).status_code == 403
    assert client.post(_url(obj), {"_save": "Save"}).status_code == 403
    assert client.get(_url(obj, "delete")).status_code == 403
    assert model._default_manager.filter(pk=obj.pk).exists()


# --- API apps ----------------------------------------------------------------------------------


def test_the_app_list_finds_an_app_by_client_id_name_or_provider(rows):
    other = app_create(provider=ProviderFactory(), name="Warehouse", actor=None).app
    client = superuser()

    def found(term: str) -> list[ApiApp]:
        response = client.get(changelist(ApiApp), {"q": term})
        assert response.status_code == 200
        return list(response.context["cl"].result_list)

    assert found(rows.app.client_id) == [rows.app]
    assert found(rows.app.client_id[:10]) == []  # exact: a prefix finds nothing
    assert found("Warehouse") == [other]
    assert found("Parcel Insights") == [rows.app]


def test_no_app_page_shows_a_secret_or_its_hash(rows):
    app_rotate_secret(app=rows.app, actor=None)  # the previous secret's hash is kept for a day
    app = ApiApp.objects.select_related("application").get(pk=rows.app.pk)
    hashes = [app.previous_secret, app.application.client_secret]
    client = superuser()

    pages = [
        client.get(_url(app)).content.decode(),
        client.get(changelist(ApiApp)).content.decode(),
        client.get(_url(app, "history")).content.decode(),
    ]

    assert all(hashes) and "pbkdf2" not in "".join(pages)
    assert not any(secret in page for secret in hashes for page in pages)
    assert app.client_id in pages[0] and "5,000" in pages[0]  # the provider's quota


def test_a_superuser_revokes_an_app_with_a_reason(
    rows, monkeypatch, django_capture_on_commit_callbacks
):
    notified = record_notifications(monkeypatch)
    raw = "a-live-token"
    AccessToken.objects.create(
        token=raw,
        application=rows.app.application,
        expires=timezone.now() + timedelta(hours=1),
        scope="tracking",
    )
    checksum = token_checksum(raw)
    caller = ApiCaller(
        app_id=rows.app.pk,
        provider_id=rows.provider.pk,
        client_id=rows.app.client_id,
        scopes=("tracking",),
        quota_per_hour=60,
        expires_at=0.0,
    )
    credentials_cache.put(checksum, caller, ttl=60)
    client = superuser()
    url = changelist(ApiApp)

    page = open_reason_page(client, url, "revoke_apps", [rows.app])
    blank = decide(client, url, "revoke_apps", [rows.app], reason="  ")
    unchanged = ApiApp.objects.get(pk=rows.app.pk).status
    with django_capture_on_commit_callbacks(execute=True):
        done = decide(client, url, "revoke_apps", [rows.app], reason="Secret posted publicly")

    app = ApiApp.objects.get(pk=rows.app.pk)
    entry = AuditEntry.objects.get(action="revoke_api_app")
    assert page.status_code == 200 and b"Revoke API apps" in page.content
    assert blank.status_code == 200 and unchanged == ApiAppStatus.ACTIVE  # reason required
    assert done.status_code == 302
    assert messages_of(done) == ["1 item decided."]
    assert (app.status, app.revoked_at is not None) == (ApiAppStatus.REVOKED, True)
    assert (entry.reason, entry.provider_id, entry.to_status) == (
        "Secret posted publicly",
        rows.provider.pk,
        ApiAppStatus.REVOKED,
    )
    assert not AccessToken.objects.filter(application=rows.app.application).exists()
    assert credentials_cache.get(checksum) is None
    assert notified == [entry.pk]


def test_revoking_an_app_twice_says_so_and_changes_nothing(rows):
    client = superuser()
    url = changelist(ApiApp)
    decide(client, url, "revoke_apps", [rows.app], reason="Leaked")

    again = decide(client, url, "revoke_apps", [rows.app], reason="Leaked again")

    assert AuditEntry.objects.filter(action="revoke_api_app").count() == 1
    assert "Nothing was changed" in messages_of(again)[-1]


def test_the_app_page_offers_revoke_while_the_app_is_active(rows):
    client = superuser()

    active = client.get(_url(rows.app)).content.decode()
    decide(client, changelist(ApiApp), "revoke_apps", [rows.app], reason="Leaked")
    revoked = client.get(_url(rows.app)).content.decode()

    assert "Revoke…" in active
    assert "Revoke…" not in revoked


@pytest.mark.parametrize("group", [REVIEWERS, FINANCE, SUPPORT])
def test_no_group_may_revoke_an_app(groups, rows, group):
    client = member_of(group)
    decide_url = reverse("admin:tracking_apiapp_decide", args=[rows.app.pk, "revoke_apps"])

    page = client.get(_url(rows.app)).content.decode()
    listed = client.get(changelist(ApiApp))
    posted = decide(client, changelist(ApiApp), "revoke_apps", [rows.app], reason="Because")
    direct = client.post(decide_url, {"confirm": "yes", "reason": "Because"})

    assert "Revoke…" not in page
    assert listed.status_code == 200 and b'value="revoke_apps"' not in listed.content
    assert posted.status_code in (200, 302) and direct.status_code == 403
    assert ApiApp.objects.get(pk=rows.app.pk).status == ApiAppStatus.ACTIVE


# --- Quotas ------------------------------------------------------------------------------------


def test_a_reviewer_sets_a_providers_quota_through_the_service(groups, rows, settings):
    settings.API_DEFAULT_QUOTA_PER_HOUR = 60
    provider = ProviderFactory()
    client = member_of(REVIEWERS)

    form = client.get(reverse("admin:tracking_providerapiquota_add"))
    added = client.post(
        reverse("admin:tracking_providerapiquota_add"),
        {"provider": provider.pk, "calls_per_hour": "100000", "reason": "Demo day", "_save": "1"},
    )
    quota = ProviderApiQuota.objects.get(provider=provider)
    changed = client.post(
        _url(quota), {"calls_per_hour": "250", "reason": "Back to normal", "_save": "1"}
    )

    entries = AuditEntry.objects.filter(action="api_quota_set", provider=provider).order_by("pk")
    assert "Providers without a quota here get the default, 60 calls" in form.content.decode()
    assert (added.status_code, changed.status_code) == (302, 302)
    assert ProviderApiQuota.objects.get(provider=provider).calls_per_hour == 250
    assert [(e.extra["old"], e.extra["new"], e.reason) for e in entries] == [
        (None, 100_000, "Demo day"),
        (100_000, 250, "Back to normal"),
    ]
    assert {e.actor.groups.get().name for e in entries} == {REVIEWERS}


@pytest.mark.parametrize("calls", ["0", "-5", "10000001", "abc", "1.5", ""])
def test_a_quota_out_of_bounds_is_a_form_error_and_changes_nothing(rows, calls):
    client = superuser()

    response = client.post(_url(rows.quota), {"calls_per_hour": calls, "_save": "1"})

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["calls_per_hour"]
    assert ProviderApiQuota.objects.get(pk=rows.quota.pk).calls_per_hour == 5000
    assert AuditEntry.objects.filter(action="api_quota_set").count() == 1  # the fixture's


def test_a_provider_has_one_quota_row(rows):
    client = superuser()

    response = client.post(
        reverse("admin:tracking_providerapiquota_add"),
        {"provider": rows.provider.pk, "calls_per_hour": "7", "_save": "1"},
    )

    assert response.status_code == 200 and response.context["adminform"].form.errors
    assert ProviderApiQuota.objects.get(provider=rows.provider).calls_per_hour == 5000


def test_a_reviewer_resets_a_quota_to_the_default_through_the_service(groups, rows):
    client = member_of(REVIEWERS)
    url = changelist(ProviderApiQuota)

    listed = client.get(url).content.decode()
    done = decide(client, url, "reset_to_default", [rows.quota], reason="Trial over")

    entry = AuditEntry.objects.filter(action="api_quota_set").latest("pk")
    assert "get the default quota" in listed and "delete_selected" not in listed
    assert done.status_code == 302
    assert not ProviderApiQuota.objects.filter(pk=rows.quota.pk).exists()
    assert (entry.extra["old"], entry.extra["new"], entry.reason) == (5000, None, "Trial over")


def test_a_superuser_deleting_a_quota_resets_it_through_the_service(rows):
    client = superuser()

    response = client.post(_url(rows.quota, "delete"), {"post": "yes"})

    entry = AuditEntry.objects.filter(action="api_quota_set").latest("pk")
    assert response.status_code == 302
    assert not ProviderApiQuota.objects.filter(pk=rows.quota.pk).exists()
    assert (entry.extra["old"], entry.extra["new"]) == (5000, None)


@pytest.mark.parametrize("group", [SUPPORT, FINANCE])
def test_support_and_finance_set_no_quota(groups, rows, group):
    client = member_of(group)

    add = client.post(
        reverse("admin:tracking_providerapiquota_add"),
        {"provider": ProviderFactory().pk, "calls_per_hour": "10", "_save": "1"},
    )
    change = client.post(_url(rows.quota), {"calls_per_hour": "10", "_save": "1"})
    reset = decide(client, changelist(ProviderApiQuota), "reset_to_default", [rows.quota])

    assert (add.status_code, change.status_code) == (403, 403)
    assert reset.status_code in (200, 302, 403)  # the list without the action, or no list
    assert ProviderApiQuota.objects.get(pk=rows.quota.pk).calls_per_hour == 5000
    assert ProviderApiQuota.objects.count() == 1


# --- Mail pieces -------------------------------------------------------------------------------


def test_support_finds_a_piece_by_number_barcode_or_mid(groups, rows):
    other = MailPiece.objects.create(
        tracking_number=make_impb(mid="123456", service_type_code="001", serial="1234567890"),
        mailing_date=date(2026, 11, 21),
        mid="123456",
        unique_mail_piece_id="ump-2",
    )
    client = member_of(SUPPORT)

    def found(term: str) -> list[MailPiece]:
        response = client.get(changelist(MailPiece), {"q": term})
        assert response.status_code == 200
        return list(response.context["cl"].result_list)

    assert found(NUMBER) == [rows.piece]
    assert found(f" 420 20260 {NUMBER} ") == [rows.piece]  # as a scanner reads the barcode
    assert found(MID) == [rows.piece]
    assert found("123456") == [other]
    assert found(NUMBER[:-1]) == []  # exact: a partial number finds nothing


def test_a_pieces_page_lists_its_newest_99_scans_newest_first(groups, rows):
    events = add_events(rows.piece, 120, day=22)  # after the fixture's three: 123 scans
    newest = [event.event_type for event in reversed(events)][:MAX_EVENTS_SHOWN]
    client = member_of(SUPPORT)

    response = client.get(_url(rows.piece))

    formset = response.context["inline_admin_formsets"][0].formset
    shown = [form.instance.event_type for form in formset.forms]
    page = response.content.decode()
    assert response.status_code == 200
    assert shown == newest
    assert "123; the newest 99 are listed below" in page
    assert "Who looked this number up" in page


def test_the_lookups_link_is_only_for_staff_who_may_read_disclosures(rows):
    user = UserFactory(is_staff=True)
    codenames = ["view_mailpiece", "view_trackingevent"]
    user.user_permissions.set(
        Permission.objects.filter(content_type__app_label="tracking", codename__in=codenames)
    )
    client = otp_login(Client(), user)

    response = client.get(_url(rows.piece))

    assert response.status_code == 200
    assert "Who looked this number up" not in response.content.decode()


# --- Disclosures and usage ---------------------------------------------------------------------


def test_disclosures_are_found_by_number_mid_or_request_id_and_filtered_by_reason(rows):
    Disclosure.objects.create(
        record_id=uuid4(),
        occurred_at=timezone.now(),
        request_id="req-9",
        provider=rows.provider,
        app=rows.app,
        tracking_number="9400100000000000000000",
        mid="",
        allowed=True,
        http_status=404,
    )
    client = superuser()

    def found(**params) -> list[str]:
        response = client.get(changelist(Disclosure), params)
        assert response.status_code == 200
        return [d.request_id for d in response.context["cl"].result_list]

    assert found(q=NUMBER) == ["req-4711"]
    assert found(q=MID) == ["req-4711"]
    assert found(q="req-9") == ["req-9"]
    assert found(reason="MID_NOT_AUTHORIZED") == ["req-4711"]
    assert sorted(found(allowed__exact="1")) == ["req-9"]
    assert sorted(found()) == ["req-4711", "req-9"]


def test_finance_reads_daily_usage_but_no_disclosures(groups, rows):
    client = member_of(FINANCE)

    usage = client.get(changelist(DailyUsage), {"q": rows.app.client_id})

    assert usage.status_code == 200
    assert list(usage.context["cl"].result_list) == [rows.usage]
    assert client.get(changelist(Disclosure)).status_code == 403
    assert client.get(changelist(MailPiece)).status_code == 403


# --- The project's hostile-input walks, over these admins ----------------------------------------
# tests/config/test_admin_hostile.py and test_bad_input.py walk every registered admin, but
# their row fixtures make no tracking rows yet; here the same walks run with rows.


@pytest.fixture
def walker(admin_user) -> Client:
    return otp_login(Client(raise_request_exception=False), admin_user)


@pytest.mark.parametrize(("model", "model_admin"), TRACKING_ADMINS, ids=TRACKING_IDS)
def test_every_tracking_admin_page_and_form_survives_hostile_input(
    walker, rows, model, model_admin
):
    hostile.test_every_page_survives_hostile_ids(walker, rows, model, model_admin)
    hostile.test_every_add_and_change_form_survives_hostile_values(walker, rows, model, model_admin)


TRACKING_ACTIONS = [
    (model, model_admin, action)
    for model, model_admin, action in hostile.ACTION_CASES
    if model._meta.app_label == "tracking"
]


@pytest.mark.parametrize(
    ("model", "model_admin", "action"),
    TRACKING_ACTIONS,
    ids=[f"{model._meta.label}-{action}" for model, _, action in TRACKING_ACTIONS],
)
def test_every_tracking_action_survives_tampered_selections_and_reasons(
    walker, rows, admin_user, model, model_admin, action
):
    hostile.test_every_action_survives_tampered_selections_and_reasons(
        walker, rows, admin_user, model, model_admin, action
    )


def test_the_walk_covers_the_tracking_actions_and_autocomplete():
    assert {(model._meta.label, action) for model, _, action in TRACKING_ACTIONS} == {
        ("tracking.ApiApp", "revoke_apps"),
        ("tracking.ProviderApiQuota", "reset_to_default"),
        ("tracking.Extract", "approve_extracts"),
        ("tracking.Extract", "reject_extracts"),
    }
    assert ("tracking.ProviderApiQuota", "provider") in {
        (model._meta.label, field) for model, field in hostile.AUTOCOMPLETE_CASES
    }


def test_the_quota_providers_autocomplete_survives_hostile_terms(walker, rows):
    hostile.test_every_autocomplete_survives_hostile_terms(
        walker, rows, ProviderApiQuota, "provider"
    )


@pytest.mark.parametrize(("model", "model_admin"), TRACKING_ADMINS, ids=TRACKING_IDS)
def test_every_tracking_changelist_survives_bad_parameters(walker, rows, model, model_admin):
    bad_input.test_every_changelist_refuses_nul_bytes_with_400(walker, rows, model, model_admin)
    bad_input.test_every_changelist_survives_bad_parameters(walker, rows, model, model_admin)
    if model_admin.date_hierarchy:
        bad_input.test_every_date_hierarchy_refuses_impossible_dates_with_400(
            walker, rows, model, model_admin
        )
        bad_input.test_every_date_hierarchy_still_drills_down_to_valid_dates(
            walker, rows, model, model_admin
        )

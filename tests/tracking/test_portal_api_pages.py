"""The portal's API page: apps and their credentials (create, rotate, revoke; the secret shown
once), the quota, the usage charts' data tables, the quick start and "try it", for every role
and with another tenant's ids (404 on every URL and method, nothing changed)."""

import html as html_lib
import json
import re
from datetime import UTC, date, datetime, timedelta

import pytest
from django.contrib.auth.hashers import check_password
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone
from oauth2_provider.models import Application

from accounts.constants import MembershipRole
from agreements.constants import ReasonCode
from core.models import AuditEntry
from tests.factories import MembershipFactory, ProviderFactory, UserFactory
from tests.tracking.api_helpers import MID, OTHER_MID, allowed_provider, number_for, store_piece
from tracking import selectors
from tracking.api import quotas
from tracking.constants import ApiAppStatus
from tracking.models import ApiApp, DailyUsage, ProviderApiQuota
from tracking.services.apps import MAX_ACTIVE_APPS_PER_PROVIDER, app_create, app_rotate_secret

pytestmark = pytest.mark.django_db

ROLES = [role.value for role in MembershipRole]
MANAGING_ROLES = [MembershipRole.OWNER.value, MembershipRole.ADMIN.value, "DEVELOPER"]
VIEW_ONLY_ROLES = [MembershipRole.BILLING.value]
METHODS = ["get", "post", "put", "patch", "delete", "head", "options"]
PAGE = "/developers/apps/"
TODAY = date(2026, 3, 31)
SECRET_RE = re.compile(r'id="client-secret"[^>]*value="([^"]+)"')


def member_of(provider, role=MembershipRole.OWNER):
    return MembershipFactory(provider=provider, role=role).user


def logged_in(client, user):
    client.force_login(user)
    return client


def new_app(provider, name="Warehouse sync"):
    return app_create(provider=provider, name=name, actor=None).app


def shown_secret(response) -> str:
    match = SECRET_RE.search(response.text)
    assert match, "the page shows a client secret"
    return match.group(1)


def current_hash(app) -> str:
    return Application.objects.get(pk=app.application_id).client_secret


@pytest.fixture(autouse=True)
def _today_is_fixed(monkeypatch):
    """The usage window ends on TODAY (a UTC day), whatever the clock says."""

    class Clock(datetime):
        @classmethod
        def now(cls, tz=None):
            return datetime.combine(TODAY, datetime.min.time(), tzinfo=UTC).astimezone(tz)

    monkeypatch.setattr(selectors, "datetime", Clock)


@pytest.fixture
def provider():
    return ProviderFactory(legal_name="Parcel Insights LLC")


@pytest.fixture
def stranger_app():
    """Another tenant's active app."""
    return new_app(ProviderFactory(legal_name="Globex Analytics LLC"), "Globex sync")


# --- The page, for every role ------------------------------------------------------------------


def test_the_dashboard_checklist_links_to_the_page():
    assert reverse("tracking:apps") == PAGE


@pytest.mark.parametrize("role", ROLES)
def test_every_role_sees_the_apps_and_only_managing_roles_get_the_controls(client, provider, role):
    app = new_app(provider)
    logged_in(client, member_of(provider, role))

    response = client.get(PAGE)

    assert response.status_code == 200
    assert "Warehouse sync" in response.text and app.client_id in response.text
    assert "60 calls per hour" in response.text  # settings.API_DEFAULT_QUOTA_PER_HOUR
    controls = [
        'action="/developers/apps/new/"',
        reverse("tracking:app_rotate", args=[app.pk]),
        reverse("tracking:app_revoke", args=[app.pk]),
        'action="/developers/try/',
    ]
    if role in MANAGING_ROLES:
        assert all(control in response.text for control in controls)
    else:
        assert [control for control in controls if control in response.text] == []
        assert "can see the apps and their usage but not create" in response.text


def test_the_list_shows_scopes_status_created_last_used_and_rotation(client, provider):
    used = new_app(provider, "Used")
    ApiApp.objects.filter(pk=used.pk).update(last_used_at=datetime(2026, 3, 2, 14, 5, tzinfo=UTC))
    rotated = new_app(provider, "Rotated")
    app_rotate_secret(app=rotated, actor=None)
    rotated.refresh_from_db()
    logged_in(client, member_of(provider))

    html = client.get(PAGE).text

    rows = dict(re.findall(r'<th scope="row" data-label="Name">([^<]+)<br>(.*?)</tr>', html, re.S))
    assert "never" in rows["Rotated"] and "2026-03-02 14:05 UTC" in rows["Used"]
    assert "scope: tracking" in rows["Used"] and "Active" in rows["Used"]
    assert "never rotated" in rows["Used"]
    until = timezone.localtime(rotated.previous_secret_expires_at).strftime("%Y-%m-%d %H:%M")
    assert f"the old secret works until {until} UTC" in rows["Rotated"]
    assert timezone.localtime(rotated.created_at).strftime("%Y-%m-%d") in rows["Rotated"]


def test_a_revoked_app_is_listed_without_actions(client, provider):
    app = new_app(provider)
    client = logged_in(client, member_of(provider))
    client.post(reverse("tracking:app_revoke", args=[app.pk]), {"reason": "replaced"})

    html = client.get(PAGE).text

    assert "Revoked" in html and "no longer works" in html
    assert reverse("tracking:app_rotate", args=[app.pk]) not in html


def test_the_providers_own_quota_is_shown(client, provider):
    ProviderApiQuota.objects.create(provider=provider, calls_per_hour=5000)
    ProviderApiQuota.objects.create(provider=ProviderFactory(), calls_per_hour=7)
    logged_in(client, member_of(provider, MembershipRole.BILLING))

    assert "5000 calls per hour" in client.get(PAGE).text


def test_the_quick_start_gives_the_token_url_the_api_base_and_the_docs(client, provider):
    logged_in(client, member_of(provider, MembershipRole.BILLING))

    html = client.get(PAGE).text

    assert "http://testserver/oauth2/v3/token" in html
    assert "http://testserver/tracking/v3/tracking/TRACKING_NUMBER?expand=DETAIL" in html
    assert 'href="/api/docs/"' in html
    assert "curl -s -X POST http://testserver/oauth2/v3/token" in html


def test_anonymous_visitors_are_sent_to_sign_in(client):
    response = client.get(PAGE)

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


def test_a_user_without_an_organisation_is_sent_to_create_one(client):
    logged_in(client, UserFactory())

    response = client.get(PAGE)

    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:organisation_create")


def test_the_page_costs_a_bounded_number_of_queries(
    client, provider, django_assert_max_num_queries
):
    for n in range(5):
        app = new_app(provider, f"App {n}")
        DailyUsage.objects.create(provider=provider, app=app, day=TODAY, allowed=True, calls=n + 1)
    logged_in(client, member_of(provider))

    # Session, user, memberships, the agreement banner and the session's renewal (3 statements)
    # for every portal page; apps, quota, usage and reasons for this one, however many apps.
    with django_assert_max_num_queries(11):
        response = client.get(PAGE)

    assert response.status_code == 200


# --- Creating an app: the secret shown once ----------------------------------------------------


@pytest.mark.parametrize("role", MANAGING_ROLES)
def test_a_managing_member_creates_an_app_and_sees_its_secret_once(client, provider, role):
    user = member_of(provider, role)
    logged_in(client, user)

    response = client.post(
        reverse("tracking:app_create"), {"name": "  Warehouse   sync ", "submission": "t1"}
    )

    assert response.status_code == 200
    app = ApiApp.objects.get(provider=provider)
    assert (app.name, app.status, app.created_by) == ("Warehouse sync", ApiAppStatus.ACTIVE, user)
    secret = shown_secret(response)
    assert check_password(secret, current_hash(app))
    assert app.client_id in response.text
    assert "shown only this once" in response.text
    assert "no-store" in response["Cache-Control"]
    assert AuditEntry.objects.filter(action="api_app_create", actor=user).count() == 1
    # Nowhere else: not the list, not the session, not a redirect.
    assert secret not in client.get(PAGE).text
    assert secret not in json.dumps(dict(client.session.items()), default=str)
    assert client.get(reverse("tracking:app_create")).status_code == 302


def test_a_second_submit_of_the_same_form_creates_nothing_more(client, provider):
    logged_in(client, member_of(provider))
    client.post(reverse("tracking:app_create"), {"name": "Sync", "submission": "t1"})

    response = client.post(
        reverse("tracking:app_create"), {"name": "Sync", "submission": "t1"}, follow=True
    )

    assert ApiApp.objects.filter(provider=provider).count() == 1
    assert "already created by your first click" in response.text
    assert 'id="client-secret"' not in response.text


def test_a_duplicate_name_is_refused_on_the_name_field(client, provider):
    new_app(provider, "Sync")
    logged_in(client, member_of(provider))

    response = client.post(reverse("tracking:app_create"), {"name": "Sync", "submission": "t2"})

    assert response.status_code == 200
    assert "An active app is already named “Sync”." in response.text
    assert 'id="id_name-error"' in response.text
    assert 'value="Sync"' in response.text
    assert ApiApp.objects.filter(provider=provider).count() == 1
    # The refused submission's token is released: the corrected form goes through.
    fixed = client.post(reverse("tracking:app_create"), {"name": "Sync 2", "submission": "t2"})
    assert 'id="client-secret"' in fixed.text


def test_a_refusal_for_the_whole_form_is_shown_above_it(client, provider):
    for n in range(MAX_ACTIVE_APPS_PER_PROVIDER):
        new_app(provider, f"App {n}")
    logged_in(client, member_of(provider))

    response = client.post(reverse("tracking:app_create"), {"name": "One more", "submission": "t"})

    assert response.status_code == 200
    assert f"at most {MAX_ACTIVE_APPS_PER_PROVIDER} active apps" in response.text
    assert 'class="usa-alert usa-alert--error" role="alert"' in response.text
    assert ApiApp.objects.filter(provider=provider).count() == MAX_ACTIVE_APPS_PER_PROVIDER


def test_a_blank_name_is_a_field_error(client, provider):
    logged_in(client, member_of(provider))

    response = client.post(reverse("tracking:app_create"), {"name": "", "submission": "t"})

    assert response.status_code == 200
    assert 'id="id_name-error"' in response.text
    assert not ApiApp.objects.exists()


@pytest.mark.parametrize("role", VIEW_ONLY_ROLES)
def test_a_view_only_role_cannot_create_rotate_revoke_or_try(client, provider, role):
    app = new_app(provider)
    before = current_hash(app)
    logged_in(client, member_of(provider, role))

    answers = [
        client.post(reverse("tracking:app_create"), {"name": "Mine", "submission": "t"}),
        client.get(reverse("tracking:app_rotate", args=[app.pk])),
        client.post(reverse("tracking:app_rotate", args=[app.pk]), {"submission": "t"}),
        client.get(reverse("tracking:app_revoke", args=[app.pk])),
        client.post(reverse("tracking:app_revoke", args=[app.pk]), {"reason": "mine now"}),
        client.post(
            reverse("tracking:try_it"),
            {"app": app.pk, "tracking_number": "x", "expand": "DETAIL"},
        ),
    ]

    assert [a.status_code for a in answers] == [403] * 6
    app.refresh_from_db()
    assert ApiApp.objects.filter(provider=provider).count() == 1
    assert (app.status, app.secret_rotated_at, current_hash(app)) == ("ACTIVE", None, before)
    assert quotas.used_this_hour(app_id=app.pk) == 0


# --- Rotating a secret -------------------------------------------------------------------------


@pytest.mark.parametrize("role", MANAGING_ROLES)
@override_settings(API_SECRET_ROTATION_OVERLAP_HOURS=24)
def test_rotating_shows_the_new_secret_once_and_how_long_the_old_one_works(client, provider, role):
    app = new_app(provider)
    old_hash = current_hash(app)
    logged_in(client, member_of(provider, role))
    confirm = client.get(reverse("tracking:app_rotate", args=[app.pk]))
    token = re.search(r'name="submission" value="([^"]+)"', confirm.text).group(1)

    response = client.post(reverse("tracking:app_rotate", args=[app.pk]), {"submission": token})

    assert "keeps working for 24 hours" in confirm.text
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    app.refresh_from_db()
    secret = shown_secret(response)
    assert check_password(secret, current_hash(app))
    assert app.previous_secret == old_hash
    until = timezone.localtime(app.previous_secret_expires_at).strftime("%Y-%m-%d %H:%M")
    assert f"The old secret keeps working until {until} UTC" in response.text
    assert secret not in client.get(PAGE).text


def test_a_second_click_on_rotate_does_not_rotate_again(client, provider):
    app = new_app(provider)
    logged_in(client, member_of(provider))
    url = reverse("tracking:app_rotate", args=[app.pk])
    client.post(url, {"submission": "once"})
    app.refresh_from_db()
    after_first = (app.previous_secret, current_hash(app), app.secret_rotated_at)

    response = client.post(url, {"submission": "once"}, follow=True)

    app.refresh_from_db()
    assert (app.previous_secret, current_hash(app), app.secret_rotated_at) == after_first
    assert "already rotated by your first click" in response.text


def test_the_confirmation_warns_when_a_rotation_is_still_overlapping(client, provider):
    app = new_app(provider)
    app_rotate_secret(app=app, actor=None)
    logged_in(client, member_of(provider))

    html = client.get(reverse("tracking:app_rotate", args=[app.pk])).text

    assert "rotating again stops it at once" in html


def test_rotating_a_revoked_app_is_refused_on_the_form(client, provider):
    app = new_app(provider)
    client = logged_in(client, member_of(provider))
    client.post(reverse("tracking:app_revoke", args=[app.pk]), {"reason": "leaked"})
    before = current_hash(app)

    response = client.post(reverse("tracking:app_rotate", args=[app.pk]), {"submission": "t"})

    assert response.status_code == 200
    assert "“Warehouse sync” is revoked; create a new app instead." in response.text
    assert 'id="client-secret"' not in response.text
    assert current_hash(app) == before


# --- Revoking ----------------------------------------------------------------------------------


@pytest.mark.parametrize("role", MANAGING_ROLES)
def test_revoking_needs_a_reason_and_stops_the_app(client, provider, role):
    app = new_app(provider)
    user = member_of(provider, role)
    logged_in(client, user)
    url = reverse("tracking:app_revoke", args=[app.pk])

    confirm = client.get(url)
    refused = client.post(url, {"reason": "  "})
    app.refresh_from_db()
    status_after_refusal = app.status
    response = client.post(url, {"reason": "Key leaked in a log"}, follow=True)

    assert confirm.status_code == 200 and "cannot be undone" in confirm.text
    assert 'id="id_reason-error"' in refused.text and status_after_refusal == "ACTIVE"
    app.refresh_from_db()
    assert app.status == ApiAppStatus.REVOKED
    assert "“Warehouse sync” is revoked" in response.text
    entry = AuditEntry.objects.get(action="revoke_api_app")
    assert (entry.actor, entry.reason, entry.provider_id) == (
        user,
        "Key leaked in a log",
        provider.pk,
    )


def test_revoking_twice_shows_the_refusal_on_the_form(client, provider):
    app = new_app(provider)
    client = logged_in(client, member_of(provider))
    url = reverse("tracking:app_revoke", args=[app.pk])
    client.post(url, {"reason": "first"})

    response = client.post(url, {"reason": "second"})

    assert response.status_code == 200
    assert "Cannot revoke api app Warehouse sync: it is Revoked" in response.text
    assert AuditEntry.objects.filter(action="revoke_api_app").count() == 1


# --- Another tenant's ids ----------------------------------------------------------------------


@pytest.mark.parametrize("name", ["tracking:app_rotate", "tracking:app_revoke"])
@pytest.mark.parametrize("method", METHODS)
def test_another_tenants_app_is_a_404_on_every_url_and_method(
    client, provider, stranger_app, name, method
):
    before = current_hash(stranger_app)
    logged_in(client, member_of(provider))

    response = getattr(client, method)(
        reverse(name, args=[stranger_app.pk]), {"submission": "t", "reason": "mine"}
    )

    assert response.status_code == 404
    stranger_app.refresh_from_db()
    assert (stranger_app.status, stranger_app.previous_secret) == ("ACTIVE", "")
    assert current_hash(stranger_app) == before


def test_an_unknown_app_id_is_a_404(client, provider):
    logged_in(client, member_of(provider))

    assert client.get(reverse("tracking:app_rotate", args=[987654])).status_code == 404


def test_another_tenants_app_is_not_listed(client, provider, stranger_app):
    logged_in(client, member_of(provider))

    html = client.get(PAGE).text

    assert "Globex sync" not in html and stranger_app.client_id not in html


def test_another_tenants_app_cannot_be_used_to_try_the_api(client, provider, stranger_app):
    new_app(provider)
    logged_in(client, member_of(provider))

    response = client.post(
        reverse("tracking:try_it"),
        {"app": stranger_app.pk, "tracking_number": number_for(MID, 1), "expand": "DETAIL"},
    )

    assert response.status_code == 200
    assert 'id="id_app-error"' in response.text
    assert 'id="tryit-result"' not in response.text
    assert quotas.used_this_hour(app_id=stranger_app.pk) == 0


# --- Charts: the data tables -------------------------------------------------------------------


def usage_row(app, day, calls, reason=""):
    DailyUsage.objects.create(
        provider_id=app.provider_id,
        app=app,
        day=day,
        allowed=not reason,
        reason_code=reason,
        calls=calls,
    )


def table(html: str, table_id: str) -> list[list[str]]:
    body = html.split(f'id="{table_id}"')[1].split("</table>")[0]
    return [
        [
            re.sub(r"<[^>]+>", "", cell).strip()
            for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row)
        ]
        for row in re.findall(r"<tr>(.*?)</tr>", body.split("<tbody>")[1], re.S)
    ]


def test_the_charts_data_tables_show_the_daily_usage_rows(client, provider, stranger_app):
    today = TODAY
    app, second = new_app(provider), new_app(provider, "Second")
    usage_row(app, today, 12)
    usage_row(second, today, 3)
    usage_row(app, today, 4, ReasonCode.MID_NOT_AUTHORIZED)
    usage_row(app, today - timedelta(days=2), 6, ReasonCode.NO_MID_IN_TRACKING_NUMBER)
    usage_row(app, today - timedelta(days=2), 1, ReasonCode.MID_NOT_AUTHORIZED)
    usage_row(stranger_app, today, 900)
    usage_row(stranger_app, today, 800, ReasonCode.BILLING_HOLD)
    logged_in(client, member_of(provider, MembershipRole.BILLING))

    html = client.get(PAGE).text

    days = table(html, "usage-table")
    assert len(days) == 30
    assert days[-1] == [today.isoformat(), "15", "4", "19"]
    assert days[-3] == [(today - timedelta(days=2)).isoformat(), "0", "7", "7"]
    assert days[0] == [(today - timedelta(days=29)).isoformat(), "0", "0", "0"]
    assert table(html, "reasons-table") == [
        [ReasonCode.NO_MID_IN_TRACKING_NUMBER.label, "NO_MID_IN_TRACKING_NUMBER", "6"],
        [ReasonCode.MID_NOT_AUTHORIZED.label, "MID_NOT_AUTHORIZED", "5"],
    ]
    assert "15 calls allowed and 11 denied" in html
    # What the charts draw: the same numbers, in json_script elements (no inline script).
    chart = json.loads(re.search(r'id="usage-chart-data"[^>]*>(.*?)</script>', html).group(1))
    assert (chart["allowed"][-1], chart["denied"][-1], chart["labels"][-1]) == (
        15,
        4,
        today.isoformat(),
    )
    reasons = json.loads(re.search(r'id="reasons-chart-data"[^>]*>(.*?)</script>', html).group(1))
    assert reasons["calls"] == [6, 5]
    assert '<canvas id="usage-chart"' in html and '<canvas id="reasons-chart"' in html
    assert "/static/chartjs/chart.umd.min.js" in html
    assert "/static/tracking/usage-charts.js" in html


def test_without_calls_the_page_says_so_and_loads_no_chart(client, provider):
    new_app(provider)
    logged_in(client, member_of(provider))

    html = client.get(PAGE).text

    assert "No calls yet." in html
    assert "<canvas" not in html and "chart.umd.min.js" not in html


def test_only_allowed_calls_show_no_denial_chart(client, provider):
    usage_row(new_app(provider), TODAY, 8)
    logged_in(client, member_of(provider))

    html = client.get(PAGE).text

    assert '<canvas id="usage-chart"' in html and "No call was denied." in html
    assert '<canvas id="reasons-chart"' not in html


# --- Try it ------------------------------------------------------------------------------------


@pytest.fixture
def allowed():
    """A provider allowed to read MID, with an app and a stored piece of that MID."""
    provider = allowed_provider(legal_name="Parcel Insights LLC")
    app = new_app(provider)
    number = number_for(MID, 7)
    store_piece(number, mid=MID)
    return provider, app, number


def try_it(client, app, number, expand="DETAIL"):
    return client.post(
        reverse("tracking:try_it"),
        {"app": app.pk, "tracking_number": number, "expand": expand},
    )


def shown_answer(response) -> tuple[str, dict]:
    heading = re.search(
        r'id="tryit-result".*?<span class="usa-tag[^"]*">([^<]+)</span>', response.text, re.S
    )
    body = re.search(
        r'<pre class="portal-json"[^>]*aria-label="The JSON answer"><code>(.*?)</code>',
        response.text,
        re.S,
    )
    return heading.group(1), json.loads(html_lib.unescape(body.group(1)))


@pytest.mark.parametrize("role", MANAGING_ROLES)
def test_try_it_shows_the_apis_answer_and_counts_against_the_quota(client, allowed, role):
    provider, app, number = allowed
    logged_in(client, member_of(provider, role))

    response = try_it(client, app, number)

    assert response.status_code == 200
    status, body = shown_answer(response)
    assert status == "200 OK"
    assert body["trackingNumber"] == number
    assert len(body["trackingEvents"]) == 3
    assert quotas.used_this_hour(app_id=app.pk) == 1


def test_try_it_shows_a_denial_as_the_api_gives_it(client, allowed):
    provider, app, _ = allowed
    denied = number_for(OTHER_MID, 8)
    store_piece(denied, mid=OTHER_MID)
    logged_in(client, member_of(provider))

    status, body = shown_answer(try_it(client, app, denied, expand="SUMMARY"))

    assert status == "403 Forbidden"
    assert body["error"]["errors"][0]["code"] == "MID_NOT_AUTHORIZED"
    assert "trackingEvents" not in json.dumps(body)


def test_try_it_needs_a_tracking_number(client, allowed):
    provider, app, _ = allowed
    logged_in(client, member_of(provider))

    response = try_it(client, app, "   ")

    assert 'id="id_tracking_number-error"' in response.text
    assert 'id="tryit-result"' not in response.text
    assert quotas.used_this_hour(app_id=app.pk) == 0


def test_a_revoked_app_is_not_offered_for_try_it(client, allowed):
    provider, app, number = allowed
    client = logged_in(client, member_of(provider))
    client.post(reverse("tracking:app_revoke", args=[app.pk]), {"reason": "done"})

    page = client.get(PAGE).text
    response = try_it(client, app, number)

    assert "Create an app first" in page
    assert 'id="tryit-result"' not in response.text
    assert quotas.used_this_hour(app_id=app.pk) == 0

"""The API page in a real browser: a developer reaches it from the dashboard, creates an app and
sees its secret once (with a working copy button), sees the usage charts drawn by the vendored
Chart.js, and tries a tracking number; axe-core finds no serious violation and nothing is wider
than a phone. Screenshots go to artifacts/<test name>/."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import Page, expect

from accounts.constants import MembershipRole
from agreements.constants import ReasonCode
from tests.browser.conftest import serious_accessibility_violations
from tests.factories import MembershipFactory
from tests.tracking.api_helpers import MID, allowed_provider, number_for, store_piece
from tracking.models import ApiApp, DailyUsage
from tracking.services.apps import app_create

pytestmark = pytest.mark.django_db(transaction=True)

PHONE = {"width": 375, "height": 800}


def signed_in(page: Page, client, live_server, user) -> None:
    client.force_login(user)
    page.context.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}]
    )


def fits_a_phone(page: Page) -> bool:
    return page.evaluate("() => document.documentElement.scrollWidth") <= PHONE["width"]


@pytest.fixture
def developer_with_usage():
    """A developer of an allowed provider whose earlier app has a month of calls."""
    provider = allowed_provider(legal_name="Parcel Insights LLC")
    membership = MembershipFactory(provider=provider, role=MembershipRole.DEVELOPER)
    earlier = app_create(provider=provider, name="Nightly export", actor=None).app
    today = datetime.now(UTC).date()
    for back in range(0, 30, 3):
        day = today - timedelta(days=back)
        DailyUsage.objects.create(
            provider=provider, app=earlier, day=day, allowed=True, calls=40 + back
        )
        DailyUsage.objects.create(
            provider=provider,
            app=earlier,
            day=day,
            allowed=False,
            reason_code=ReasonCode.MID_NOT_AUTHORIZED,
            calls=back % 7,
        )
    DailyUsage.objects.create(
        provider=provider,
        app=earlier,
        day=today,
        allowed=False,
        reason_code=ReasonCode.AMBIGUOUS_TRACKING_NUMBER,
        calls=3,
    )
    number = number_for(MID, 42)
    store_piece(number, mid=MID)
    return membership.user, number


def test_a_developer_creates_an_app_sees_the_secret_once_and_the_charts(
    live_server, page, client, shot, developer_with_usage
):
    user, number = developer_with_usage
    signed_in(page, client, live_server, user)
    chart_js = []
    page.on(
        "response",
        lambda r: chart_js.append((r.url, r.status)) if "chart.umd.min.js" in r.url else None,
    )

    page.goto(f"{live_server.url}/dashboard/")
    page.get_by_role("link", name="Manage credentials").click()
    expect(page.get_by_role("heading", name="Tracking API", level=1)).to_be_visible()
    expect(page.get_by_role("cell", name=re.compile("Nightly export"))).to_be_visible()
    page.wait_for_function("() => window.Chart && Chart.getChart('reasons-chart')")
    shot("api-page")

    assert chart_js == [(f"{live_server.url}/static/chartjs/chart.umd.min.js", 200)]
    usage = page.evaluate(
        "() => { const c = Chart.getChart('usage-chart');"
        " return [c.config.type, c.data.datasets.map(d => d.label), c.data.labels.length]; }"
    )
    assert usage == ["bar", ["Allowed", "Denied"], 30]
    assert page.evaluate("() => Chart.getChart('reasons-chart').options.indexAxis") == "y"
    assert serious_accessibility_violations(page) == []

    page.get_by_label("App name").fill("Warehouse sync")
    page.get_by_role("button", name="Create the app").click()
    expect(page.get_by_role("heading", name="“Warehouse sync” is created")).to_be_visible()
    secret = page.get_by_label("Client secret").input_value()
    shot("secret-shown-once")
    assert len(secret) >= 40
    app = ApiApp.objects.get(name="Warehouse sync")
    assert page.get_by_label("Client ID").input_value() == app.client_id
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    page.get_by_role("button", name="Copy the secret").click()
    expect(page.get_by_text("Copied to the clipboard.")).to_be_visible()
    assert page.evaluate("() => navigator.clipboard.readText()") == secret
    assert serious_accessibility_violations(page) == []

    page.get_by_role("link", name=re.compile("I have saved the secret")).click()
    expect(page.get_by_role("cell", name=app.client_id)).to_be_visible()
    assert secret not in page.content()
    page.reload()
    assert secret not in page.content()

    page.get_by_label("App", exact=True).select_option(label="Warehouse sync")
    page.get_by_label("Tracking number").fill(number)
    page.get_by_role("button", name="Send the request").click()
    result = page.locator("#tryit-result")
    expect(result).to_contain_text("200 OK")
    expect(result).to_contain_text(f'"trackingNumber": "{number}"')
    shot("try-it")
    assert serious_accessibility_violations(page) == []


def test_the_api_pages_fit_a_phone_and_have_no_serious_violations(
    live_server, page, client, shot, developer_with_usage
):
    user, _ = developer_with_usage
    signed_in(page, client, live_server, user)
    page.set_viewport_size(PHONE)
    app = ApiApp.objects.get(name="Nightly export")
    found, overflowing = {}, {}

    page.goto(f"{live_server.url}/developers/apps/")
    page.wait_for_function("() => window.Chart && Chart.getChart('reasons-chart')")
    shot("api-page-phone")
    found["api page"] = serious_accessibility_violations(page)
    overflowing["api page"] = fits_a_phone(page)
    for step in ("rotate", "revoke"):
        page.goto(f"{live_server.url}/developers/apps/{app.pk}/{step}/")
        shot(f"{step}-phone")
        found[step] = serious_accessibility_violations(page)
        overflowing[step] = fits_a_phone(page)
    page.goto(f"{live_server.url}/developers/apps/{app.pk}/rotate/")
    page.get_by_role("button", name="Rotate the secret").click()
    expect(page.get_by_text("The old secret keeps working until")).to_be_visible()
    shot("rotated-secret-phone")
    found["new secret"] = serious_accessibility_violations(page)
    overflowing["new secret"] = fits_a_phone(page)

    assert {name: v for name, v in found.items() if v} == {}
    assert {name for name, fits in overflowing.items() if not fits} == set()

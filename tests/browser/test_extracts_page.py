"""The extracts page in a real browser (Debian's Chromium through Playwright, a real Celery
worker building the file): a developer requests an extract with the form, sees it READY in the
table, downloads it through the signed link and the file's SHA-256 is the one the page shows;
axe-core finds no serious violation. Screenshots go to artifacts/<test name>/."""

import hashlib
import time

import pytest
from playwright.sync_api import Page, expect

from accounts.constants import MembershipRole
from tests.browser.conftest import serious_accessibility_violations
from tests.tracking.extracts.helpers import MID, member, recent, shipper, store
from tracking.models import Extract

pytestmark = pytest.mark.django_db(transaction=True)


def signed_in(page: Page, client, live_server, user) -> None:
    client.force_login(user)
    page.context.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}]
    )


def test_a_developer_requests_and_downloads_an_extract(
    page: Page,
    client,
    live_server,
    celery_worker,
    shot,
):
    provider = shipper()
    store(MID, 3, events=2)
    signed_in(page, client, live_server, member(provider, MembershipRole.DEVELOPER))

    page.goto(f"{live_server.url}/extracts/")
    expect(page.get_by_role("heading", name="Scan event extracts")).to_be_visible()
    page.get_by_label(f"MID {MID}").check()
    page.get_by_label("First day (UTC)").fill(recent().isoformat())
    page.get_by_label("Last day (UTC)").fill(recent().isoformat())
    page.get_by_label("Format").select_option("CSV")
    shot("form")
    page.get_by_role("button", name="Request the extract").click()
    expect(page.get_by_text("Extract requested.")).to_be_visible()

    extract = Extract.objects.get()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        extract.refresh_from_db()
        if extract.status == "READY":
            break
        time.sleep(0.2)
    page.reload()
    row = page.locator(f"#extract-{extract.public_id}")
    expect(row).to_contain_text("Ready to download")
    expect(row).to_contain_text(extract.sha256)
    shot("ready")
    assert serious_accessibility_violations(page) == []

    with page.expect_download() as download_info:
        row.get_by_role("link", name="Download").click()
    path = download_info.value.path()

    data = open(path, "rb").read()
    assert hashlib.sha256(data).hexdigest() == extract.sha256
    assert download_info.value.suggested_filename == f"{extract.public_id}.csv.gz"

    # The same page on a phone: the table stacks, long hashes and ids wrap.
    page.set_viewport_size({"width": 375, "height": 800})
    page.reload()
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 375
    shot("phone")

"""The webhooks pages in a real browser (Debian's Chromium through Playwright): a developer
creates a subscription with the form, a delivery reaches a live_server listener that checks the
X-HMAC, the delivery log shows its status code, and Replay queues it again with the same id;
axe-core finds no serious violation and the pages fit a phone. Screenshots go to
artifacts/<test name>/."""

import pytest
from playwright.sync_api import Page, expect

from accounts.constants import MembershipRole
from tests.browser.conftest import serious_accessibility_violations
from tests.factories import MembershipFactory
from tests.tracking.webhooks.helpers import (
    MID,
    SECRET,
    allowed_provider,
    number_for,
    receiver,  # noqa: F401 - a fixture
    store_piece,
)
from tracking.constants import DeliveryStatus
from tracking.models import Subscription, WebhookDelivery
from tracking.webhooks import tasks
from tracking.webhooks.delivery import deliver
from tracking.webhooks.fanout import fan_out

pytestmark = pytest.mark.django_db(transaction=True)

PHONE = {"width": 375, "height": 800}


def signed_in(page: Page, client, url: str, user) -> None:
    client.force_login(user)
    page.context.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": url}]
    )


def test_a_developer_subscribes_sees_the_delivery_log_and_replays(
    page: Page,
    client,
    receiver,  # noqa: F811 - the fixture imported above
    monkeypatch,
    shot,
):
    # No worker here: the replay's task is recorded instead of published (the delivery itself
    # is sent below by calling the service, as the worker would).
    queued: list[tuple] = []
    monkeypatch.setattr(tasks.deliver, "delay", lambda *a, **k: queued.append(a))
    provider = allowed_provider(legal_name="Parcel Insights LLC")
    developer = MembershipFactory(provider=provider, role=MembershipRole.DEVELOPER).user
    signed_in(page, client, receiver.url, developer)

    page.goto(f"{receiver.url}/developers/webhooks/new/")
    expect(page.get_by_role("heading", name="New webhook subscription")).to_be_visible()
    page.get_by_label("Mailer ID (MID)").fill(MID)
    page.get_by_label("Listener URL").fill(f"{receiver.url}/hooks/ok")
    page.get_by_label("Secret (optional)").fill(SECRET)
    page.get_by_label("Notice e-mails").fill("ops@parcelinsights.example")
    shot("form")
    page.get_by_role("button", name="Create the subscription").click()
    expect(page.get_by_text("The subscription is created and enabled.")).to_be_visible()

    subscription = Subscription.objects.get(provider=provider)
    assert (subscription.mid, subscription.status) == (MID, "ENABLED")
    piece = store_piece(number_for(MID, 1), mid=MID)
    (delivery_id,) = fan_out(piece_ids=[piece.pk])
    deliver(delivery_id=delivery_id)
    (got,) = receiver.received
    assert got["hmac_ok"] and got["payload"]["trackingNumber"] == piece.tracking_number

    page.reload()
    log = page.locator("#delivery-log")
    expect(log).to_contain_text("200")
    expect(log).to_contain_text("Delivered")
    assert serious_accessibility_violations(page) == []
    shot("delivery-log")

    page.get_by_role("button", name="Replay").click()
    delivery = WebhookDelivery.objects.get(pk=delivery_id)
    expect(
        page.get_by_text(f"Delivery {delivery.public_id} is queued to be sent again")
    ).to_be_visible()
    assert [args[0] for args in queued] == [delivery_id]
    assert delivery.replay_requested and delivery.status == DeliveryStatus.PENDING

    page.set_viewport_size(PHONE)
    for path in ("/developers/webhooks/", f"/developers/webhooks/{subscription.public_id}/"):
        page.goto(f"{receiver.url}{path}")
        assert page.evaluate("() => document.documentElement.scrollWidth") <= PHONE["width"], path
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    assert serious_accessibility_violations(page) == []
    shot("phone")

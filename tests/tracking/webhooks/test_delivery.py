"""Delivery to a real listener (live_server): the USPS notification shape, X-HMAC checked by
the receiver, retries with backoff then suspension, the access decision asked again at
delivery time (revoked MID, billing hold), redirects refused, one POST when two workers race,
and replay with the same delivery id."""

import re
import threading
from datetime import timedelta

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from accounts.services.providers import provider_billing_hold_set
from agreements.models import MidLink
from agreements.services.mid_links import mid_link_revoke
from tests.factories import UserFactory
from tests.tracking.webhooks.helpers import (
    MID,
    SECRET,
    allowed_provider,
    number_for,
    store_piece,
    subscribe,
)
from tracking.constants import (
    DeliveryStatus,
    SubscriptionStatus,
    TrackingEventType,
)
from tracking.models import DeliveryAttempt, WebhookDelivery
from tracking.webhooks import tasks
from tracking.webhooks.delivery import Outcome, _claim, backoff_seconds, deliver
from tracking.webhooks.fanout import fan_out
from tracking.webhooks.services import replay_delivery, subscription_update
from tracking.webhooks.signing import sign

pytestmark = pytest.mark.django_db(transaction=True)

TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


@pytest.fixture
def spy_delay(monkeypatch):
    """The real task's delay, recorded instead of published (no worker in these tests)."""
    calls: list[tuple] = []
    monkeypatch.setattr(tasks.deliver, "delay", lambda *a, **k: calls.append((a, k)))
    return calls


def one_delivery(receiver, path="/hooks/ok", event_types=(TrackingEventType.ALL_UPDATES,)):
    provider = allowed_provider()
    subscription = subscribe(
        provider, listener_url=f"{receiver.url}{path}", event_types=event_types
    )
    piece = store_piece(number_for(MID, 1), mid=MID)
    (delivery_id,) = fan_out(piece_ids=[piece.pk])
    return provider, subscription, piece, WebhookDelivery.objects.get(pk=delivery_id)


def test_a_delivery_reaches_the_listener_signed_in_the_usps_shape(receiver):
    provider, subscription, piece, delivery = one_delivery(receiver)

    outcome = deliver(delivery_id=delivery.pk)

    assert outcome == Outcome.DELIVERED
    (got,) = receiver.received
    assert got["hmac_ok"], "the receiver's own HMAC check passed"
    body, headers = got["body"], got["headers"]
    assert set(body) == {"subscriptionId", "subscriptionType", "timestamp", "payload"}
    assert body["subscriptionId"] == str(subscription.public_id)
    assert body["subscriptionType"] == "TRACKING"
    assert TIMESTAMP.match(body["timestamp"])
    assert headers["X-Hmac"] == sign(
        secret=SECRET, timestamp=body["timestamp"], payload=body["payload"]
    )
    assert headers["X-Usps-Timestamp"] == body["timestamp"]
    assert headers["X-Delivery-Id"] == str(delivery.public_id)
    assert headers["Content-Type"] == "application/json"
    assert headers["User-Agent"].startswith("TrackingAccessPortal-Webhooks/")
    payload = got["payload"]
    assert payload["trackingNumber"] == piece.tracking_number
    assert [e["eventCode"] for e in payload["trackingEvents"]] == ["10", "10", "03"]
    assert "mailerID" not in payload
    delivery.refresh_from_db()
    subscription.refresh_from_db()
    assert delivery.status == DeliveryStatus.DELIVERED
    assert delivery.last_status_code == 200 and delivery.attempts == 1
    assert subscription.last_delivery_at is not None
    (attempt,) = delivery.log.all()
    assert (attempt.number, attempt.status_code, attempt.error) == (1, 200, "")
    assert attempt.duration_ms is not None and not attempt.replay


def test_scan_event_extract_subscriptions_get_the_detailed_format(receiver):
    _, _, piece, delivery = one_delivery(
        receiver, event_types=(TrackingEventType.SCAN_EVENT_EXTRACT,)
    )

    assert deliver(delivery_id=delivery.pk) == Outcome.DELIVERED

    (got,) = receiver.received
    assert got["body"]["subscriptionType"] == "SCAN_EVENT_EXTRACT"
    assert got["payload"]["mailerID"] == MID
    assert got["payload"]["trackingEvents"][0]["scanEventExtractEventName"] == "PROCESSED"


def test_failures_are_retried_with_backoff_then_the_subscription_is_suspended(
    receiver, settings, mailoutbox
):
    settings.WEBHOOK_MAX_ATTEMPTS = 5
    settings.WEBHOOK_SUSPEND_AFTER_FAILURES = 3
    _, subscription, _, delivery = one_delivery(receiver, path="/hooks/fail")
    now = timezone.now()

    waits = []
    for _ in range(3):
        assert deliver(delivery_id=delivery.pk, now=now) == Outcome.RETRYING
        delivery.refresh_from_db()
        wait = (delivery.next_attempt_at - now).total_seconds()
        waits.append(wait)
        # Not due yet: nothing is sent before the backoff has passed.
        assert deliver(delivery_id=delivery.pk, now=now) == Outcome.SKIPPED
        now = delivery.next_attempt_at

    # 1 s, 2 s, 4 s (base 1 s in tests), each up to 10% later.
    for wait, expected in zip(waits, (1, 2, 4), strict=True):
        assert expected <= wait <= expected * 1.1 + 0.001
    assert [backoff_seconds(n) for n in (1, 2, 3)] == [1, 2, 4]
    assert len(receiver.received) == 3
    subscription.refresh_from_db()
    assert subscription.status == SubscriptionStatus.SUSPENDED
    assert subscription.status_reason == "Unable to reach listener"
    assert subscription.consecutive_failures == 3
    assert [a.status_code for a in delivery.log.order_by("number")] == [500, 500, 500]
    (mail,) = mailoutbox
    assert mail.to == ["ops@example.com"] and "suspended" in mail.subject

    # Suspended: the due retry is not sent.
    assert deliver(delivery_id=delivery.pk, now=now) == Outcome.SKIPPED
    assert len(receiver.received) == 3

    # The customer fixes the listener and enables the subscription again.
    subscription_update(
        subscription=subscription,
        actor=None,
        listener_url=f"{receiver.url}/hooks/ok",
        status=SubscriptionStatus.ENABLED,
    )
    subscription.refresh_from_db()
    assert subscription.consecutive_failures == 0 and subscription.status_reason == ""
    assert deliver(delivery_id=delivery.pk, now=now) == Outcome.DELIVERED
    delivery.refresh_from_db()
    assert delivery.attempts == 4 and delivery.status == DeliveryStatus.DELIVERED


def test_a_delivery_gives_up_after_the_last_attempt(receiver, settings):
    settings.WEBHOOK_MAX_ATTEMPTS = 2
    _, _, _, delivery = one_delivery(receiver, path="/hooks/fail")
    now = timezone.now()

    assert deliver(delivery_id=delivery.pk, now=now) == Outcome.RETRYING
    delivery.refresh_from_db()
    assert deliver(delivery_id=delivery.pk, now=delivery.next_attempt_at) == Outcome.FAILED

    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.FAILED and delivery.next_attempt_at is None
    assert deliver(delivery_id=delivery.pk, now=now + timedelta(days=1)) == Outcome.SKIPPED
    assert len(receiver.received) == 2


def test_a_revoked_mid_stops_delivery_at_once(receiver):
    provider, _, _, delivery = one_delivery(receiver)
    link = MidLink.objects.get(provider=provider, mid=MID)
    mid_link_revoke(link=link, actor=None, reason="The shipper ended the contract.")

    outcome = deliver(delivery_id=delivery.pk)

    assert outcome == Outcome.BLOCKED
    assert receiver.received == []
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.BLOCKED
    (attempt,) = delivery.log.all()
    assert attempt.status_code is None
    assert attempt.error.startswith("Not sent: access denied (MID_NOT_AUTHORIZED")
    # Blocked is final: the beat does not pick it up again.
    assert deliver(delivery_id=delivery.pk) == Outcome.SKIPPED


def test_a_billing_hold_stops_delivery(receiver):
    provider, _, _, delivery = one_delivery(receiver)
    provider_billing_hold_set(provider=provider, reason="Invoice 12 unpaid", actor=None)

    assert deliver(delivery_id=delivery.pk) == Outcome.BLOCKED

    assert receiver.received == []
    delivery.refresh_from_db()
    assert "BILLING_HOLD" in delivery.last_error


def test_redirects_are_not_followed(receiver):
    _, _, _, delivery = one_delivery(receiver, path="/hooks/redirect")

    assert deliver(delivery_id=delivery.pk) == Outcome.RETRYING

    assert [got["path"] for got in receiver.received] == ["/hooks/redirect"]
    attempt = delivery.log.get()
    assert attempt.status_code == 302 and "Redirects are not followed" in attempt.error


def test_two_workers_running_the_same_delivery_post_once(receiver):
    _, _, _, delivery = one_delivery(receiver)
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def worker():
        try:
            barrier.wait()
            outcomes.append(deliver(delivery_id=delivery.pk))
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes) == [Outcome.DELIVERED, Outcome.SKIPPED]
    assert len(receiver.received) == 1
    assert DeliveryAttempt.objects.filter(delivery=delivery).count() == 1


def test_an_attempt_number_is_claimed_once(receiver):
    """What makes the race above safe even without the row lock: the attempt's unique number."""
    _, _, _, delivery = one_delivery(receiver)
    claim = _claim(delivery.pk, timezone.now(), None)

    assert deliver(delivery_id=delivery.pk) == Outcome.SKIPPED  # leased by the claim
    with pytest.raises(IntegrityError), transaction.atomic():
        DeliveryAttempt.objects.create(delivery=delivery, number=claim.number)
    assert receiver.received == []


def test_replay_sends_the_same_delivery_id_again_marked_as_a_replay(receiver, spy_delay):
    _, _, _, delivery = one_delivery(receiver)
    assert deliver(delivery_id=delivery.pk) == Outcome.DELIVERED
    user = UserFactory()

    replay_delivery(delivery=delivery, actor=user)

    assert spy_delay == [((delivery.pk,), {"requested_by_id": user.pk})]
    assert deliver(delivery_id=delivery.pk, requested_by_id=user.pk) == Outcome.DELIVERED
    first, second = receiver.received
    assert first["headers"]["X-Delivery-Id"] == second["headers"]["X-Delivery-Id"]
    assert second["hmac_ok"]
    latest = delivery.log.order_by("-number").first()
    assert (latest.number, latest.replay, latest.requested_by_id) == (2, True, user.pk)


def test_a_replay_asks_the_access_decision_again(receiver, spy_delay):
    provider, _, _, delivery = one_delivery(receiver)
    assert deliver(delivery_id=delivery.pk) == Outcome.DELIVERED
    mid_link_revoke(
        link=MidLink.objects.get(provider=provider, mid=MID), actor=None, reason="ended"
    )

    from core.errors import DomainError

    with pytest.raises(DomainError, match="denied"):
        replay_delivery(delivery=delivery, actor=None)

    assert spy_delay == []
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.DELIVERED


def test_the_post_goes_to_the_checked_address_not_to_a_new_dns_answer(receiver, settings):
    """IP pinning: the connection is made to the address the SSRF check approved, with the
    listener's name only in the Host header. The name here resolves nowhere at all, so a
    second DNS lookup at connection time would fail; the POST still reaches the checked IP."""
    from tracking.webhooks import listeners, transport

    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "rebind.invalid"]
    port = int(receiver.url.rsplit(":", 1)[1])
    listener = listeners.Listener(
        url=f"http://rebind.invalid:{port}/hooks/fail",
        scheme="http",
        host="rebind.invalid",
        port=port,
        target="/hooks/fail",
        addresses=("127.0.0.1",),
    )

    answer = transport.post(
        listener=listener, body=b'{"timestamp": "t", "payload": "{}"}', headers={}
    )

    assert answer.status_code == 500
    (got,) = receiver.received
    assert got["headers"]["Host"] == f"rebind.invalid:{port}"

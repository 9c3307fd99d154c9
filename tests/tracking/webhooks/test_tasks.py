"""The beat task enqueues due deliveries only; deleting a subscription stops its deliveries;
services audit what they change and never the secret."""

from datetime import timedelta

import pytest
from django.utils import timezone

from core.models import AuditEntry
from tests.tracking.webhooks.helpers import (
    MID,
    SECRET,
    allowed_provider,
    number_for,
    store_piece,
    subscribe,
)
from tracking.constants import DeliveryStatus, SubscriptionStatus
from tracking.models import WebhookDelivery
from tracking.webhooks import tasks
from tracking.webhooks.fanout import fan_out
from tracking.webhooks.services import subscription_delete, subscription_update

pytestmark = pytest.mark.django_db


@pytest.fixture
def spy_delay(monkeypatch):
    calls: list = []
    monkeypatch.setattr(tasks.deliver, "delay", lambda *a, **k: calls.append(a[0]))
    return calls


def deliveries(provider, count: int) -> list[WebhookDelivery]:
    pieces = [store_piece(number_for(MID, n), mid=MID) for n in range(count)]
    fan_out(piece_ids=[piece.pk for piece in pieces])
    return list(WebhookDelivery.objects.order_by("pk"))


def test_send_due_deliveries_enqueues_what_is_due(spy_delay):
    provider = allowed_provider()
    subscription = subscribe(provider)
    fresh, retry_due, retry_later, done = deliveries(provider, 4)
    now = timezone.now()
    WebhookDelivery.objects.filter(pk=retry_due.pk).update(
        status=DeliveryStatus.RETRYING, next_attempt_at=now - timedelta(seconds=5)
    )
    WebhookDelivery.objects.filter(pk=retry_later.pk).update(
        status=DeliveryStatus.RETRYING, next_attempt_at=now + timedelta(minutes=5)
    )
    WebhookDelivery.objects.filter(pk=done.pk).update(status=DeliveryStatus.DELIVERED)

    assert tasks.send_due_deliveries() == 2
    assert sorted(spy_delay) == sorted([fresh.pk, retry_due.pk])

    spy_delay.clear()
    subscription_update(subscription=subscription, actor=None, status=SubscriptionStatus.DISABLED)
    assert tasks.send_due_deliveries() == 0
    assert spy_delay == []


def test_deleting_a_subscription_stops_its_waiting_deliveries():
    provider = allowed_provider()
    subscription = subscribe(provider)
    waiting, done = deliveries(provider, 2)
    WebhookDelivery.objects.filter(pk=done.pk).update(status=DeliveryStatus.DELIVERED)

    subscription_delete(subscription=subscription, actor=None)

    waiting.refresh_from_db()
    done.refresh_from_db()
    assert waiting.status == DeliveryStatus.FAILED
    assert "deleted" in waiting.last_error
    assert done.status == DeliveryStatus.DELIVERED


def test_changes_are_audited_without_the_secret():
    provider = allowed_provider()
    subscription = subscribe(provider)
    subscription_update(
        subscription=subscription, actor=None, secret="AnotherSecretOfExactly32Chars!!!"
    )
    subscription_update(subscription=subscription, actor=None, status=SubscriptionStatus.DISABLED)
    subscription_delete(subscription=subscription, actor=None)

    entries = list(AuditEntry.objects.order_by("pk").values_list("action", "to_status", "extra"))
    assert [(a, t) for a, t, _ in entries] == [
        ("webhook_subscription_create", "ENABLED"),
        ("webhook_subscription_update", ""),
        ("webhook_subscription_disable", "DISABLED"),
        ("webhook_subscription_delete", ""),
    ]
    assert entries[1][2]["changed"] == ["secret"]
    assert SECRET not in str(entries) and "AnotherSecret" not in str(entries)
    subscription.refresh_from_db()
    assert subscription.version == 4  # each change moved the ETag

"""Fan-out: which subscriptions get a delivery for a piece's new events, exactly once."""

from datetime import UTC, datetime

import pytest

from agreements.constants import MidRelation
from agreements.models import MidLink
from agreements.services.mid_links import mid_link_revoke
from tests.factories import MidLinkFactory
from tests.tracking.api_helpers import OTHER_MID
from tests.tracking.webhooks.helpers import (
    MID,
    allowed_provider,
    another_provider,
    number_for,
    store_piece,
    subscribe,
)
from tracking.constants import SubscriptionStatus, TrackingEventType
from tracking.models import TrackingEvent, WebhookDelivery
from tracking.webhooks import tasks
from tracking.webhooks.fanout import fan_out
from tracking.webhooks.matching import matching_type
from tracking.webhooks.services import subscription_delete, subscription_update

pytestmark = pytest.mark.django_db


def add_event(piece, code: str, hour: int) -> TrackingEvent:
    return TrackingEvent.objects.create(
        piece=piece,
        event_code=code,
        event_type=f"Event {code}",
        event_timestamp=f"2026-11-21T{hour:02d}:00:00",
        gmt_timestamp=datetime(2026, 11, 21, hour + 7, tzinfo=UTC),
        gmt_offset="-7:00",
    )


def test_running_the_fan_out_twice_makes_one_delivery():
    provider = allowed_provider()
    subscription = subscribe(provider)
    piece = store_piece(number_for(MID, 1), mid=MID)

    first = fan_out(piece_ids=[piece.pk])
    second = fan_out(piece_ids=[piece.pk, piece.pk])

    assert WebhookDelivery.objects.count() == 1
    delivery = WebhookDelivery.objects.get()
    assert first == [delivery.pk]
    assert second == []  # the events are covered: nothing new to send or enqueue
    assert delivery.subscription == subscription
    assert delivery.last_event == piece.events.order_by("-pk").first()
    assert delivery.event_type == TrackingEventType.ALL_UPDATES


def test_new_events_make_a_new_delivery_old_ones_do_not():
    provider = allowed_provider()
    subscribe(provider)
    piece = store_piece(number_for(MID, 2), mid=MID)
    fan_out(piece_ids=[piece.pk])
    mark = piece.events.order_by("-pk").first().pk

    event = add_event(piece, "OF", 8)
    fan_out(piece_ids=[piece.pk], after_event_id=mark)
    fan_out(piece_ids=[piece.pk], after_event_id=mark)

    assert list(WebhookDelivery.objects.order_by("pk").values_list("last_event_id", flat=True)) == [
        mark,
        event.pk,
    ]


def test_mid_and_number_filters_match_their_pieces_only():
    provider = allowed_provider(mids=(MID, OTHER_MID))
    by_mid = subscribe(provider)
    watched = number_for(OTHER_MID, 3)
    by_number = subscribe(provider, tracking_number=watched)
    mine = store_piece(number_for(MID, 4), mid=MID)
    other = store_piece(watched, mid=OTHER_MID)
    unrelated = store_piece(number_for(OTHER_MID, 5), mid=OTHER_MID)

    fan_out(piece_ids=[mine.pk, other.pk, unrelated.pk])

    pairs = set(WebhookDelivery.objects.values_list("subscription_id", "piece_id"))
    assert pairs == {(by_mid.pk, mine.pk), (by_number.pk, other.pk)}


def test_disabled_and_deleted_subscriptions_get_nothing():
    provider = allowed_provider()
    disabled = subscribe(provider)
    subscription_update(subscription=disabled, actor=None, status=SubscriptionStatus.DISABLED)
    deleted = subscribe(provider)
    subscription_delete(subscription=deleted, actor=None)
    piece = store_piece(number_for(MID, 6), mid=MID)

    assert fan_out(piece_ids=[piece.pk]) == []
    assert not WebhookDelivery.objects.exists()


def test_event_types_choose_which_events_notify():
    provider = allowed_provider()
    activity = subscribe(provider, event_types=[TrackingEventType.DELIVERY_ACTIVITY])
    delayed = subscribe(provider, event_types=[TrackingEventType.PACKAGE_DELAYED])
    piece = store_piece(number_for(MID, 7), mid=MID)  # in-transit scans only

    fan_out(piece_ids=[piece.pk])
    assert not WebhookDelivery.objects.exists()

    mark = piece.events.order_by("-pk").first().pk
    add_event(piece, "01", 9)  # delivered
    fan_out(piece_ids=[piece.pk], after_event_id=mark)
    assert set(WebhookDelivery.objects.values_list("subscription_id", "event_type")) == {
        (activity.pk, TrackingEventType.DELIVERY_ACTIVITY)
    }

    mark = piece.events.order_by("-pk").first().pk
    add_event(piece, "71", 10)  # rescheduled: an alert
    fan_out(piece_ids=[piece.pk], after_event_id=mark)
    assert (delayed.pk, TrackingEventType.PACKAGE_DELAYED) in set(
        WebhookDelivery.objects.values_list("subscription_id", "event_type")
    )


@pytest.mark.parametrize(
    ("subscribed", "codes", "expected"),
    [
        (["ALL_UPDATES"], ["10"], "ALL_UPDATES"),
        (["DELIVERY_ACTIVITY"], ["10", "OF"], None),
        (["DELIVERY_ACTIVITY"], ["02"], "DELIVERY_ACTIVITY"),
        (["DELIVERY_ACTIVITY"], ["16"], "DELIVERY_ACTIVITY"),
        (["PACKAGE_DELAYED"], ["01"], None),
        (["PACKAGE_DELAYED"], ["DX"], "PACKAGE_DELAYED"),
        (["PACKAGE_DELAYED", "ALL_UPDATES"], ["DX"], "ALL_UPDATES"),
        (["SCAN_EVENT_EXTRACT", "ALL_UPDATES"], ["10"], "SCAN_EVENT_EXTRACT"),
        (["ALL_UPDATES"], ["ZZ"], "ALL_UPDATES"),  # an unknown code is still an update
        (["ALL_UPDATES"], [], None),
    ],
)
def test_matching(subscribed, codes, expected):
    assert matching_type(subscribed, codes) == expected


def test_the_task_enqueues_each_new_delivery(monkeypatch, django_capture_on_commit_callbacks):
    calls: list = []
    monkeypatch.setattr(tasks.deliver, "delay", lambda *a, **k: calls.append(a))
    provider = allowed_provider()
    subscribe(provider)
    piece = store_piece(number_for(MID, 8), mid=MID)

    with django_capture_on_commit_callbacks(execute=True):
        count = tasks.fan_out_new_events([piece.pk])

    assert count == 1
    assert calls == [(WebhookDelivery.objects.get().pk,)]


def test_the_fan_out_costs_a_fixed_number_of_queries(django_assert_max_num_queries):
    provider = allowed_provider()
    subscribe(provider)
    subscribe(provider, event_types=[TrackingEventType.DELIVERY_ACTIVITY])
    pieces = [store_piece(number_for(MID, 100 + n), mid=MID) for n in range(20)]

    # 9 whatever the number of pieces: one of them loads the subscriptions' providers for the
    # access decision, whose answers come from the cache (or two queries per provider).
    with django_assert_max_num_queries(9):
        fan_out(piece_ids=[piece.pk for piece in pieces])

    assert WebhookDelivery.objects.count() == 20


def test_a_provider_that_lost_access_gets_no_delivery():
    """A revoked MID: no delivery (it would only be BLOCKED at send time), while another
    provider still holding the MID gets its own. When access returns, new events notify."""
    revoked = allowed_provider()
    lost = subscribe(revoked)
    holder = another_provider(like=revoked, mids=())
    MidLinkFactory(provider=holder, mid=MID, relation=MidRelation.AUTHORIZED_BY_OWNER)
    kept = subscribe(holder)
    piece = store_piece(number_for(MID, 9), mid=MID)
    link = MidLink.objects.get(provider=revoked, mid=MID)
    mid_link_revoke(link=link, actor=None, reason="The shipper ended the contract.")

    queued = fan_out(piece_ids=[piece.pk])

    assert list(WebhookDelivery.objects.values_list("subscription_id", flat=True)) == [kept.pk]
    assert queued == [WebhookDelivery.objects.get().pk]
    assert not lost.deliveries.exists()

    # Access granted again: the next new event notifies the subscription.
    MidLinkFactory(provider=revoked, mid=MID)
    mark = piece.events.order_by("-pk").first().pk
    event = add_event(piece, "OF", 11)
    fan_out(piece_ids=[piece.pk], after_event_id=mark)
    assert list(lost.deliveries.values_list("last_event_id", flat=True)) == [event.pk]

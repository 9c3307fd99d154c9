"""End to end: `import_tracking_events` stores new scans, the fan-out task runs in a real
Celery worker (Redis broker), and the delivery task POSTs to a real listener (live_server),
signed; importing the same file again notifies nobody. A revoked MID stops a waiting delivery
that the beat task hands to the worker."""

import json
import time
from io import StringIO

import pytest
from django.core.management import call_command

from core.tracking_numbers import make_impb
from tests.tracking.webhooks.helpers import MID, allowed_provider, subscribe
from tracking.constants import DeliveryStatus
from tracking.models import WebhookDelivery

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.celery_worker]

NUMBER = make_impb(mid=MID, service_type_code="055", serial="0004242")


def record(code: str, local: str, gmt: str) -> dict[str, str]:
    return {
        "trackingNumber": NUMBER,
        "mailingDate": "2026-05-01",
        "mailerID": MID,
        "mailClass": "Priority Mail",
        "destinationCity": "DENVER",
        "destinationState": "CO",
        "destinationZIPCode": "80202",
        "eventCode": code,
        "eventTimestamp": local,
        "GMTTimestamp": gmt,
        "GMTOffset": "-4:00",
        "eventCity": "BOSTON",
        "eventState": "MA",
        "eventZIPCode": "02108",
    }


def write(path, records) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))


def wait_for(condition, *, seconds: float = 30.0) -> None:
    """Poll until the worker has done its part (a deadline, not an assertion on time)."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("the worker did not finish in time")
        time.sleep(0.1)


def run_import(path) -> str:
    out = StringIO()
    call_command(
        "import_tracking_events", str(path), "--no-progress", stdout=out, stderr=StringIO()
    )
    return out.getvalue()


def delivered_count() -> int:
    return WebhookDelivery.objects.filter(status=DeliveryStatus.DELIVERED).count()


def test_an_import_notifies_the_subscriber_through_the_worker(receiver, celery_worker, tmp_path):
    subscription = subscribe(allowed_provider(), listener_url=f"{receiver.url}/hooks/ok")
    first = tmp_path / "first.ndjson"
    write(
        first,
        [
            record("03", "2026-05-01T09:15:00", "2026-05-01T13:15:00Z"),
            record("10", "2026-05-01T19:15:00", "2026-05-01T23:15:00Z"),
        ],
    )

    assert "Events imported:   2" in run_import(first)
    wait_for(lambda: delivered_count() == 1)

    (got,) = receiver.received
    assert got["hmac_ok"]
    assert got["body"]["subscriptionId"] == str(subscription.public_id)
    assert got["payload"]["trackingNumber"] == NUMBER
    assert {e["eventCode"] for e in got["payload"]["trackingEvents"]} == {"03", "10"}
    delivery = WebhookDelivery.objects.get()
    assert got["headers"]["X-Delivery-Id"] == str(delivery.public_id)

    # The same file again: duplicates only, nobody is notified.
    assert "Events imported:   0" in run_import(first)
    # A new scan: a second delivery.
    second = tmp_path / "second.ndjson"
    write(second, [record("01", "2026-05-04T14:05:00", "2026-05-04T18:05:00Z")])
    run_import(second)
    wait_for(lambda: delivered_count() == 2)

    assert len(receiver.received) == 2
    assert receiver.received[1]["payload"]["trackingEvents"][0]["eventCode"] == "01"
    assert WebhookDelivery.objects.count() == 2


def test_a_revocation_stops_deliveries_through_the_beat_and_the_worker(receiver, celery_worker):
    """The beat task (published to the real broker) finds the waiting delivery, the worker
    runs it, the access decision denies the revoked MID: BLOCKED, nothing POSTed."""
    from agreements.models import MidLink
    from agreements.services.mid_links import mid_link_revoke
    from tests.tracking.webhooks.helpers import number_for, store_piece
    from tracking.webhooks import tasks
    from tracking.webhooks.fanout import fan_out

    provider = allowed_provider()
    subscribe(provider, listener_url=f"{receiver.url}/hooks/ok")
    piece = store_piece(number_for(MID, 77), mid=MID)
    (delivery_id,) = fan_out(piece_ids=[piece.pk])  # created, not enqueued: the beat's job
    mid_link_revoke(
        link=MidLink.objects.get(provider=provider, mid=MID), actor=None, reason="Contract ended."
    )

    tasks.send_due_deliveries.delay()
    wait_for(lambda: WebhookDelivery.objects.get(pk=delivery_id).status == DeliveryStatus.BLOCKED)

    assert receiver.received == []
    delivery = WebhookDelivery.objects.get(pk=delivery_id)
    attempt = delivery.log.get()
    assert attempt.error.startswith("Not sent: access denied (MID_NOT_AUTHORIZED")
    assert attempt.basis == ""

"""The claim / record protocol of a delivery: the POST's hard deadline against a dripping
listener and a lease that outlasts it; a stale worker's late answer only fills in its attempt;
a delete during the POST; one lock order (no deadlock with a delete); the disclosure record
(the decision's grant) written with the claim; the attempt cap counting crashed attempts; the
replay marker only on replays; a secret we cannot decrypt is our failure, not the listener's."""

import threading
import time
from datetime import timedelta

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from agreements.models import MidLink
from tests.tracking.webhooks import receiver_urls
from tests.tracking.webhooks.helpers import (
    MID,
    allowed_provider,
    number_for,
    store_piece,
    subscribe,
)
from tracking.constants import DeliveryStatus, SubscriptionStatus
from tracking.models import DeliveryAttempt, Subscription, WebhookDelivery
from tracking.webhooks import tasks, transport
from tracking.webhooks.delivery import (
    IN_PROGRESS,
    LEASE_EXPIRED,
    UNDECRYPTABLE,
    Outcome,
    _claim,
    _record,
    deliver,
    lease_seconds,
)
from tracking.webhooks.fanout import fan_out
from tracking.webhooks.services import DELETED_ERROR, replay_delivery, subscription_delete

pytestmark = pytest.mark.django_db(transaction=True)


def one_delivery(listener_url: str, serial: int = 1):
    provider = allowed_provider()
    subscription = subscribe(provider, listener_url=listener_url)
    piece = store_piece(number_for(MID, serial), mid=MID)
    (delivery_id,) = fan_out(piece_ids=[piece.pk])
    return provider, subscription, WebhookDelivery.objects.get(pk=delivery_id)


def test_a_dripping_listener_is_cut_off_at_the_deadline(receiver, settings):
    """Each byte of the answer comes well within the timeout, the whole answer would take
    20 s: the POST ends at the 1 s deadline, as a failed attempt, while the listener is still
    dripping."""
    settings.WEBHOOK_TIMEOUT_SECONDS = 1
    _, _, delivery = one_delivery(f"{receiver.url}/hooks/drip")

    outcome = deliver(delivery_id=delivery.pk)

    assert receiver_urls.DRIP["finished"] is False
    assert receiver_urls.DRIP["sent"] < receiver_urls.DRIP_BYTES
    assert outcome == Outcome.RETRYING
    attempt = delivery.log.get()
    assert attempt.status_code is None
    assert attempt.error.startswith("Timeout: the listener's answer was not complete within 1 s")
    assert len(receiver.received) == 1


def test_the_lease_outlasts_the_posts_deadline(settings):
    settings.WEBHOOK_TIMEOUT_SECONDS = 10
    _, _, delivery = one_delivery("http://127.0.0.1:9/hooks/ok")
    now = timezone.now()

    claim = _claim(delivery.pk, now, None)

    delivery.refresh_from_db()
    assert lease_seconds() > transport.deadline_seconds() == 10
    assert delivery.next_attempt_at == now + timedelta(seconds=lease_seconds())
    # Within the lease nobody else claims it; once it ran out, the next worker does.
    assert _claim(delivery.pk, now + timedelta(seconds=lease_seconds() - 1), None) == "skipped"
    later = _claim(delivery.pk, now + timedelta(seconds=lease_seconds()), None)
    assert later.number == claim.number + 1


def test_a_stale_workers_late_answer_does_not_undo_a_newer_delivery():
    _, subscription, delivery = one_delivery("http://127.0.0.1:9/hooks/ok")
    now = timezone.now()
    first = _claim(delivery.pk, now, None)  # worker 1, then stuck past its lease
    later = now + timedelta(seconds=lease_seconds() + 1)
    second = _claim(delivery.pk, later, None)  # worker 2 takes over and succeeds
    assert _record(second, status_code=200, error="", duration_ms=5, now=later, ok=True) == (
        Outcome.DELIVERED
    )

    outcome = _record(first, status_code=None, error="ReadTimeout", duration_ms=90000, now=later)

    assert outcome == Outcome.STALE
    delivery.refresh_from_db()
    subscription.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.DELIVERED, 2)
    assert delivery.next_attempt_at is None and delivery.last_status_code == 200
    assert subscription.consecutive_failures == 0
    # The late answer is still logged on its own attempt.
    assert list(delivery.log.order_by("number").values_list("number", "status_code", "error")) == [
        (1, None, "ReadTimeout"),
        (2, 200, ""),
    ]


def test_a_delete_during_the_post_is_not_undone_by_its_answer():
    _, subscription, delivery = one_delivery("http://127.0.0.1:9/hooks/ok")
    now = timezone.now()
    claim = _claim(delivery.pk, now, None)
    subscription_delete(subscription=subscription, actor=None)

    outcome = _record(claim, status_code=500, error="500", duration_ms=5, now=now)

    assert outcome == Outcome.STALE
    delivery.refresh_from_db()
    subscription.refresh_from_db()
    assert delivery.status == DeliveryStatus.FAILED and delivery.last_error == DELETED_ERROR
    assert delivery.next_attempt_at is None
    assert subscription.consecutive_failures == 0
    assert delivery.log.get().status_code == 500


def _backend_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def _wait_until_blocked(pid: int) -> None:
    """Poll (autocommit, so each read is fresh) until `pid` waits for a lock; at most 10 s."""
    for _ in range(200):
        with connection.cursor() as cursor:
            cursor.execute("SELECT cardinality(pg_blocking_pids(%s))", [pid])
            if cursor.fetchone()[0]:
                return
        time.sleep(0.05)
    raise AssertionError(f"backend {pid} never waited for a lock")


def test_recording_and_deleting_at_once_do_not_deadlock():
    """Recording an answer locks the subscription, then the delivery; so does a delete. The
    delete here takes the subscription's lock first and, while the recorder waits for it,
    goes on to the deliveries: with the recorder holding the delivery (the old order) this
    was a deadlock; now the recorder holds nothing yet, the delete finishes, and the late
    answer only fills in its attempt."""
    _, subscription, delivery = one_delivery("http://127.0.0.1:9/hooks/ok")
    claim = _claim(delivery.pk, timezone.now(), None)
    errors: dict[str, str] = {}
    outcomes: list[str] = []
    locked, recorder_pid = threading.Event(), []

    def deleter():
        try:
            with transaction.atomic():
                Subscription.objects.select_for_update(no_key=True).get(pk=subscription.pk)
                locked.set()
                while not recorder_pid:
                    time.sleep(0.01)
                _wait_until_blocked(recorder_pid[0])
                subscription_delete(subscription=subscription, actor=None)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors["delete"] = repr(exc)
        finally:
            connection.close()

    def recorder():
        try:
            locked.wait(10)
            recorder_pid.append(_backend_pid())
            outcomes.append(
                _record(claim, status_code=500, error="500", duration_ms=1, now=timezone.now())
            )
        except Exception as exc:  # noqa: BLE001
            errors["record"] = repr(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=deleter), threading.Thread(target=recorder)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert errors == {}
    assert outcomes == [Outcome.STALE]
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.FAILED and delivery.last_error == DELETED_ERROR
    assert delivery.log.get().status_code == 500


def test_each_attempt_records_the_grant_it_was_sent_on(receiver):
    provider, _, delivery = one_delivery(f"{receiver.url}/hooks/ok")
    link = MidLink.objects.get(provider=provider, mid=MID)

    assert deliver(delivery_id=delivery.pk) == Outcome.DELIVERED

    assert delivery.log.get().basis == f"MID_LINK:{link.pk}"


def test_no_post_without_its_disclosure_record(receiver):
    """The attempt row (with its basis) is written in the claim's transaction, before the
    POST: if it cannot be written, the claim rolls back and nothing is sent."""
    _, _, delivery = one_delivery(f"{receiver.url}/hooks/ok")
    DeliveryAttempt.objects.create(delivery=delivery, number=1, error="left by a bad restore")

    with pytest.raises(IntegrityError):
        deliver(delivery_id=delivery.pk)

    assert receiver.received == []
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.PENDING, 0)


def test_an_expired_lease_is_logged_and_retried_without_a_replay_marker(receiver):
    _, _, delivery = one_delivery(f"{receiver.url}/hooks/ok")
    now = timezone.now()
    _claim(delivery.pk, now, None)  # the worker dies here: no result is ever recorded
    assert delivery.log.get().error == IN_PROGRESS

    later = now + timedelta(seconds=lease_seconds())
    assert deliver(delivery_id=delivery.pk, now=later) == Outcome.DELIVERED

    attempts = list(delivery.log.order_by("number").values_list("number", "error", "replay"))
    assert attempts == [(1, LEASE_EXPIRED, False), (2, "", False)]
    assert receiver.received[0]["headers"]["X-Delivery-Attempt"] == "2"


def test_crashed_attempts_count_towards_the_cap(receiver, settings):
    settings.WEBHOOK_MAX_ATTEMPTS = 2
    _, _, delivery = one_delivery(f"{receiver.url}/hooks/ok")
    now = timezone.now()
    _claim(delivery.pk, now, None)  # crashed
    now += timedelta(seconds=lease_seconds())
    _claim(delivery.pk, now, None)  # crashed again: the second and last attempt
    now += timedelta(seconds=lease_seconds())

    assert deliver(delivery_id=delivery.pk, now=now) == Outcome.FAILED

    assert receiver.received == []
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.FAILED, 2)
    assert delivery.next_attempt_at is None and "Gave up after 2 attempts" in delivery.last_error
    assert set(delivery.log.values_list("error", flat=True)) == {LEASE_EXPIRED}


def test_a_replay_gets_one_more_attempt_beyond_the_cap(receiver, settings, monkeypatch):
    monkeypatch.setattr(tasks.deliver, "delay", lambda *a, **k: None)
    settings.WEBHOOK_MAX_ATTEMPTS = 1
    _, _, delivery = one_delivery(f"{receiver.url}/hooks/ok")
    WebhookDelivery.objects.filter(pk=delivery.pk).update(status=DeliveryStatus.FAILED, attempts=1)
    DeliveryAttempt.objects.create(delivery=delivery, number=1, status_code=500)

    replay_delivery(delivery=delivery, actor=None)
    delivery.refresh_from_db()
    assert delivery.replay_requested

    assert deliver(delivery_id=delivery.pk) == Outcome.DELIVERED
    latest = delivery.log.order_by("-number").first()
    assert (latest.number, latest.replay, latest.status_code) == (2, True, 200)
    delivery.refresh_from_db()
    assert not delivery.replay_requested


def test_a_secret_we_cannot_decrypt_is_not_the_listeners_failure(
    receiver, settings, mailoutbox, caplog
):
    settings.WEBHOOK_SUSPEND_AFTER_FAILURES = 1
    _, subscription, delivery = one_delivery(f"{receiver.url}/hooks/ok")
    Subscription.objects.filter(pk=subscription.pk).update(secret_encrypted="not-a-fernet-token")

    assert deliver(delivery_id=delivery.pk) == Outcome.RETRYING

    assert receiver.received == []
    assert delivery.log.get().error == UNDECRYPTABLE
    subscription.refresh_from_db()
    assert subscription.status == SubscriptionStatus.ENABLED
    assert subscription.consecutive_failures == 0
    assert mailoutbox == []
    errors = [r for r in caplog.records if r.levelname == "ERROR"]
    assert errors and "cannot be decrypted" in errors[0].getMessage()

"""Sending one delivery: claim an attempt, re-check access and the listener, POST, record.

Locks are always taken in the same order, the subscription's row first and then the
delivery's, here and in tracking.webhooks.services (delete, suspend, replay), so a delivery
being recorded and its subscription being deleted cannot deadlock.

1. Claim (short transaction, row locks): the delivery must be PENDING or RETRYING and due, its
   subscription live and ENABLED. An attempt still "in progress" from an earlier claim whose
   lease ran out is marked as having no result. A delivery that already used
   WEBHOOK_MAX_ATTEMPTS attempts (crashed ones included) is FAILED, unless a replay asked for
   one more. The access decision is asked again for the piece's MID: a denial (revoked MID,
   billing hold, suspended provider...) makes the delivery BLOCKED with the reason logged as
   an attempt, and nothing is sent. Otherwise attempt N+1 is written at once (unique per
   delivery and number) with the grant the decision allowed it on (the disclosure record),
   and the delivery is leased for longer than the POST may take, so a second worker running
   the same delivery finds it claimed and sends nothing. If writing any of this fails, the
   transaction rolls back and nothing is sent.
2. Outside any transaction: the listener URL is checked again (SSRF, DNS resolved now) and the
   notification is POSTed to the checked address, signed, within a hard deadline.
3. Record (short transaction): the attempt's row gets its result. If the claim is still the
   current one: 2xx -> DELIVERED and the subscription's failure count reset; anything else ->
   RETRYING after an exponential backoff, FAILED after WEBHOOK_MAX_ATTEMPTS, and the
   subscription SUSPENDED after WEBHOOK_SUSPEND_AFTER_FAILURES failures in a row. A stale
   claim (another worker has claimed a later attempt since, the delivery was finished or
   stopped, or the subscription was deleted) only fills in its attempt's row.
"""

import logging
import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from agreements.decision import decide
from core.errors import DomainError
from tracking.constants import DeliveryStatus, SubscriptionStatus
from tracking.models import DeliveryAttempt, Subscription, WebhookDelivery
from tracking.webhooks import listeners, payloads, transport
from tracking.webhooks.secrets import SecretUnavailable, decrypt_secret
from tracking.webhooks.services import subscription_suspend
from tracking.webhooks.signing import sign

logger = logging.getLogger(__name__)

SUSPEND_REASON = "Unable to reach listener"
IN_PROGRESS = "In progress: no result recorded yet."
LEASE_EXPIRED = (
    "No result (lease expired): the worker stopped, or took longer than its lease, before "
    "recording an answer."
)
UNDECRYPTABLE = (
    "Not sent: the subscription's secret could not be decrypted on our side (our "
    "configuration, not your listener); we have been alerted and it is retried."
)
# How much longer than the POST's deadline a claimed attempt keeps other workers away: room
# for the DNS check, building the payload and recording the answer.
LEASE_EXTRA_SECONDS = 60
WAITING = (DeliveryStatus.PENDING, DeliveryStatus.RETRYING)


class Outcome:
    DELIVERED = "delivered"
    RETRYING = "retrying"
    FAILED = "failed"
    BLOCKED = "blocked"
    SKIPPED = "skipped"  # not due, already claimed, final, or the subscription is not enabled
    STALE = "stale"  # the answer came after the claim stopped being current: only logged


@dataclass(frozen=True, slots=True)
class _Claim:
    delivery_id: int
    subscription_id: int
    attempt_id: int
    number: int
    replay: bool


def lease_seconds() -> float:
    """How long a claim holds a delivery: strictly longer than the POST's hard deadline."""
    return transport.deadline_seconds() + LEASE_EXTRA_SECONDS


def backoff_seconds(attempts: int) -> int:
    """Wait after the `attempts`-th failed attempt: base x 2^(attempts-1), capped."""
    base = settings.WEBHOOK_BACKOFF_BASE_SECONDS
    return min(base * 2 ** max(attempts - 1, 0), settings.WEBHOOK_BACKOFF_MAX_SECONDS)


def _jitter(seconds: int) -> timedelta:
    # Up to 10% later, so a listener coming back is not hit by every retry at once.
    return timedelta(seconds=seconds * (1 + random.random() / 10))  # noqa: S311


@sensitive_variables("secret", "headers")
def deliver(
    *, delivery_id: int, now: datetime | None = None, requested_by_id: int | None = None
) -> str:
    now = now or timezone.now()
    claim = _claim(delivery_id, now, requested_by_id)
    if isinstance(claim, str):
        return claim
    delivery = WebhookDelivery.objects.select_related("subscription", "piece").get(pk=delivery_id)
    subscription = delivery.subscription
    try:
        listener = listeners.check_url(subscription.listener_url)
    except DomainError as exc:
        return _record(claim, status_code=None, error=exc.message, duration_ms=None, now=now)
    try:
        secret = decrypt_secret(subscription.secret_encrypted)
    except SecretUnavailable:
        # Our fault (a key removed before re-encrypting): staff must act; the customer's
        # listener is not to blame, so this neither counts towards suspension nor e-mails them.
        logger.error(
            "webhook delivery %s not sent: the secret of subscription %s cannot be decrypted "
            "with WEBHOOK_SECRET_KEYS",
            delivery.public_id,
            subscription.public_id,
        )
        return _record(
            claim, status_code=None, error=UNDECRYPTABLE, duration_ms=None, now=now, ours=True
        )
    notification = payloads.build(
        subscription=subscription, piece=delivery.piece, event_type=delivery.event_type, now=now
    )
    headers = {
        "Content-Type": "application/json",
        "X-HMAC": sign(
            secret=secret, timestamp=notification.timestamp, payload=notification.payload
        ),
        "X-USPS-Timestamp": notification.timestamp,
        "X-Delivery-ID": str(delivery.public_id),
        "X-Delivery-Attempt": str(claim.number),
        "X-Subscription-ID": str(subscription.public_id),
    }
    answer = transport.post(listener=listener, body=notification.body, headers=headers)
    return _record(
        claim,
        status_code=answer.status_code,
        error="" if answer.ok else (answer.error or f"The listener answered {answer.status_code}."),
        duration_ms=answer.duration_ms,
        now=now,
        ok=answer.ok,
    )


def _share_lock_subscription(subscription_id: int) -> None:
    """FOR SHARE: claims of the same subscription's deliveries do not wait for each other,
    while a delete, suspension or status change (FOR NO KEY UPDATE) waits for them."""
    table = connection.ops.quote_name(Subscription._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT 1 FROM {table} WHERE id = %s FOR SHARE", [subscription_id])  # noqa: S608


def _claim(delivery_id: int, now: datetime, requested_by_id: int | None) -> _Claim | str:
    subscription_id = (
        WebhookDelivery.objects.filter(pk=delivery_id)
        .values_list("subscription_id", flat=True)
        .first()
    )
    if subscription_id is None:
        return Outcome.SKIPPED
    with transaction.atomic():
        _share_lock_subscription(subscription_id)
        delivery = (
            WebhookDelivery.objects.select_for_update(no_key=True, of=("self",))
            .select_related("subscription__provider", "piece")
            .filter(pk=delivery_id)
            .first()
        )
        if delivery is None or delivery.status not in WAITING:
            return Outcome.SKIPPED
        if delivery.next_attempt_at is not None and delivery.next_attempt_at > now:
            return Outcome.SKIPPED
        subscription = delivery.subscription
        if subscription.deleted_at is not None or subscription.status != SubscriptionStatus.ENABLED:
            # Left waiting: sent when the subscription is enabled again (a deleted one's
            # deliveries were stopped by the delete).
            return Outcome.SKIPPED
        if delivery.attempts:
            # Due while an attempt is still "in progress": its lease ran out without a result.
            DeliveryAttempt.objects.filter(delivery=delivery, error=IN_PROGRESS).update(
                error=LEASE_EXPIRED
            )
        replay = delivery.replay_requested
        if not replay and delivery.attempts >= settings.WEBHOOK_MAX_ATTEMPTS:
            # Only crashed or timed-out-and-unrecorded attempts get here: _record gives up
            # after the last attempt it records.
            return _give_up(delivery)
        number = delivery.attempts + 1
        decision = decide(provider=subscription.provider, mid=delivery.piece.mid or None)
        if not decision.allowed:
            return _block(delivery, decision, number, replay, requested_by_id)
        basis = decision.basis
        attempt = DeliveryAttempt.objects.create(
            delivery=delivery,
            number=number,
            error=IN_PROGRESS,
            replay=replay,
            requested_by_id=requested_by_id if replay else None,
            basis=f"{basis.kind}:{basis.pk}" if basis else "",
        )
        delivery.attempts = number
        delivery.replay_requested = False
        delivery.next_attempt_at = now + timedelta(seconds=lease_seconds())
        delivery.save(
            update_fields=["attempts", "replay_requested", "next_attempt_at", "updated_at"]
        )
    return _Claim(delivery_id, subscription_id, attempt.pk, number, replay)


def _give_up(delivery: WebhookDelivery) -> str:
    delivery.status = DeliveryStatus.FAILED
    delivery.next_attempt_at = None
    delivery.last_status_code = None
    delivery.last_error = (
        f"Gave up after {delivery.attempts} attempts (WEBHOOK_MAX_ATTEMPTS is "
        f"{settings.WEBHOOK_MAX_ATTEMPTS}); the last had no result."
    )
    delivery.save(
        update_fields=["status", "next_attempt_at", "last_status_code", "last_error", "updated_at"]
    )
    logger.info("webhook delivery %s failed: %s", delivery.public_id, delivery.last_error)
    return Outcome.FAILED


def _block(delivery, decision, number: int, replay: bool, requested_by_id: int | None) -> str:
    reason = decision.reasons[0] if decision.reasons else None
    error = (
        f"Not sent: access denied ({reason.code}: {reason.message})"
        if reason
        else "Not sent: access denied"
    )[:500]
    DeliveryAttempt.objects.create(
        delivery=delivery,
        number=number,
        error=error,
        replay=replay,
        requested_by_id=requested_by_id if replay else None,
    )
    delivery.status = DeliveryStatus.BLOCKED
    delivery.attempts = number
    delivery.replay_requested = False
    delivery.next_attempt_at = None
    delivery.last_status_code = None
    delivery.last_error = error
    delivery.save(
        update_fields=[
            "status",
            "attempts",
            "replay_requested",
            "next_attempt_at",
            "last_status_code",
            "last_error",
            "updated_at",
        ]
    )
    logger.info("webhook delivery %s blocked: %s", delivery.public_id, error)
    return Outcome.BLOCKED


def _record(
    claim: _Claim,
    *,
    status_code: int | None,
    error: str,
    duration_ms: int | None,
    now: datetime,
    ok: bool = False,
    ours: bool = False,
) -> str:
    """Write the attempt's result; `ours` = the failure is our side's, not the listener's."""
    suspend = False
    with transaction.atomic():
        # Subscription first, then the delivery: the order subscription_delete locks them in.
        subscription = Subscription.objects.select_for_update(no_key=True).get(
            pk=claim.subscription_id
        )
        delivery = WebhookDelivery.objects.select_for_update(no_key=True).get(pk=claim.delivery_id)
        DeliveryAttempt.objects.filter(pk=claim.attempt_id).update(
            status_code=status_code, error=error[:500], duration_ms=duration_ms
        )
        if (
            delivery.attempts != claim.number
            or delivery.status not in WAITING
            or subscription.deleted_at is not None
        ):
            # A later attempt was claimed since (our lease ran out), the delivery was finished
            # or stopped, or the subscription was deleted: this answer is only logged.
            logger.info(
                "webhook delivery %s: late result of attempt %s logged only",
                delivery.public_id,
                claim.number,
            )
            return Outcome.STALE
        delivery.last_status_code = status_code
        delivery.last_error = error[:500]
        fields = ["status", "next_attempt_at", "last_status_code", "last_error", "updated_at"]
        if ok:
            delivery.status = DeliveryStatus.DELIVERED
            delivery.delivered_at = timezone.now()
            delivery.next_attempt_at = None
            fields.append("delivered_at")
            outcome = Outcome.DELIVERED
            Subscription.objects.filter(pk=subscription.pk).update(
                consecutive_failures=0, last_delivery_at=delivery.delivered_at
            )
        else:
            if claim.number >= settings.WEBHOOK_MAX_ATTEMPTS:
                delivery.status = DeliveryStatus.FAILED
                delivery.next_attempt_at = None
                outcome = Outcome.FAILED
            else:
                delivery.status = DeliveryStatus.RETRYING
                delivery.next_attempt_at = now + _jitter(backoff_seconds(claim.number))
                outcome = Outcome.RETRYING
            if not ours:
                failures = subscription.consecutive_failures + 1
                Subscription.objects.filter(pk=subscription.pk).update(
                    consecutive_failures=F("consecutive_failures") + 1
                )
                suspend = failures >= settings.WEBHOOK_SUSPEND_AFTER_FAILURES
        delivery.save(update_fields=fields)
        if suspend and subscription_suspend(subscription_id=subscription.pk, reason=SUSPEND_REASON):
            subscription_id = subscription.pk
            transaction.on_commit(lambda: notify_suspended(subscription_id=subscription_id))
    return outcome


def notify_suspended(*, subscription_id: int) -> None:
    """Tell the subscription's admin e-mails that it is suspended and how to resume it."""
    subscription = Subscription.objects.get(pk=subscription_id)
    if not subscription.admin_emails:
        return
    target = subscription.mid and f"MID {subscription.mid}" or subscription.tracking_number
    try:
        send_mail(
            subject=f"Tracking webhook suspended: {target}",
            message=(
                f"The tracking subscription {subscription.public_id} ({target}) is suspended: "
                f"{SUSPEND_REASON}.\n\nAfter {subscription.consecutive_failures} failed "
                f"attempts in a row to POST to {subscription.listener_url}, no more "
                "notifications are sent. Fix the listener, then set the subscription's status "
                "to ENABLED (PUT /subscriptions-tracking/v3r2/subscriptions/"
                f"{subscription.public_id}, or Enable in the portal's Webhooks page). "
                "Deliveries still waiting are then sent.\n"
            ),
            from_email=settings.DEFAULT_FROM_EMAIL,
            recipient_list=list(subscription.admin_emails),
        )
    except Exception:  # noqa: BLE001 - the suspension stands even if the e-mail fails
        logger.exception("could not e-mail the suspension of subscription %s", subscription_id)

"""Sending one delivery: claim an attempt, re-check access and the listener, POST, record.

1. Claim (short transaction, row lock): the delivery must be PENDING or RETRYING and due, its
   subscription live and ENABLED. The access decision is asked again for the piece's MID: a
   denial (revoked MID, billing hold, suspended provider...) makes the delivery BLOCKED with the
   reason logged as an attempt, and nothing is sent. Otherwise attempt N+1 is written at once
   (unique per delivery and number) and the delivery is leased for a while, so a second worker
   running the same delivery finds it claimed and sends nothing.
2. Outside any transaction: the listener URL is checked again (SSRF, DNS resolved now) and the
   notification is POSTed to the checked address, signed.
3. Record (short transaction): 2xx -> DELIVERED and the subscription's failure count reset;
   anything else -> RETRYING after an exponential backoff, FAILED after WEBHOOK_MAX_ATTEMPTS,
   and the subscription SUSPENDED after WEBHOOK_SUSPEND_AFTER_FAILURES failures in a row.
"""

import logging
import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from agreements.decision import decide
from core.errors import DomainError
from tracking.constants import DeliveryStatus, SubscriptionStatus
from tracking.models import DeliveryAttempt, Subscription, WebhookDelivery
from tracking.webhooks import listeners, payloads, transport
from tracking.webhooks.secrets import decrypt_secret
from tracking.webhooks.services import subscription_suspend
from tracking.webhooks.signing import sign

logger = logging.getLogger(__name__)

SUSPEND_REASON = "Unable to reach listener"
IN_PROGRESS = "In progress: no result was recorded (the worker stopped during the attempt)."
# How long a claimed attempt keeps others away: the POST's timeouts and some room.
LEASE_EXTRA_SECONDS = 60


class Outcome:
    DELIVERED = "delivered"
    RETRYING = "retrying"
    FAILED = "failed"
    BLOCKED = "blocked"
    SKIPPED = "skipped"  # not due, already claimed, final, or the subscription is not enabled


@dataclass(frozen=True, slots=True)
class _Claim:
    delivery_id: int
    attempt_id: int
    number: int
    replay: bool


def backoff_seconds(attempts: int) -> int:
    """Wait after the `attempts`-th failed attempt: base x 2^(attempts-1), capped."""
    base = settings.WEBHOOK_BACKOFF_BASE_SECONDS
    return min(base * 2 ** max(attempts - 1, 0), settings.WEBHOOK_BACKOFF_MAX_SECONDS)


def _jitter(seconds: int) -> timedelta:
    # Up to 10% later, so a listener coming back is not hit by every retry at once.
    return timedelta(seconds=seconds * (1 + random.random() / 10))  # noqa: S311


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
        secret = decrypt_secret(subscription.secret_encrypted)
    except DomainError as exc:
        return _record(claim, status_code=None, error=exc.message, duration_ms=None, now=now)
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


def _claim(delivery_id: int, now: datetime, requested_by_id: int | None) -> _Claim | str:
    with transaction.atomic():
        delivery = (
            WebhookDelivery.objects.select_for_update(no_key=True, of=("self",))
            .select_related("subscription__provider", "piece")
            .filter(pk=delivery_id)
            .first()
        )
        if delivery is None or delivery.status not in (
            DeliveryStatus.PENDING,
            DeliveryStatus.RETRYING,
        ):
            return Outcome.SKIPPED
        if delivery.next_attempt_at is not None and delivery.next_attempt_at > now:
            return Outcome.SKIPPED
        subscription = delivery.subscription
        if subscription.deleted_at is not None or subscription.status != SubscriptionStatus.ENABLED:
            # Left waiting: sent when the subscription is enabled again (a deleted one's
            # deliveries were stopped by the delete).
            return Outcome.SKIPPED
        # A PENDING delivery that was already attempted was put back by a replay.
        replay = delivery.status == DeliveryStatus.PENDING and delivery.attempts > 0
        number = delivery.attempts + 1
        decision = decide(provider=subscription.provider, mid=delivery.piece.mid or None)
        if not decision.allowed:
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
            delivery.next_attempt_at = None
            delivery.last_status_code = None
            delivery.last_error = error
            delivery.save(
                update_fields=[
                    "status",
                    "attempts",
                    "next_attempt_at",
                    "last_status_code",
                    "last_error",
                    "updated_at",
                ]
            )
            logger.info("webhook delivery %s blocked: %s", delivery.public_id, error)
            return Outcome.BLOCKED
        attempt = DeliveryAttempt.objects.create(
            delivery=delivery,
            number=number,
            error=IN_PROGRESS,
            replay=replay,
            requested_by_id=requested_by_id if replay else None,
        )
        lease = settings.WEBHOOK_TIMEOUT_SECONDS * 2 + LEASE_EXTRA_SECONDS
        delivery.attempts = number
        delivery.next_attempt_at = now + timedelta(seconds=lease)
        delivery.save(update_fields=["attempts", "next_attempt_at", "updated_at"])
    return _Claim(delivery_id, attempt.pk, number, replay)


def _record(
    claim: _Claim,
    *,
    status_code: int | None,
    error: str,
    duration_ms: int | None,
    now: datetime,
    ok: bool = False,
) -> str:
    suspend = False
    with transaction.atomic():
        delivery = WebhookDelivery.objects.select_for_update(no_key=True).get(pk=claim.delivery_id)
        DeliveryAttempt.objects.filter(pk=claim.attempt_id).update(
            status_code=status_code, error=error[:500], duration_ms=duration_ms
        )
        delivery.last_status_code = status_code
        delivery.last_error = error[:500]
        fields = ["status", "next_attempt_at", "last_status_code", "last_error", "updated_at"]
        if ok:
            delivery.status = DeliveryStatus.DELIVERED
            delivery.delivered_at = timezone.now()
            delivery.next_attempt_at = None
            fields.append("delivered_at")
            outcome = Outcome.DELIVERED
            Subscription.objects.filter(pk=delivery.subscription_id).update(
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
            Subscription.objects.filter(pk=delivery.subscription_id).update(
                consecutive_failures=F("consecutive_failures") + 1
            )
            failures = (
                Subscription.objects.filter(pk=delivery.subscription_id)
                .values_list("consecutive_failures", flat=True)
                .get()
            )
            suspend = failures >= settings.WEBHOOK_SUSPEND_AFTER_FAILURES
        delivery.save(update_fields=fields)
        if suspend and subscription_suspend(
            subscription_id=delivery.subscription_id, reason=SUSPEND_REASON
        ):
            subscription_id = delivery.subscription_id
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

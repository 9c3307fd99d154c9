"""Celery tasks of the webhooks: ids in, services do the work, safe to run twice."""

from celery import shared_task
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from tracking.constants import DeliveryStatus, SubscriptionStatus

# Deliveries enqueued per beat run; the rest wait for the next run (every minute).
DUE_BATCH = 500


@shared_task(acks_late=True, ignore_result=True)
def fan_out_new_events(piece_ids: list[int], after_event_id: int | None = None) -> int:
    """Deliveries for the pieces an import gave new events; each is enqueued on commit."""
    from tracking.webhooks.fanout import fan_out

    queued = fan_out(piece_ids=piece_ids, after_event_id=after_event_id)
    transaction.on_commit(lambda: [deliver.delay(pk) for pk in queued])
    return len(queued)


@shared_task(acks_late=True, ignore_result=True)
def deliver(delivery_id: int, requested_by_id: int | None = None) -> str:
    """One attempt of one delivery, if it is due; a second copy of the task sends nothing."""
    from tracking.webhooks.delivery import deliver as deliver_now

    return deliver_now(delivery_id=delivery_id, requested_by_id=requested_by_id)


@shared_task(acks_late=True, ignore_result=True)
def send_due_deliveries() -> int:
    """Beat, every minute: enqueue the deliveries whose (re)try time has come, including ones
    whose task was lost and claimed attempts whose worker died (their lease ran out)."""
    from tracking.models import WebhookDelivery

    due = list(
        WebhookDelivery.objects.filter(
            Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=timezone.now()),
            status__in=[DeliveryStatus.PENDING, DeliveryStatus.RETRYING],
            subscription__status=SubscriptionStatus.ENABLED,
            subscription__deleted_at__isnull=True,
        )
        .order_by("next_attempt_at", "pk")
        .values_list("pk", flat=True)[:DUE_BATCH]
    )
    for pk in due:
        deliver.delay(pk)
    return len(due)

"""Reads of webhook data, always scoped to one provider: another provider's ids find nothing."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, FilteredRelation, Prefetch, Q, QuerySet
from django.utils import timezone

from tracking.constants import DeliveryStatus, SubscriptionStatus
from tracking.models import DeliveryAttempt, Subscription, WebhookDelivery

LOG_DELIVERIES = 50
# The portal's counts cover this many recent days (the pages say so): the index on
# (subscription, -created_at) then reads a bounded range, however old the subscription.
COUNT_DAYS = 30


def counts_since(now: datetime | None = None) -> datetime:
    return (now or timezone.now()) - timedelta(days=COUNT_DAYS)


def subscriptions_for_provider(*, provider_id: int) -> QuerySet[Subscription]:
    """The provider's live (not deleted) subscriptions, newest first."""
    return Subscription.objects.filter(provider_id=provider_id, deleted_at__isnull=True)


def subscriptions_filtered(
    *, provider_id: int, mids: list[str], numbers: list[str]
) -> QuerySet[Subscription]:
    found = subscriptions_for_provider(provider_id=provider_id)
    if mids or numbers:
        found = found.filter(Q(mid__in=mids) | Q(tracking_number__in=numbers))
    return found.order_by("-created_at", "-pk")


def subscriptions_with_counts(
    *, provider_id: int, now: datetime | None = None
) -> QuerySet[Subscription]:
    """For the portal's table: delivered, failed and waiting counts of the deliveries created
    in the last COUNT_DAYS days, in the same query (the date is in the join's ON clause, so
    older deliveries are not read)."""
    return (
        subscriptions_for_provider(provider_id=provider_id)
        .annotate(
            recent=FilteredRelation(
                "deliveries", condition=Q(deliveries__created_at__gte=counts_since(now))
            )
        )
        .annotate(
            delivered=Count("recent", filter=Q(recent__status=DeliveryStatus.DELIVERED)),
            failed=Count(
                "recent",
                filter=Q(recent__status__in=[DeliveryStatus.FAILED, DeliveryStatus.BLOCKED]),
            ),
            waiting=Count(
                "recent",
                filter=Q(recent__status__in=[DeliveryStatus.PENDING, DeliveryStatus.RETRYING]),
            ),
        )
    )


def subscription_of(*, provider_id: int, public_id) -> Subscription | None:
    return subscriptions_for_provider(provider_id=provider_id).filter(public_id=public_id).first()


def deliveries_of_provider(*, provider_id: int) -> QuerySet[WebhookDelivery]:
    """Deliveries of the provider's live subscriptions."""
    return WebhookDelivery.objects.filter(
        subscription__provider_id=provider_id, subscription__deleted_at__isnull=True
    )


@dataclass(frozen=True)
class DeliveryLog:
    deliveries: list[WebhookDelivery]  # each with .log (its attempts, newest first)
    total: int  # deliveries created in the last COUNT_DAYS days
    days: int = COUNT_DAYS


def delivery_log(*, subscription: Subscription, limit: int = LOG_DELIVERIES) -> DeliveryLog:
    """The newest deliveries of one subscription with their attempts: three queries."""
    deliveries = (
        subscription.deliveries.select_related("piece", "last_event")
        .prefetch_related(Prefetch("log", queryset=DeliveryAttempt.objects.order_by("-number")))
        .order_by("-created_at", "-pk")[:limit]
    )
    recent = subscription.deliveries.filter(created_at__gte=counts_since()).count()
    return DeliveryLog(deliveries=list(deliveries), total=recent)


def enabled_subscriptions() -> QuerySet[Subscription]:
    """Every provider's subscriptions that can receive notifications now."""
    return Subscription.objects.filter(status=SubscriptionStatus.ENABLED, deleted_at__isnull=True)

"""Reads of webhook data, always scoped to one provider: another provider's ids find nothing."""

from dataclasses import dataclass

from django.db.models import Count, Prefetch, Q, QuerySet

from tracking.constants import DeliveryStatus, SubscriptionStatus
from tracking.models import DeliveryAttempt, Subscription, WebhookDelivery

LOG_DELIVERIES = 50


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


def subscriptions_with_counts(*, provider_id: int) -> QuerySet[Subscription]:
    """For the portal's table: delivered and failed counts in the same query."""
    return subscriptions_for_provider(provider_id=provider_id).annotate(
        delivered=Count("deliveries", filter=Q(deliveries__status=DeliveryStatus.DELIVERED)),
        failed=Count(
            "deliveries",
            filter=Q(deliveries__status__in=[DeliveryStatus.FAILED, DeliveryStatus.BLOCKED]),
        ),
        waiting=Count(
            "deliveries",
            filter=Q(deliveries__status__in=[DeliveryStatus.PENDING, DeliveryStatus.RETRYING]),
        ),
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
    total: int


def delivery_log(*, subscription: Subscription, limit: int = LOG_DELIVERIES) -> DeliveryLog:
    """The newest deliveries of one subscription with their attempts: three queries."""
    deliveries = (
        subscription.deliveries.select_related("piece", "last_event")
        .prefetch_related(Prefetch("log", queryset=DeliveryAttempt.objects.order_by("-number")))
        .order_by("-created_at", "-pk")[:limit]
    )
    return DeliveryLog(deliveries=list(deliveries), total=subscription.deliveries.count())


def enabled_subscriptions() -> QuerySet[Subscription]:
    """Every provider's subscriptions that can receive notifications now."""
    return Subscription.objects.filter(status=SubscriptionStatus.ENABLED, deleted_at__isnull=True)

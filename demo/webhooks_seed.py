"""The webhooks' demo: one subscription per demo provider for one of its MIDs, made with the
real service (so it is checked and audited), then DISABLED: the demo has no listener, and an
enabled subscription would fail its deliveries until it is suspended. Enable it in the portal
after pointing it at a listener (PUT listenerURL through the API). Idempotent: a provider that
already has a live subscription for the MID is left alone."""

from typing import Any

from django.conf import settings

from accounts.models import Provider, User
from core.errors import DomainError
from tracking.constants import SubscriptionStatus, TrackingEventType
from tracking.models import Subscription
from tracking.webhooks.services import subscription_create, subscription_update

# Loopback and http are allowed in development only (WEBHOOK_ALLOW_LOOPBACK, REQUIRE_HTTPS).
DEMO_LISTENER = "http://127.0.0.1:9/demo-listener"


def demo_secret(mid: str) -> str:
    """Known, like the demo passwords: 32 characters from DEMO_PASSWORD and the MID."""
    return f"{settings.DEMO_PASSWORD}-webhook-{mid}".ljust(32, "x")[:32]


def seed_webhooks(
    *, provider: Provider, mid: str, actor: User | None, listener_url: str = DEMO_LISTENER
) -> dict[str, Any]:
    """Returns the entry for seed_demo's report: the subscription id, its MID and secret."""
    subscription = Subscription.objects.filter(
        provider=provider, mid=mid, deleted_at__isnull=True
    ).first()
    created = subscription is None
    if created:
        try:
            subscription = subscription_create(
                provider=provider,
                app=None,
                actor=actor,
                mid=mid,
                event_types=[TrackingEventType.ALL_UPDATES],
                listener_url=listener_url,
                secret=demo_secret(mid),
                admin_emails=[actor.email] if actor and actor.email else ["demo@example.com"],
            )
        except DomainError as exc:
            return {"provider": provider.legal_name, "mid": mid, "error": exc.message}
        subscription_update(
            subscription=subscription, actor=actor, status=SubscriptionStatus.DISABLED
        )
    return {
        "provider": provider.legal_name,
        "subscription_id": str(subscription.public_id),
        "mid": mid,
        "listener_url": subscription.listener_url,
        "secret": demo_secret(mid),
        "status": subscription.status,
        "created": created,
    }

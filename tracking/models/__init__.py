"""The tracking app's records: the API and its store (store.py), scan event extracts
(extracts.py) and tracking webhooks (webhooks.py)."""

from tracking.models.extracts import Extract, ExtractDownload
from tracking.models.store import (
    ApiApp,
    DailyUsage,
    Disclosure,
    MailPiece,
    ProviderApiQuota,
    TrackingEvent,
)
from tracking.models.webhooks import DeliveryAttempt, Subscription, WebhookDelivery

__all__ = [
    "ApiApp",
    "DailyUsage",
    "DeliveryAttempt",
    "Disclosure",
    "Extract",
    "ExtractDownload",
    "MailPiece",
    "ProviderApiQuota",
    "Subscription",
    "TrackingEvent",
    "WebhookDelivery",
]

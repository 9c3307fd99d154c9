"""Vocabularies of the tracking API: OAuth scopes, app statuses, disclosure outcomes."""

from django.db import models

# The scopes this server can grant. Real USPS clients ask for many more at once ("addresses
# tracking labels prices"); the token endpoint grants the ones the app holds and ignores the rest.
SCOPE_TRACKING = "tracking"
SCOPE_SUBSCRIPTIONS_TRACKING = "subscriptions-tracking"
SCOPES: dict[str, str] = {
    SCOPE_TRACKING: "Read package tracking data (Tracking 3.0 and 3.2)",
    SCOPE_SUBSCRIPTIONS_TRACKING: "Manage tracking webhooks (Subscriptions-Tracking 3.2)",
}
DEFAULT_APP_SCOPES: tuple[str, ...] = (SCOPE_TRACKING,)


class ApiAppStatus(models.TextChoices):
    ACTIVE = "ACTIVE", "Active"
    REVOKED = "REVOKED", "Revoked"


API_APP_TRANSITIONS: dict[str, frozenset[str]] = {
    ApiAppStatus.ACTIVE: frozenset({ApiAppStatus.REVOKED}),
    ApiAppStatus.REVOKED: frozenset(),
}

# What a disclosure record says happened; denials carry the decision's reason code as well.
ALLOWED_REASON = ""


# --- Scan event extracts (docs/extracts.md)


class ExtractFormat(models.TextChoices):
    NDJSON = "NDJSON", "NDJSON (one JSON record per line), gzip"
    CSV = "CSV", "CSV, gzip"


class ExtractSource(models.TextChoices):
    PORTAL = "PORTAL", "Portal"
    API = "API", "API"


class ExtractStatus(models.TextChoices):
    PENDING_APPROVAL = "PENDING_APPROVAL", "Waiting for staff approval"
    QUEUED = "QUEUED", "Queued"
    BUILDING = "BUILDING", "Building"
    READY = "READY", "Ready to download"
    FAILED = "FAILED", "Failed"
    REJECTED = "REJECTED", "Rejected by staff"
    EXPIRED = "EXPIRED", "Expired"


EXTRACT_TRANSITIONS: dict[str, frozenset[str]] = {
    ExtractStatus.PENDING_APPROVAL: frozenset({ExtractStatus.QUEUED, ExtractStatus.REJECTED}),
    ExtractStatus.QUEUED: frozenset({ExtractStatus.BUILDING, ExtractStatus.FAILED}),
    # BUILDING -> QUEUED: a build whose worker died is started again from the beginning.
    ExtractStatus.BUILDING: frozenset(
        {ExtractStatus.READY, ExtractStatus.FAILED, ExtractStatus.QUEUED}
    ),
    ExtractStatus.READY: frozenset({ExtractStatus.EXPIRED}),
    ExtractStatus.FAILED: frozenset(),
    ExtractStatus.REJECTED: frozenset(),
    ExtractStatus.EXPIRED: frozenset(),
}


# --- Tracking webhooks, Subscriptions-Tracking 3.2 (docs/webhooks.md)


class SubscriptionStatus(models.TextChoices):
    ENABLED = "ENABLED", "Enabled"
    DISABLED = "DISABLED", "Disabled"
    SUSPENDED = "SUSPENDED", "Suspended"


SUBSCRIPTION_TRANSITIONS: dict[str, frozenset[str]] = {
    SubscriptionStatus.ENABLED: frozenset(
        {SubscriptionStatus.DISABLED, SubscriptionStatus.SUSPENDED}
    ),
    SubscriptionStatus.DISABLED: frozenset({SubscriptionStatus.ENABLED}),
    SubscriptionStatus.SUSPENDED: frozenset(
        {SubscriptionStatus.ENABLED, SubscriptionStatus.DISABLED}
    ),
}


class SubscriptionFilter(models.TextChoices):
    MID = "MID", "Mailer ID"
    TRACKING_NUMBER = "TRACKING_NUMBER", "Tracking number"


class TrackingEventType(models.TextChoices):
    ALL_UPDATES = "ALL_UPDATES", "Every new tracking update (not Package Delayed)"
    DELIVERY_ACTIVITY = "DELIVERY_ACTIVITY", "Delivered, delayed or action needed"
    PACKAGE_DELAYED = "PACKAGE_DELAYED", "Package delayed"
    SCAN_EVENT_EXTRACT = "SCAN_EVENT_EXTRACT", "Every scan, in the detailed scan format (MID only)"


class DeliveryStatus(models.TextChoices):
    PENDING = "PENDING", "Pending"
    RETRYING = "RETRYING", "Retrying"
    DELIVERED = "DELIVERED", "Delivered"
    FAILED = "FAILED", "Failed (gave up)"
    BLOCKED = "BLOCKED", "Not sent: access denied at delivery time"

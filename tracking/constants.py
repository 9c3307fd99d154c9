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

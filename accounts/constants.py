"""Provider and membership vocabularies, and the provider state machine."""

from django.db import models


class ProviderType(models.TextChoices):
    SHIPPER = "SHIPPER", "Shipper"
    PLATFORM = "PLATFORM", "Platform or consolidator"
    SERVICE_PROVIDER = "SERVICE_PROVIDER", "Service provider"


class ProviderStatus(models.TextChoices):
    PENDING_REVIEW = "PENDING_REVIEW", "Pending review"
    ACTIVE = "ACTIVE", "Active"
    SUSPENDED = "SUSPENDED", "Suspended"
    CLOSED = "CLOSED", "Closed"


class SuspensionCause(models.TextChoices):
    STAFF_ACTION = "STAFF_ACTION", "Staff action"
    NON_PAYMENT = "NON_PAYMENT", "Non-payment"


class MembershipRole(models.TextChoices):
    OWNER = "OWNER", "Owner"
    ADMIN = "ADMIN", "Administrator"
    DEVELOPER = "DEVELOPER", "Developer"
    BILLING = "BILLING", "Billing"


PROVIDER_TRANSITIONS: dict[str, frozenset[str]] = {
    ProviderStatus.PENDING_REVIEW: frozenset({ProviderStatus.ACTIVE, ProviderStatus.CLOSED}),
    ProviderStatus.ACTIVE: frozenset({ProviderStatus.SUSPENDED, ProviderStatus.CLOSED}),
    ProviderStatus.SUSPENDED: frozenset({ProviderStatus.ACTIVE, ProviderStatus.CLOSED}),
    ProviderStatus.CLOSED: frozenset(),
}

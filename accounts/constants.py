"""Provider, membership and invitation vocabularies, and their state machines."""

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


class InvitationStatus(models.TextChoices):
    PENDING = "PENDING", "Pending"
    ACCEPTED = "ACCEPTED", "Accepted"
    REVOKED = "REVOKED", "Revoked"
    EXPIRED = "EXPIRED", "Expired"


INVITATION_TRANSITIONS: dict[str, frozenset[str]] = {
    InvitationStatus.PENDING: frozenset(
        {InvitationStatus.ACCEPTED, InvitationStatus.REVOKED, InvitationStatus.EXPIRED}
    ),
    InvitationStatus.ACCEPTED: frozenset(),
    InvitationStatus.REVOKED: frozenset(),
    InvitationStatus.EXPIRED: frozenset(),
}

# django.core.signing salt of the accept links: a token signed for anything else never opens one.
INVITATION_TOKEN_SALT = "accounts.invitation"  # noqa: S105 - a salt, not a secret
INVITATION_TTL_DAYS_DEFAULT = 7
# Defaults of settings.INVITATIONS_PENDING_MAX (per provider) and INVITATIONS_PER_HOUR (per user).
INVITATIONS_PENDING_MAX_DEFAULT = 50
INVITATIONS_PER_HOUR_DEFAULT = 20

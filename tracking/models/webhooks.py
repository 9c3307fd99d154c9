"""Tracking webhooks in the USPS Subscriptions-Tracking 3.2 shape (docs/webhooks.md): a
subscription names a MID or a tracking number, a listener URL and an HMAC secret; each batch of
new events for a matching piece becomes one delivery, POSTed and retried by Celery."""

import uuid

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q

from accounts.models import Provider
from tracking.constants import (
    DeliveryStatus,
    SubscriptionFilter,
    SubscriptionStatus,
    TrackingEventType,
)
from tracking.models.store import ApiApp, MailPiece


class Subscription(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    provider = models.ForeignKey(Provider, on_delete=models.PROTECT, related_name="subscriptions")
    app = models.ForeignKey(  # the API app that created it; empty when made in the portal
        ApiApp, on_delete=models.PROTECT, null=True, blank=True, related_name="subscriptions"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    filter_kind = models.CharField(max_length=20, choices=SubscriptionFilter.choices)
    mid = models.CharField("MID", max_length=9, blank=True)
    tracking_number = models.CharField(max_length=34, blank=True)  # the PIC
    event_types = ArrayField(models.CharField(max_length=30, choices=TrackingEventType.choices))
    listener_url = models.URLField(max_length=200)
    # The HMAC key must be usable to sign, so it cannot be hashed: it is encrypted at rest.
    secret_encrypted = models.TextField()
    admin_emails = ArrayField(models.EmailField(max_length=50), default=list, blank=True)
    status = models.CharField(
        max_length=20, choices=SubscriptionStatus.choices, default=SubscriptionStatus.ENABLED
    )
    status_reason = models.CharField(max_length=200, blank=True)
    status_changed_at = models.DateTimeField(null=True, blank=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    # Bumped on every change; the ETag, so PUT and DELETE with If-Match cannot lose an update.
    version = models.PositiveIntegerField(default=1)
    last_delivery_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    deleted_at = models.DateTimeField(null=True, blank=True)  # kept for the delivery log

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(
                fields=["mid"], name="tracking_sub_mid", condition=Q(deleted_at__isnull=True)
            ),
            models.Index(
                fields=["tracking_number"],
                name="tracking_sub_number",
                condition=Q(deleted_at__isnull=True),
            ),
            models.Index(fields=["provider", "-created_at"], name="tracking_sub_provider"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(filter_kind=SubscriptionFilter.MID) & ~Q(mid="") & Q(tracking_number="")
                )
                | (
                    Q(filter_kind=SubscriptionFilter.TRACKING_NUMBER)
                    & Q(mid="")
                    & ~Q(tracking_number="")
                ),
                name="tracking_sub_one_filter",
            ),
        ]

    def __str__(self) -> str:
        target = self.mid or self.tracking_number
        return f"Subscription {self.public_id} ({target})"


class WebhookDelivery(models.Model):
    """The new events of one piece for one subscription. `public_id` is the stable delivery id
    sent with every attempt (and replay), so receivers can drop repeats."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    subscription = models.ForeignKey(
        Subscription, on_delete=models.PROTECT, related_name="deliveries"
    )
    piece = models.ForeignKey(MailPiece, on_delete=models.PROTECT, related_name="+")
    # The newest event this delivery covers: one delivery per (subscription, piece, event), so
    # the fan-out task may run twice without sending twice.
    last_event = models.ForeignKey(
        "tracking.TrackingEvent", on_delete=models.PROTECT, related_name="+"
    )
    event_type = models.CharField(max_length=30, choices=TrackingEventType.choices)
    status = models.CharField(
        max_length=20, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    # Set by a replay and cleared when its attempt is claimed: that attempt is the replay
    # (a PENDING delivery with attempts can also be a lease-expiry retry, not a replay).
    replay_requested = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["subscription", "piece", "last_event"], name="tracking_delivery_once"
            )
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                name="tracking_delivery_due",
                condition=Q(status__in=[DeliveryStatus.PENDING, DeliveryStatus.RETRYING]),
            ),
            models.Index(fields=["subscription", "-created_at"], name="tracking_delivery_sub"),
        ]

    def __str__(self) -> str:
        return f"Delivery {self.public_id} ({self.get_status_display()})"


class DeliveryAttempt(models.Model):
    """One POST to the listener (or a refusal before it): the delivery log's lines."""

    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="log")
    number = models.PositiveIntegerField()
    attempted_at = models.DateTimeField(auto_now_add=True)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    replay = models.BooleanField(default=False)
    # The disclosure record: the grant the access decision allowed this attempt on, as
    # "KIND:pk" (e.g. "MID_LINK:12", as tracking.api.lookup.disclosure_records writes it),
    # written with the claim, before the POST. Empty for an attempt that was not sent.
    basis = models.CharField(max_length=60, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-attempted_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["delivery", "number"], name="tracking_attempt_number")
        ]

    def __str__(self) -> str:
        return f"{self.delivery_id} #{self.number}: {self.status_code or self.error}"

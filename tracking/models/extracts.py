"""Scan event extracts: a provider's request for the events of some MIDs over a date range,
built by a Celery task into a gzip file (docs/extracts.md)."""

import uuid

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q

from accounts.models import Provider
from core.storage import private_storage
from tracking.constants import ExtractFormat, ExtractSource, ExtractStatus
from tracking.models.store import ApiApp


class Extract(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    provider = models.ForeignKey(Provider, on_delete=models.PROTECT, related_name="extracts")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    app = models.ForeignKey(  # set when requested through the API
        ApiApp, on_delete=models.PROTECT, null=True, blank=True, related_name="extracts"
    )
    source = models.CharField(max_length=10, choices=ExtractSource.choices)
    mids = ArrayField(models.CharField(max_length=9), help_text="The MIDs asked for, sorted.")
    # Events whose UTC moment falls on these days (inclusive).
    start_date = models.DateField()
    end_date = models.DateField()
    file_format = models.CharField(max_length=10, choices=ExtractFormat.choices)
    status = models.CharField(max_length=20, choices=ExtractStatus.choices)
    status_reason = models.CharField(max_length=500, blank=True)
    # The decision fields core.transitions.transition() writes (approval, rejection).
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_reason = models.TextField(blank=True)
    file = models.FileField(storage=private_storage, upload_to="extracts/", blank=True)
    row_count = models.BigIntegerField(null=True, blank=True)
    byte_count = models.BigIntegerField(null=True, blank=True)
    sha256 = models.CharField(max_length=64, blank=True)
    build_started_at = models.DateTimeField(null=True, blank=True)
    # Claims of the build so far (QUEUED -> BUILDING); housekeeping fails it after a few.
    build_attempts = models.PositiveSmallIntegerField(default=0)
    built_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["provider", "-created_at"], name="tracking_extract_provider"),
            models.Index(fields=["status", "created_at"], name="tracking_extract_status"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(end_date__gte=models.F("start_date")),
                name="tracking_extract_range_order",
            ),
            models.CheckConstraint(
                condition=~Q(status=ExtractStatus.READY)
                | (Q(row_count__isnull=False) & ~Q(sha256="") & Q(expires_at__isnull=False)),
                name="tracking_extract_ready_has_file_facts",
            ),
        ]

    def __str__(self) -> str:
        return f"Extract {self.public_id} ({', '.join(self.mids)})"


class ExtractDownload(models.Model):
    """One download of a built extract: the audit trail's "each download". A member downloads
    it in the portal (user), an API app through /tracking/v3r2/extracts/{id}/file (app)."""

    extract = models.ForeignKey(Extract, on_delete=models.PROTECT, related_name="downloads")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    app = models.ForeignKey(
        ApiApp, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    downloaded_at = models.DateTimeField(auto_now_add=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        ordering = ["-downloaded_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(user__isnull=False) | Q(app__isnull=False),
                name="tracking_extractdownload_by_someone",
            )
        ]

    def __str__(self) -> str:
        who = f"user {self.user_id}" if self.user_id else f"app {self.app_id}"
        return f"{self.extract_id} by {who} at {self.downloaded_at:%Y-%m-%d %H:%M}"

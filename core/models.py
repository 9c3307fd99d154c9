"""The append-only audit log that every state machine writes to."""

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models


class AuditEntry(models.Model):
    """Append-only record of every state change. A database trigger refuses UPDATE and DELETE."""

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="Empty for system actions (scheduled jobs, webhooks).",
    )
    # The provider the change concerns, so one provider's timeline is one indexed query.
    # A lazy reference: core sits below accounts, so it names the model instead of importing it.
    provider = models.ForeignKey(
        "accounts.Provider",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="audit_entries",
    )
    subject_type = models.ForeignKey(ContentType, on_delete=models.PROTECT)
    subject_id = models.BigIntegerField()
    subject = GenericForeignKey("subject_type", "subject_id")
    action = models.CharField(max_length=60)
    from_status = models.CharField(max_length=30, blank=True)
    to_status = models.CharField(max_length=30, blank=True)
    reason = models.TextField(blank=True)
    extra = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        # The table kept its name when the model moved here from agreements (state-only move).
        db_table = "agreements_auditentry"
        ordering = ["-created_at", "-pk"]
        verbose_name_plural = "audit entries"
        indexes = [
            # Named as they were created under agreements, so the move touched no index.
            models.Index(
                fields=["subject_type", "subject_id"], name="agreements__subject_3269e4_idx"
            ),
            models.Index(fields=["provider", "-created_at"], name="agreements__provide_fa4c5f_idx"),
        ]

    def __str__(self) -> str:
        change = f"{self.from_status or '-'} -> {self.to_status or '-'}"
        return f"{self.action} {self.subject_type.model} #{self.subject_id}: {change}"

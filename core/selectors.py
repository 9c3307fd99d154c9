"""Reads of the audit log."""

from django.db.models import QuerySet

from core.models import AuditEntry


def provider_audit_timeline(*, provider_id: int, limit: int = 50) -> QuerySet[AuditEntry]:
    """The provider's latest audit entries, newest first."""
    return (
        AuditEntry.objects.filter(provider_id=provider_id)
        .select_related("actor", "subject_type")
        .order_by("-created_at", "-pk")[:limit]
    )

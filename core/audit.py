"""Writing the append-only audit log."""

from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db import models

from core.models import AuditEntry


def audit_record(
    *,
    subject: models.Model,
    action: str,
    actor: Any | None,
    provider_id: int | None,
    from_status: str = "",
    to_status: str = "",
    reason: str = "",
    extra: dict[str, Any] | None = None,
) -> AuditEntry:
    return AuditEntry.objects.create(
        actor=actor if actor is not None and actor.is_authenticated else None,
        provider_id=provider_id,
        subject_type=ContentType.objects.get_for_model(subject, for_concrete_model=True),
        subject_id=subject.pk,
        action=action,
        from_status=from_status,
        to_status=to_status,
        reason=reason,
        extra=extra or {},
    )

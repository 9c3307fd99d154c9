"""Reads for agreements, MID links and the audit log."""

from django.db.models import QuerySet

from accounts.models import Provider
from agreements.decision import Decision
from agreements.models import AgreementScheduleLine, AuditEntry, MidLink


def decision_basis_record(*, decision: Decision) -> MidLink | AgreementScheduleLine | None:
    """The record behind an allowed decision (a decision carries only its kind and id, so a
    cached one costs no query)."""
    if decision.basis is None:
        return None
    if decision.basis.kind == "MID_LINK":
        return MidLink.objects.select_related("provider").get(pk=decision.basis.pk)
    return AgreementScheduleLine.objects.select_related("agreement__provider").get(
        pk=decision.basis.pk
    )


def provider_audit_timeline(*, provider: Provider, limit: int = 50) -> QuerySet[AuditEntry]:
    """The provider's latest audit entries, newest first."""
    return provider.audit_entries.select_related("actor").order_by("-created_at", "-pk")[:limit]

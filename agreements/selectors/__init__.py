"""Reads for agreements and MID links. Modules here group reads by page; this one holds the
decision's."""

from agreements.decision import Decision
from agreements.models import AgreementScheduleLine, MidLink


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

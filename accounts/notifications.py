"""E-mail a provider's owners and admins about a staff decision, after it commits.

Staff decisions (admin actions) call a service, which writes an AuditEntry in the same
transaction; `decision_notify_on_commit` then queues the Celery task with that entry's id on
commit, so a rolled-back decision sends nothing. The task reads the entry (what was decided,
by whom, why) and mails the provider's OWNER and ADMIN members.
"""

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.mail import send_mail
from django.db import models, transaction
from django.template.loader import render_to_string
from django.urls import reverse

from accounts.constants import MembershipRole
from accounts.models import Membership
from core.models import AuditEntry

NOTIFIED_ROLES = (MembershipRole.OWNER, MembershipRole.ADMIN)


def latest_audit_entry(*, subject: models.Model) -> AuditEntry | None:
    """The newest audit entry about `subject` (the one the service just wrote)."""
    subject_type = ContentType.objects.get_for_model(subject, for_concrete_model=True)
    return (
        AuditEntry.objects.filter(subject_type=subject_type, subject_id=subject.pk)
        .order_by("-pk")
        .first()
    )


def decision_notify_on_commit(*, subject: models.Model) -> None:
    """Queue the decision e-mail about `subject`'s newest audit entry once the transaction
    commits (nothing is queued if it rolls back)."""
    from accounts.tasks import decision_notify_task  # the task module imports this one

    entry = latest_audit_entry(subject=subject)
    if entry is None or entry.provider_id is None:
        return
    transaction.on_commit(lambda: decision_notify_task.delay(entry.pk), robust=True)


def decision_notify(*, audit_entry_id: int) -> int:
    """Send the e-mail about one audit entry; returns how many people it went to."""
    entry = AuditEntry.objects.select_related("provider", "actor").get(pk=audit_entry_id)
    recipients = sorted(
        Membership.objects.filter(
            provider_id=entry.provider_id, role__in=NOTIFIED_ROLES
        ).values_list("user__email", flat=True)
    )
    if not recipients:
        return 0
    what = entry.action.replace("_", " ")
    context = {
        "entry": entry,
        "provider": entry.provider,
        "what": what,
        "subject_label": entry.extra.get("mid") and f"MID {entry.extra['mid']}" or "",
        "url": settings.PORTAL_BASE_URL.rstrip("/") + reverse("agreements:dashboard"),
    }
    send_mail(
        subject=f"Tracking Access Portal: {what} ({entry.provider.legal_name})",
        message=render_to_string("accounts/email/decision.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        recipient_list=recipients,
    )
    return len(recipients)

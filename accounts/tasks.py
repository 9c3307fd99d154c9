"""Celery tasks of the accounts app: thin, id-taking, safe to retry."""

from celery import shared_task

from accounts.notifications import decision_notify


@shared_task(
    name="accounts.decision_notify",
    autoretry_for=(ConnectionError, TimeoutError, OSError),
    retry_backoff=True,
    max_retries=5,
)
def decision_notify_task(audit_entry_id: int) -> int:
    """E-mail a provider's owners and admins about one staff decision (an AuditEntry).

    At-least-once: a retry after a crash may send the mail twice, never zero times; it carries
    the audit entry's id so a reader can tell duplicates apart."""
    return decision_notify(audit_entry_id=audit_entry_id)

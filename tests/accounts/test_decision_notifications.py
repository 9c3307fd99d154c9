"""Staff decisions are e-mailed to the provider's owners and admins by a Celery task queued on
commit: a rolled-back decision sends nothing."""

import time

import pytest
from django.core import mail
from django.db import transaction

from accounts import services
from accounts.constants import MembershipRole
from accounts.notifications import decision_notify, decision_notify_on_commit
from core.models import AuditEntry
from tests.factories import MembershipFactory, ProviderFactory, StaffFactory


def provider_with_team():
    provider = ProviderFactory(legal_name="Parcel Insights LLC")
    for email, role in [
        ("owner@pi.example", MembershipRole.OWNER),
        ("admin@pi.example", MembershipRole.ADMIN),
        ("dev@pi.example", MembershipRole.DEVELOPER),
        ("billing@pi.example", MembershipRole.BILLING),
    ]:
        MembershipFactory(provider=provider, role=role, user__email=email)
    return provider


@pytest.mark.django_db
def test_the_e_mail_goes_to_owners_and_admins_with_the_reason(mailoutbox, settings):
    settings.PORTAL_BASE_URL = "https://portal.example.gov"
    provider = provider_with_team()
    services.provider_suspend(
        provider=provider, actor=StaffFactory(), reason="Audit of data use", cause="STAFF_ACTION"
    )
    entry = AuditEntry.objects.get(action="provider_suspend")

    assert decision_notify(audit_entry_id=entry.pk) == 2

    (message,) = mailoutbox
    assert sorted(message.to) == ["admin@pi.example", "owner@pi.example"]
    assert "Provider suspend" in message.body and "Audit of data use" in message.body
    assert "ACTIVE -> SUSPENDED" in message.body
    assert "https://portal.example.gov/dashboard/" in message.body


@pytest.mark.django_db
def test_a_rolled_back_decision_queues_nothing(django_capture_on_commit_callbacks):
    provider = provider_with_team()

    with django_capture_on_commit_callbacks() as callbacks:
        try:
            with transaction.atomic():
                services.provider_suspend(
                    provider=provider, actor=None, reason="x", cause="STAFF_ACTION"
                )
                decision_notify_on_commit(subject=provider)
                raise RuntimeError("the reviewer's request failed later")
        except RuntimeError:
            pass

    assert callbacks == []


def test_a_decision_is_mailed_by_a_real_worker_after_commit(celery_worker, monkeypatch):
    """Through Redis and an in-process worker: the task is queued only once the decision
    commits (watched on the real `delay`, no sleeps), then the worker sends the mail."""
    from accounts.tasks import decision_notify_task

    queued = []
    real_delay = decision_notify_task.delay
    monkeypatch.setattr(
        decision_notify_task, "delay", lambda *args: queued.append(args) or real_delay(*args)
    )
    provider = provider_with_team()

    with transaction.atomic():
        services.provider_suspend(
            provider=provider, actor=None, reason="Unpaid invoice", cause="NON_PAYMENT"
        )
        decision_notify_on_commit(subject=provider)
        assert queued == []  # nothing reaches the broker before the commit

    entry = AuditEntry.objects.get(action="provider_suspend")
    assert queued == [(entry.pk,)]
    deadline = time.monotonic() + 15
    while not mail.outbox and time.monotonic() < deadline:
        time.sleep(0.05)  # waiting for the worker's result, not ordering anything
    (message,) = mail.outbox
    assert "Unpaid invoice" in message.body

"""Helpers for the staff review queue tests: driving an admin action through its reason page,
a view-only staff member, and recording the decision e-mails queued on commit."""

from collections.abc import Iterable

from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages
from django.db import models
from django.test import Client

from tests.factories import StaffFactory, UserFactory
from tests.otp import otp_login

ACTION_CHECKBOX = "_selected_action"


def reviewer_client(user=None) -> Client:
    """A superuser (every permission) signed in to the two-factor admin."""
    return otp_login(Client(), user or StaffFactory())


def view_only_staff():
    """Staff who may view every model and change none ("Support")."""
    user = UserFactory(is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename__startswith="view_"))
    return user


def _pks(objs: Iterable[models.Model]) -> list[str]:
    return [str(obj.pk) for obj in objs]


def open_reason_page(client: Client, url: str, action: str, objs: Iterable[models.Model]):
    """Pick the action in the list, as the action bar's "Go" button does."""
    return client.post(url, {"action": action, "index": 0, ACTION_CHECKBOX: _pks(objs)})


def decide(client: Client, url: str, action: str, objs: Iterable[models.Model], **fields):
    """Submit the reason page of `action` for `objs` (its form posts back to the list)."""
    data = {"action": action, ACTION_CHECKBOX: _pks(objs), "confirm": "yes", **fields}
    return client.post(url, data)


def messages_of(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


class NotifiedEntries(list):
    """The audit entry ids the decision e-mail task was queued with (`.delay()` calls)."""

    def delay(self, audit_entry_id: int) -> None:
        self.append(audit_entry_id)


def record_notifications(monkeypatch) -> NotifiedEntries:
    """Stand in for accounts.tasks.decision_notify_task: nothing reaches the broker, and the
    test sees which audit entries were e-mailed once the on-commit callbacks run."""
    calls = NotifiedEntries()
    monkeypatch.setattr("accounts.tasks.decision_notify_task", calls)
    return calls

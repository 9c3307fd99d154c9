"""Staff admin of extracts: the approval queue, approve and reject through the services (with
their audit entries), read-only otherwise; reviewers decide, Support only looks."""

import pytest
from django.contrib.auth.models import Group
from django.test import Client

from core.models import AuditEntry
from tests.factories import UserFactory
from tests.otp import otp_login
from tests.review_admin import decide, messages_of, open_reason_page, record_notifications
from tests.tracking.extracts.helpers import MID, allowed_provider, member, recent, store
from tracking.constants import ExtractSource, ExtractStatus
from tracking.extracts.services import extract_request
from tracking.models import Extract

pytestmark = pytest.mark.django_db

LIST = "/admin/tracking/extract/"


def staff_in(group: str) -> Client:
    user = UserFactory(is_staff=True)
    user.groups.add(Group.objects.get(name=group))
    client = otp_login(Client(), user)
    client.user = user
    return client


@pytest.fixture
def waiting():
    provider = allowed_provider()  # a service provider: its extracts wait for approval
    store(MID, 1)
    return extract_request(
        provider=provider,
        actor=member(provider),
        mids=[MID],
        start_date=recent(),
        end_date=recent(),
        file_format="NDJSON",
        source=ExtractSource.PORTAL,
    )


def test_the_queue_counts_what_waits_and_finds_an_extract_by_mid(staff_groups, waiting):
    client = staff_in("Agreement reviewers")

    page = client.get(LIST)
    found = client.get(LIST, {"q": MID})
    missed = client.get(LIST, {"q": "900999999"})

    assert page.status_code == 200
    assert "1 extract waiting for approval" in page.text
    assert str(waiting.public_id) in found.text
    assert str(waiting.public_id) not in missed.text
    assert client.get(f"{LIST}{waiting.pk}/change/").status_code == 200


def test_a_reviewer_approves_through_the_service(
    staff_groups, waiting, monkeypatch, django_capture_on_commit_callbacks
):
    notified = record_notifications(monkeypatch)
    builds = []
    monkeypatch.setattr("tracking.extracts.tasks.build_extract.delay", builds.append)
    client = staff_in("Agreement reviewers")

    assert open_reason_page(client, LIST, "approve_extracts", [waiting]).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        response = decide(client, LIST, "approve_extracts", [waiting], reason="Scope checked")

    assert response.status_code == 302
    waiting.refresh_from_db()
    assert waiting.status == ExtractStatus.QUEUED and waiting.decided_by == client.user
    assert builds == [waiting.pk]  # the build is queued once the approval commits
    entry = AuditEntry.objects.get(action="extract_approve")
    assert entry.reason == "Scope checked" and entry.extra["mids"] == [MID]
    assert notified == [entry.pk]


def test_a_rejection_needs_a_reason(staff_groups, waiting, monkeypatch):
    record_notifications(monkeypatch)
    client = staff_in("Agreement reviewers")

    without = decide(client, LIST, "reject_extracts", [waiting], reason="")
    with_reason = decide(client, LIST, "reject_extracts", [waiting], reason="Ask for fewer MIDs")

    assert without.status_code == 200  # the reason page again, with its error
    assert with_reason.status_code == 302
    waiting.refresh_from_db()
    assert waiting.status == ExtractStatus.REJECTED
    assert waiting.status_reason == "Ask for fewer MIDs"
    assert "1 item decided." in messages_of(with_reason)


def test_support_sees_extracts_but_cannot_decide(staff_groups, waiting):
    client = staff_in("Support")

    page = client.get(LIST)
    attempt = decide(client, LIST, "approve_extracts", [waiting], reason="")

    assert page.status_code == 200 and "approve_extracts" not in page.text
    assert attempt.status_code in (200, 302)
    waiting.refresh_from_db()
    assert waiting.status == ExtractStatus.PENDING_APPROVAL
    assert not AuditEntry.objects.filter(action="extract_approve").exists()


def test_nothing_is_added_changed_or_deleted_by_hand(staff_groups, waiting):
    client = staff_in("Agreement reviewers")

    add = client.get(f"{LIST}add/")
    delete = client.post(f"{LIST}{waiting.pk}/delete/", {"post": "yes"})
    change = client.post(f"{LIST}{waiting.pk}/change/", {"status": "READY"})

    assert add.status_code == 403
    assert delete.status_code == 403
    assert change.status_code == 403
    assert Extract.objects.get().status == ExtractStatus.PENDING_APPROVAL

"""The agreement and schedule-line review queues in the admin.

An agreement's page shows the signed text, the signer and a hash check that detects a text
changed after publication or a signature on another text. Approve, reject, suspend, reinstate
and terminate are actions with a reason page; each schedule line is approved, rejected or
revoked on its own, from its queue or from the links on its agreement's page.
"""

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from agreements.constants import AgreementStatus, ScheduleLineStatus
from agreements.models import Agreement, AgreementScheduleLine, AgreementVersion
from core.models import AuditEntry
from tests.factories import (
    AgreementFactory,
    AgreementVersionFactory,
    MembershipFactory,
    MidLinkFactory,
    ProviderFactory,
    ScheduleLineFactory,
    StaffFactory,
    UserFactory,
)
from tests.otp import otp_login
from tests.review_admin import (
    decide,
    messages_of,
    open_reason_page,
    record_notifications,
    reviewer_client,
    view_only_staff,
)

pytestmark = pytest.mark.django_db

AGREEMENTS = reverse("admin:agreements_agreement_changelist")
LINES = reverse("admin:agreements_agreementscheduleline_changelist")


def _change(agreement) -> str:
    return reverse("admin:agreements_agreement_change", args=[agreement.pk])


def _line_decide_url(line, action) -> str:
    return reverse("admin:agreements_agreementscheduleline_decide", args=[line.pk, action])


@pytest.fixture
def staff():
    return StaffFactory(email="reviewer@usps.example")


@pytest.fixture
def client(staff) -> Client:
    return reviewer_client(staff)


@pytest.fixture
def notified(monkeypatch):
    return record_notifications(monkeypatch)


def _submitted(days_ago: float = 0, **kwargs) -> Agreement:
    signed_at = timezone.now() - timedelta(days=days_ago, hours=1)
    return AgreementFactory(status=AgreementStatus.SUBMITTED, signed_at=signed_at, **kwargs)


def _entries(subject, action):
    return [
        entry
        for entry in AuditEntry.objects.filter(action=action)
        if entry.subject_id == subject.pk
    ]


# --- The queue --------------------------------------------------------------------------------


def test_queue_counts_pending_signatures_and_lines_and_lists_oldest_first(client):
    decided = AgreementFactory(decided_at=timezone.now(), decided_by=StaffFactory())
    newer = _submitted(days_ago=1)
    oldest = _submitted(days_ago=4)
    ScheduleLineFactory(agreement=oldest, status=ScheduleLineStatus.REQUESTED)
    ScheduleLineFactory(agreement=newer, status=ScheduleLineStatus.REQUESTED)
    ScheduleLineFactory(agreement=newer, status=ScheduleLineStatus.APPROVED)

    response = client.get(AGREEMENTS)

    assert response.status_code == 200
    assert "2 signatures awaiting review, the oldest waiting for 4\xa0days." in response.text
    assert "2 schedule lines awaiting review, the oldest waiting for 4\xa0days." in response.text
    assert list(response.context["cl"].result_list) == [oldest, newer, decided]
    rows = {row.pk: row.lines_to_review for row in response.context["cl"].result_list}
    assert rows == {oldest.pk: 1, newer.pk: 1, decided.pk: 0}


@pytest.mark.parametrize(
    "term", ["Globex Analytics", "44556677", "654321", "912345678", "Robin Signer", "robin@globex"]
)
def test_search_by_legal_name_crid_mid_and_signer(client, term):
    provider = ProviderFactory(legal_name="Globex Analytics LLC", crid="44556677")
    MidLinkFactory(provider=provider, mid="912345678")
    agreement = AgreementFactory(
        provider=provider,
        signer_name="Robin Signer",
        signer=UserFactory(email="robin@globex.example"),
    )
    ScheduleLineFactory(agreement=agreement, mid="654321")
    AgreementFactory()

    response = client.get(AGREEMENTS, {"q": term})

    assert list(response.context["cl"].result_list) == [agreement]


def test_queue_filters_by_status(client):
    pending = _submitted()
    AgreementFactory()

    response = client.get(AGREEMENTS, {"status__exact": "SUBMITTED"})

    assert list(response.context["cl"].result_list) == [pending]


# --- The agreement's page: signed text, signer, hash check ------------------------------------


def test_the_page_shows_the_signed_text_the_signer_and_a_matching_hash(client):
    membership = MembershipFactory(user__email="pat@acme.example", role="OWNER")
    version = AgreementVersionFactory(text="Clause 1. <Use> tracking data only as authorized.\n")
    agreement = _submitted(
        provider=membership.provider,
        version=version,
        signer=membership.user,
        signer_name="Pat Example",
        signer_title="CEO",
    )

    response = client.get(_change(agreement))

    body = response.text
    assert "Clause 1. &lt;Use&gt; tracking data only as authorized." in body
    assert "pat@acme.example" in body
    assert "Pat Example" in body and "CEO" in body and "192.0.2.10" in body
    assert f"Owner of {membership.provider}" in body
    assert "<strong>match</strong>" in body
    assert "MISMATCH" not in body
    assert body.count(version.text_sha256) == 3


def test_the_page_says_when_the_signer_is_no_longer_a_member(client):
    agreement = _submitted()

    response = client.get(_change(agreement))

    assert f"{agreement.signer} is no longer a member of" in response.text


def test_a_forged_signature_digest_is_a_mismatch(client):
    agreement = _submitted()
    forged = "0" * 64
    Agreement.objects.filter(pk=agreement.pk).update(signed_text_sha256=forged)

    page = client.get(_change(agreement))
    listing = client.get(AGREEMENTS)

    assert "MISMATCH" in page.text
    assert "the signer was not shown the published text" in page.text
    assert forged in page.text
    assert "<strong>match</strong>" not in page.text
    assert "MISMATCH" in listing.text


def test_a_text_changed_after_publication_is_a_mismatch(client):
    agreement = _submitted()
    AgreementVersion.objects.filter(pk=agreement.version_id).update(
        text="The provider may use tracking data for anything.\n"
    )

    page = client.get(_change(agreement))

    assert "MISMATCH" in page.text
    assert "the stored text has changed since" in page.text
    assert "the signer was not shown the published text" not in page.text


def test_cosmetic_whitespace_is_not_a_mismatch(client):
    agreement = _submitted()
    text = agreement.version.text
    AgreementVersion.objects.filter(pk=agreement.version_id).update(
        text=text.replace("\n", "  \r\n")
    )

    assert "MISMATCH" not in client.get(_change(agreement)).text


# --- Agreement decisions ----------------------------------------------------------------------


def test_approve_opens_the_reason_page(client):
    agreement = _submitted()

    response = open_reason_page(client, AGREEMENTS, "approve_agreements", [agreement])

    assert response.status_code == 200
    assert response.templates[0].name == "admin/portal/decision_confirm.html"
    assert str(agreement) in response.text


@pytest.mark.parametrize(
    ("action", "before", "after", "audit_action"),
    [
        ("approve_agreements", "SUBMITTED", "APPROVED", "agreement_approve"),
        ("reject_agreements", "SUBMITTED", "REJECTED", "agreement_reject"),
        ("suspend_agreements", "APPROVED", "SUSPENDED", "agreement_suspend"),
        ("reinstate_agreements", "SUSPENDED", "APPROVED", "agreement_reinstate"),
        ("terminate_agreements", "APPROVED", "TERMINATED", "agreement_terminate"),
        ("terminate_agreements", "SUSPENDED", "TERMINATED", "agreement_terminate"),
    ],
)
def test_each_decision_needs_a_reason_then_applies_with_audit_and_e_mail(
    client, staff, notified, django_capture_on_commit_callbacks, action, before, after, audit_action
):
    agreement = AgreementFactory(status=before)

    refused = decide(client, AGREEMENTS, action, [agreement], reason=" ")
    agreement.refresh_from_db()
    assert refused.status_code == 200
    assert refused.context["form"].errors["reason"]
    assert agreement.status == before
    assert not AuditEntry.objects.exists()

    with django_capture_on_commit_callbacks(execute=True):
        done = decide(client, AGREEMENTS, action, [agreement], reason="Reviewed.")

    assert messages_of(done) == ["1 item decided."]
    agreement.refresh_from_db()
    assert agreement.status == after
    assert (agreement.decided_by, agreement.decision_reason) == (staff, "Reviewed.")
    (entry,) = _entries(agreement, audit_action)
    assert (entry.actor, entry.reason, entry.from_status, entry.to_status) == (
        staff,
        "Reviewed.",
        before,
        after,
    )
    assert entry.provider_id == agreement.provider_id
    assert notified == [entry.pk]


def test_approving_a_newer_signature_supersedes_the_one_in_force(
    client, notified, django_capture_on_commit_callbacks
):
    provider = ProviderFactory()
    old = AgreementFactory(
        provider=provider,
        version=AgreementVersionFactory(effective_at=timezone.now() - timedelta(days=90)),
    )
    new = _submitted(provider=provider)

    with django_capture_on_commit_callbacks(execute=True):
        decide(client, AGREEMENTS, "approve_agreements", [new], reason="v2 signed")

    old.refresh_from_db()
    new.refresh_from_db()
    assert (old.status, new.status) == (AgreementStatus.SUPERSEDED, AgreementStatus.APPROVED)
    (entry,) = _entries(new, "agreement_approve")
    assert notified == [entry.pk]  # one e-mail: the decision staff took


@pytest.mark.parametrize(
    ("status", "offered"),
    [
        ("SUBMITTED", ["approve_agreements", "reject_agreements"]),
        ("APPROVED", ["suspend_agreements", "terminate_agreements"]),
        ("SUSPENDED", ["reinstate_agreements", "terminate_agreements"]),
        ("REJECTED", []),
        ("SUPERSEDED", []),
    ],
)
def test_the_agreement_page_offers_the_decisions_its_status_allows(client, status, offered):
    agreement = AgreementFactory(status=status)

    response = client.get(_change(agreement))

    links = [url for _label, url in response.context["item_decisions"]]
    assert links == [
        reverse("admin:agreements_agreement_decide", args=[agreement.pk, action])
        for action in offered
    ]


def test_a_decision_from_the_agreement_page_returns_to_it(
    client, notified, django_capture_on_commit_callbacks
):
    agreement = _submitted()
    url = reverse("admin:agreements_agreement_decide", args=[agreement.pk, "reject_agreements"])

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, {"confirm": "yes", "reason": "Signer lacks authority."})

    assert response.url == _change(agreement)
    agreement.refresh_from_db()
    assert agreement.status == AgreementStatus.REJECTED
    assert len(notified) == 1


# --- Schedule lines, each on its own ----------------------------------------------------------


def test_each_line_is_approved_or_rejected_on_its_own_from_the_line_queue(
    client, staff, notified, django_capture_on_commit_callbacks
):
    agreement = _submitted()
    keep = ScheduleLineFactory(agreement=agreement, mid="654321", status="REQUESTED")
    drop = ScheduleLineFactory(agreement=agreement, mid="765432", status="REQUESTED")

    with django_capture_on_commit_callbacks(execute=True):
        decide(client, LINES, "approve_lines", [keep], reason="Shipper letter on file")
        decide(client, LINES, "reject_lines", [drop], reason="No relation to the shipper")

    keep.refresh_from_db()
    drop.refresh_from_db()
    assert (keep.status, drop.status) == (ScheduleLineStatus.APPROVED, ScheduleLineStatus.REJECTED)
    (approved,) = _entries(keep, "schedule_line_approve")
    (rejected,) = _entries(drop, "schedule_line_reject")
    assert approved.extra["mid"] == "654321" and approved.reason == "Shipper letter on file"
    assert rejected.extra["mid"] == "765432" and rejected.reason == "No relation to the shipper"
    assert notified == [approved.pk, rejected.pk]
    agreement.refresh_from_db()
    assert agreement.status == AgreementStatus.SUBMITTED  # the agreement is decided apart


@pytest.mark.parametrize(
    ("action", "before", "after"),
    [
        ("approve_lines", "REQUESTED", "APPROVED"),
        ("reject_lines", "REQUESTED", "REJECTED"),
        ("revoke_lines", "APPROVED", "REVOKED"),
    ],
)
def test_each_line_decision_needs_a_reason(client, action, before, after):
    line = ScheduleLineFactory(status=before)

    refused = decide(client, LINES, action, [line], reason="")
    line.refresh_from_db()
    assert refused.context["form"].errors["reason"]
    assert line.status == before

    decide(client, LINES, action, [line], reason="Decided.")
    line.refresh_from_db()
    assert line.status == after


def test_the_agreement_page_links_each_line_s_decisions_back_to_itself(client):
    agreement = _submitted()
    requested = ScheduleLineFactory(agreement=agreement, status="REQUESTED")
    approved = ScheduleLineFactory(agreement=agreement, status="APPROVED")
    rejected = ScheduleLineFactory(agreement=agreement, status="REJECTED")
    back = f"?next={_change(agreement).replace('/', '%2F')}"

    body = client.get(_change(agreement)).text

    assert f'href="{_line_decide_url(requested, "approve_lines")}{back}"' in body
    assert f'href="{_line_decide_url(requested, "reject_lines")}{back}"' in body
    assert f'href="{_line_decide_url(approved, "revoke_lines")}{back}"' in body
    assert _line_decide_url(approved, "approve_lines") not in body
    assert f"/{rejected.pk}/decide/" not in body


def test_a_line_decided_from_the_agreement_page_comes_back_to_it(
    client, notified, django_capture_on_commit_callbacks
):
    agreement = _submitted()
    line = ScheduleLineFactory(agreement=agreement, status="REQUESTED")
    url = f"{_line_decide_url(line, 'reject_lines')}?next={_change(agreement)}"

    page = client.get(url)
    with django_capture_on_commit_callbacks(execute=True):
        done = client.post(url, {"confirm": "yes", "reason": "MID belongs to nobody we know"})

    assert page.status_code == 200 and str(line) in page.text
    assert done.url == _change(agreement)
    line.refresh_from_db()
    assert line.status == ScheduleLineStatus.REJECTED
    assert len(notified) == 1


def test_a_line_of_a_rejected_agreement_cannot_be_approved(client):
    agreement = AgreementFactory(status=AgreementStatus.REJECTED)
    line = ScheduleLineFactory(agreement=agreement, status="REQUESTED")

    response = decide(client, LINES, "approve_lines", [line], reason="ok")

    (message,) = messages_of(response)
    assert "its schedule lines can no longer be approved" in message
    line.refresh_from_db()
    assert line.status == ScheduleLineStatus.REQUESTED


def test_the_line_queue_counts_and_lists_requested_lines_first(client):
    decided = ScheduleLineFactory(status="APPROVED")
    newer = ScheduleLineFactory(agreement=_submitted(days_ago=1), status="REQUESTED")
    oldest = ScheduleLineFactory(agreement=_submitted(days_ago=3), status="REQUESTED")

    response = client.get(LINES)

    assert "2 awaiting review, the oldest waiting for 3\xa0days." in response.text
    assert list(response.context["cl"].result_list) == [oldest, newer, decided]


@pytest.mark.parametrize("term", ["654321", "Globex", "Robin Signer", "robin@globex"])
def test_line_search_by_mid_provider_and_signer(client, term):
    agreement = AgreementFactory(
        provider=ProviderFactory(legal_name="Globex LLC"),
        signer_name="Robin Signer",
        signer=UserFactory(email="robin@globex.example"),
    )
    line = ScheduleLineFactory(agreement=agreement, mid="654321")
    ScheduleLineFactory()

    response = client.get(LINES, {"q": term})

    assert list(response.context["cl"].result_list) == [line]


# --- Permissions ----------------------------------------------------------------------------


@pytest.fixture
def viewer_client() -> Client:
    return otp_login(Client(), view_only_staff())


def test_view_only_staff_see_the_queues_and_no_decision(viewer_client):
    agreement = _submitted()
    ScheduleLineFactory(agreement=agreement, status="REQUESTED")

    listing = viewer_client.get(AGREEMENTS)
    lines = viewer_client.get(LINES)
    page = viewer_client.get(_change(agreement))

    assert listing.status_code == lines.status_code == page.status_code == 200
    assert listing.context["action_form"] is None
    assert lines.context["action_form"] is None
    assert page.context["item_decisions"] == []
    assert "/decide/" not in page.text
    assert "<strong>match</strong>" in page.text  # the hash check is for everyone who views


@pytest.mark.parametrize(
    ("url", "action", "make"),
    [
        (AGREEMENTS, "approve_agreements", lambda: _submitted()),
        (AGREEMENTS, "reject_agreements", lambda: _submitted()),
        (AGREEMENTS, "suspend_agreements", lambda: AgreementFactory()),
        (AGREEMENTS, "terminate_agreements", lambda: AgreementFactory()),
        (LINES, "approve_lines", lambda: ScheduleLineFactory(status="REQUESTED")),
        (LINES, "reject_lines", lambda: ScheduleLineFactory(status="REQUESTED")),
        (LINES, "revoke_lines", lambda: ScheduleLineFactory(status="APPROVED")),
    ],
)
def test_view_only_staff_forging_a_decision_change_nothing(
    viewer_client, notified, django_capture_on_commit_callbacks, url, action, make
):
    obj = make()
    before = obj.status
    decide_url = reverse(
        f"admin:agreements_{type(obj)._meta.model_name}_decide", args=[obj.pk, action]
    )

    with django_capture_on_commit_callbacks(execute=True):
        decide(viewer_client, url, action, [obj], reason="forged")
        linked = viewer_client.post(decide_url, {"confirm": "yes", "reason": "forged"})

    assert linked.status_code == 403
    obj.refresh_from_db()
    assert obj.status == before
    assert not AuditEntry.objects.exists()
    assert notified == []


def test_reviewers_of_agreements_alone_cannot_decide_schedule_lines():
    from django.contrib.auth.models import Permission

    user = UserFactory(is_staff=True)
    user.user_permissions.set(
        Permission.objects.filter(
            codename__in=["view_agreement", "change_agreement", "view_agreementscheduleline"]
        )
    )
    client = otp_login(Client(), user)
    line = ScheduleLineFactory(agreement=_submitted(), status="REQUESTED")

    page = client.get(_change(line.agreement))
    decide(client, LINES, "approve_lines", [line], reason="ok")

    assert "/decide/" in page.text  # the agreement's own decisions
    assert _line_decide_url(line, "approve_lines") not in page.text
    line.refresh_from_db()
    assert line.status == ScheduleLineStatus.REQUESTED
    assert AgreementScheduleLine.objects.filter(status="REQUESTED").count() == 1

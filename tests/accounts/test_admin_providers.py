"""The provider review queue in the admin: approve, suspend (with a cause), reactivate, close.

Every decision goes through the reason page, calls the service, writes one audit entry and
queues one e-mail on commit; a missing reason or an illegal move changes nothing; staff who
may only view see the queue and can run nothing.
"""

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.constants import ProviderStatus, SuspensionCause
from accounts.models import Provider
from agreements import services as agreement_services
from agreements.constants import AgreementStatus
from core.models import AuditEntry
from tests.factories import (
    AgreementFactory,
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

LIST = reverse("admin:accounts_provider_changelist")


def _change(provider) -> str:
    return reverse("admin:accounts_provider_change", args=[provider.pk])


def _decide_url(provider, action) -> str:
    return reverse("admin:accounts_provider_decide", args=[provider.pk, action])


def _aged(provider: Provider, days: int) -> Provider:
    Provider.objects.filter(pk=provider.pk).update(
        created_at=timezone.now() - timedelta(days=days, hours=1)
    )
    provider.refresh_from_db()
    return provider


@pytest.fixture
def staff():
    return StaffFactory(email="reviewer@usps.example")


@pytest.fixture
def client(staff) -> Client:
    return reviewer_client(staff)


@pytest.fixture
def notified(monkeypatch):
    return record_notifications(monkeypatch)


def _entries(provider, action):
    return list(AuditEntry.objects.filter(provider=provider, action=action))


# --- The queue --------------------------------------------------------------------------------


def test_queue_counts_pending_and_lists_them_first_oldest_at_the_top(client):
    active = ProviderFactory(legal_name="Aardvark Active LLC")
    newer = _aged(ProviderFactory(status=ProviderStatus.PENDING_REVIEW), days=1)
    oldest = _aged(ProviderFactory(status=ProviderStatus.PENDING_REVIEW), days=5)

    response = client.get(LIST)

    assert response.status_code == 200
    assert "2 pending review, the oldest waiting for 5\xa0days." in response.text
    assert "?status__exact=PENDING_REVIEW" in response.text
    assert list(response.context["cl"].result_list)[:3] == [oldest, newer, active]


def test_queue_with_nothing_pending_says_so(client):
    ProviderFactory()

    assert "Nothing pending review." in client.get(LIST).text


def test_queue_filters_by_status(client):
    pending = ProviderFactory(status=ProviderStatus.PENDING_REVIEW)
    ProviderFactory()

    response = client.get(LIST, {"status__exact": "PENDING_REVIEW"})

    assert list(response.context["cl"].result_list) == [pending]


@pytest.mark.parametrize(
    "term", ["Globex Analytics", "44556677", "912345678", "654321", "Pat Signer", "pat@globex"]
)
def test_search_by_legal_name_crid_mid_and_signer(client, term):
    provider = ProviderFactory(legal_name="Globex Analytics LLC", crid="44556677")
    MidLinkFactory(provider=provider, mid="912345678")
    agreement = AgreementFactory(
        provider=provider, signer_name="Pat Signer", signer=UserFactory(email="pat@globex.example")
    )
    ScheduleLineFactory(agreement=agreement, mid="654321")
    ProviderFactory(legal_name="Other Inc")

    response = client.get(LIST, {"q": term})

    assert list(response.context["cl"].result_list) == [provider]


# --- Approve ----------------------------------------------------------------------------------


def test_approve_opens_the_reason_page_listing_the_providers(client):
    provider = ProviderFactory(legal_name="Parcel Insights LLC", status="PENDING_REVIEW")

    response = open_reason_page(client, LIST, "approve_providers", [provider])

    assert response.status_code == 200
    assert response.templates[0].name == "admin/portal/decision_confirm.html"
    assert "Parcel Insights LLC" in response.text
    assert 'name="reason"' in response.text
    assert not AuditEntry.objects.exists()


def test_approve_needs_a_reason_and_changes_nothing_without_one(client, notified):
    provider = ProviderFactory(status=ProviderStatus.PENDING_REVIEW)

    response = decide(client, LIST, "approve_providers", [provider], reason="  ")

    assert response.status_code == 200  # the reason page again, with the error
    assert response.context["form"].errors == {"reason": ["This field is required."]}
    provider.refresh_from_db()
    assert provider.status == ProviderStatus.PENDING_REVIEW
    assert not AuditEntry.objects.exists()
    assert notified == []


def test_approve_activates_audits_and_queues_the_e_mail(
    client, staff, notified, django_capture_on_commit_callbacks
):
    provider = ProviderFactory(status=ProviderStatus.PENDING_REVIEW)

    with django_capture_on_commit_callbacks(execute=True):
        response = decide(
            client, LIST, "approve_providers", [provider], reason="Documents checked."
        )

    assert response.status_code == 302
    assert messages_of(response) == ["1 item decided."]
    provider.refresh_from_db()
    assert provider.status == ProviderStatus.ACTIVE
    (entry,) = _entries(provider, "provider_approve")
    assert (entry.actor, entry.reason) == (staff, "Documents checked.")
    assert (entry.from_status, entry.to_status) == ("PENDING_REVIEW", "ACTIVE")
    assert notified == [entry.pk]


def test_approving_several_reports_each_refusal_and_applies_the_rest(
    client, notified, django_capture_on_commit_callbacks
):
    pending = ProviderFactory(status=ProviderStatus.PENDING_REVIEW)
    active = ProviderFactory(legal_name="Already Active LLC")

    with django_capture_on_commit_callbacks(execute=True):
        response = decide(client, LIST, "approve_providers", [pending, active], reason="ok")

    pending.refresh_from_db()
    assert pending.status == ProviderStatus.ACTIVE
    errors, done = messages_of(response)
    assert errors.startswith("Already Active LLC: Cannot provider approve Already Active LLC")
    assert "it is Active" in errors
    assert done == "1 item decided."
    assert list(AuditEntry.objects.values_list("action", flat=True)) == ["provider_approve"]
    assert len(notified) == 1


# --- Suspend, reactivate, close -------------------------------------------------------------


@pytest.mark.parametrize("cause", [SuspensionCause.STAFF_ACTION, SuspensionCause.NON_PAYMENT])
def test_suspend_records_the_cause(
    client, staff, notified, django_capture_on_commit_callbacks, cause
):
    provider = ProviderFactory()
    page = open_reason_page(client, LIST, "suspend_providers", [provider])
    assert 'name="cause"' in page.text

    with django_capture_on_commit_callbacks(execute=True):
        decide(client, LIST, "suspend_providers", [provider], reason="Data misuse", cause=cause)

    provider.refresh_from_db()
    assert (provider.status, provider.suspension_cause) == (ProviderStatus.SUSPENDED, cause)
    (entry,) = _entries(provider, "provider_suspend")
    assert (entry.actor, entry.reason, entry.extra) == (staff, "Data misuse", {"cause": cause})
    assert notified == [entry.pk]


def test_suspend_refuses_an_unknown_cause_on_the_form(client):
    provider = ProviderFactory()

    response = decide(client, LIST, "suspend_providers", [provider], reason="x", cause="WHIM")

    assert response.status_code == 200
    assert "cause" in response.context["form"].errors
    provider.refresh_from_db()
    assert provider.status == ProviderStatus.ACTIVE


@pytest.mark.parametrize(
    ("action", "before", "after", "audit_action"),
    [
        ("suspend_providers", "ACTIVE", "SUSPENDED", "provider_suspend"),
        ("reactivate_providers", "SUSPENDED", "ACTIVE", "provider_reinstate"),
        ("close_providers", "ACTIVE", "CLOSED", "provider_close"),
        ("close_providers", "PENDING_REVIEW", "CLOSED", "provider_close"),
    ],
)
def test_each_decision_needs_a_reason_then_applies_with_audit_and_e_mail(
    client, staff, notified, django_capture_on_commit_callbacks, action, before, after, audit_action
):
    cause = SuspensionCause.STAFF_ACTION if before == "SUSPENDED" else ""
    provider = ProviderFactory(status=before, suspension_cause=cause)
    extra = {"cause": SuspensionCause.STAFF_ACTION} if action == "suspend_providers" else {}

    refused = decide(client, LIST, action, [provider], reason="", **extra)
    provider.refresh_from_db()
    assert refused.status_code == 200
    assert refused.context["form"].errors["reason"]
    assert provider.status == before

    with django_capture_on_commit_callbacks(execute=True):
        done = decide(client, LIST, action, [provider], reason="Decided by staff.", **extra)

    assert messages_of(done) == ["1 item decided."]
    provider.refresh_from_db()
    assert provider.status == after
    (entry,) = _entries(provider, audit_action)
    assert (entry.actor, entry.reason, entry.from_status, entry.to_status) == (
        staff,
        "Decided by staff.",
        before,
        after,
    )
    assert notified == [entry.pk]


def test_an_illegal_move_is_refused_with_the_current_status_and_changes_nothing(
    client, notified, django_capture_on_commit_callbacks
):
    provider = ProviderFactory(legal_name="Closed Co", status=ProviderStatus.CLOSED)

    with django_capture_on_commit_callbacks(execute=True):
        response = decide(client, LIST, "reactivate_providers", [provider], reason="Please")

    (message,) = messages_of(response)
    assert message.startswith("Closed Co: Cannot provider reinstate Closed Co: it is Closed")
    provider.refresh_from_db()
    assert provider.status == ProviderStatus.CLOSED
    assert not AuditEntry.objects.exists()
    assert notified == []


# --- Decisions from the provider's page -------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "offered"),
    [
        ("PENDING_REVIEW", ["approve_providers", "close_providers"]),
        ("ACTIVE", ["suspend_providers", "close_providers"]),
        ("SUSPENDED", ["reactivate_providers", "close_providers"]),
        ("CLOSED", []),
    ],
)
def test_the_provider_page_offers_the_decisions_its_status_allows(client, status, offered):
    cause = SuspensionCause.STAFF_ACTION if status == "SUSPENDED" else ""
    provider = ProviderFactory(status=status, suspension_cause=cause)

    response = client.get(_change(provider))

    links = [url for _label, url in response.context["item_decisions"]]
    assert links == [_decide_url(provider, action) for action in offered]
    for url in links:
        assert f'href="{url}"' in response.text


def test_a_decision_from_the_provider_page_returns_to_it(
    client, staff, notified, django_capture_on_commit_callbacks
):
    provider = ProviderFactory(status=ProviderStatus.PENDING_REVIEW)
    url = _decide_url(provider, "approve_providers")

    page = client.get(url)
    missing = client.post(url, {"confirm": "yes", "reason": ""})
    with django_capture_on_commit_callbacks(execute=True):
        done = client.post(url, {"confirm": "yes", "reason": "Looks right."})

    assert page.status_code == 200
    assert page.templates[0].name == "admin/portal/decision_confirm.html"
    assert missing.status_code == 200
    assert missing.context["form"].errors["reason"]
    assert done.status_code == 302
    assert done.url == _change(provider)
    provider.refresh_from_db()
    assert provider.status == ProviderStatus.ACTIVE
    (entry,) = _entries(provider, "provider_approve")
    assert notified == [entry.pk]


def test_a_decision_link_returns_only_to_a_local_page(client):
    provider = ProviderFactory(status=ProviderStatus.PENDING_REVIEW)
    url = _decide_url(provider, "approve_providers")

    response = client.post(f"{url}?next=https://evil.example/", {"confirm": "yes", "reason": "x"})

    assert response.url == _change(provider)


@pytest.mark.parametrize("action", ["delete_selected", "no_such_action", "approve_agreements"])
def test_a_decision_link_runs_only_the_queue_s_own_decisions(client, action):
    provider = ProviderFactory(status=ProviderStatus.PENDING_REVIEW)

    response = client.post(_decide_url(provider, action), {"confirm": "yes", "reason": "x"})

    assert response.status_code == 403
    assert Provider.objects.filter(pk=provider.pk).exists()


def test_a_decision_link_to_a_missing_provider_redirects(client):
    response = client.get(reverse("admin:accounts_provider_decide", args=[0, "close_providers"]))

    assert response.status_code == 302
    assert response.url == reverse("admin:index")  # Django's answer for a missing object


# --- Permissions ----------------------------------------------------------------------------


@pytest.fixture
def viewer_client() -> Client:
    return otp_login(Client(), view_only_staff())


def test_view_only_staff_see_the_queue_and_no_action(viewer_client):
    provider = ProviderFactory(status=ProviderStatus.PENDING_REVIEW)

    listing = viewer_client.get(LIST)
    page = viewer_client.get(_change(provider))

    assert listing.status_code == 200
    assert "1 pending review" in listing.text
    assert listing.context["action_form"] is None
    assert "approve_providers" not in listing.text
    assert page.status_code == 200
    assert page.context["item_decisions"] == []
    assert "/decide/" not in page.text


@pytest.mark.parametrize(
    "action",
    ["approve_providers", "suspend_providers", "reactivate_providers", "close_providers"],
)
def test_view_only_staff_forging_a_decision_change_nothing(
    viewer_client, notified, django_capture_on_commit_callbacks, action
):
    provider = ProviderFactory(status=ProviderStatus.PENDING_REVIEW)
    data = {"reason": "forged", "cause": "STAFF_ACTION"}

    with django_capture_on_commit_callbacks(execute=True):
        listed = decide(viewer_client, LIST, action, [provider], **data)
        picked = open_reason_page(viewer_client, LIST, action, [provider])
        linked = viewer_client.post(_decide_url(provider, action), {"confirm": "yes", **data})

    assert listed.status_code in {200, 302}
    assert picked.status_code in {200, 302}
    assert "decision_confirm.html" not in [t.name for t in picked.templates]
    assert linked.status_code == 403
    provider.refresh_from_db()
    assert provider.status == ProviderStatus.PENDING_REVIEW
    assert not AuditEntry.objects.exists()
    assert notified == []


def test_staff_with_change_permission_on_providers_only_can_decide_on_providers():
    from django.contrib.auth.models import Permission

    user = UserFactory(is_staff=True)
    user.user_permissions.set(
        Permission.objects.filter(
            codename__in=["view_provider", "change_provider", "view_agreement"]
        )
    )
    client = otp_login(Client(), user)
    provider = ProviderFactory(status=ProviderStatus.PENDING_REVIEW)
    agreement = AgreementFactory(status=AgreementStatus.SUBMITTED)

    decide(client, LIST, "approve_providers", [provider], reason="ok")
    decide(
        client,
        reverse("admin:agreements_agreement_changelist"),
        "approve_agreements",
        [agreement],
        reason="ok",
    )

    provider.refresh_from_db()
    agreement.refresh_from_db()
    assert provider.status == ProviderStatus.ACTIVE
    assert agreement.status == AgreementStatus.SUBMITTED


def test_the_provider_page_stays_read_only(client):
    provider = ProviderFactory(legal_name="Acme LLC")

    page = client.get(_change(provider))
    posted = client.post(_change(provider), {"legal_name": "Renamed", "status": "CLOSED"})

    assert page.context["has_change_permission"] is False
    assert posted.status_code == 403
    provider.refresh_from_db()
    assert (provider.legal_name, provider.status) == ("Acme LLC", ProviderStatus.ACTIVE)


# --- Audit timeline (part 3): decisions on the provider's agreements and MIDs appear ------------


def test_the_timeline_shows_decisions_on_the_provider_its_agreements_and_mids(client, staff):
    provider = ProviderFactory(status=ProviderStatus.PENDING_REVIEW)
    MembershipFactory(provider=provider)
    agreement = AgreementFactory(provider=provider, status=AgreementStatus.SUBMITTED)
    line = ScheduleLineFactory(agreement=agreement, status="REQUESTED")
    link = MidLinkFactory(provider=provider, status="REQUESTED")
    decide(client, LIST, "approve_providers", [provider], reason="Provider checked")
    agreement_services.agreement_approve(agreement=agreement, actor=staff, reason="Text checked")
    agreement_services.schedule_line_reject(line=line, actor=staff, reason="No justification")
    agreement_services.mid_link_reject(link=link, actor=staff, reason="Letter unsigned")

    body = client.get(_change(provider)).text

    for action, reason in [
        ("provider_approve", "Provider checked"),
        ("agreement_approve", "Text checked"),
        ("schedule_line_reject", "No justification"),
        ("mid_link_reject", "Letter unsigned"),
    ]:
        assert action in body
        assert reason in body
    assert "reviewer@usps.example" in body
    assert "PENDING_REVIEW &rarr; ACTIVE" in body


# --- Every review queue --------------------------------------------------------------------


def test_every_review_queue_links_only_its_own_permission_gated_decisions():
    from django.contrib import admin

    from accounts.admin import ReviewQueueMixin

    queues = {
        model._meta.label: model_admin
        for model, model_admin in admin.site._registry.items()
        if isinstance(model_admin, ReviewQueueMixin)
    }

    assert {
        "accounts.Provider",
        "agreements.Agreement",
        "agreements.AgreementScheduleLine",
        "agreements.AgreementVersion",
    } <= set(queues)
    for label, model_admin in queues.items():
        assert model_admin.review_permission, label
        assert set(model_admin.decision_links) <= set(model_admin.actions), label
        for name in model_admin.actions:
            func = getattr(type(model_admin), name)
            assert list(func.allowed_permissions) == ["review"], (label, name)


def test_the_provider_page_links_to_the_access_inspector(admin_client):
    from tests.factories import ProviderFactory

    provider = ProviderFactory()

    page = admin_client.get(f"/admin/accounts/provider/{provider.pk}/change/").content.decode()

    assert f"/admin/inspector/?provider={provider.pk}" in page


def test_the_timeline_names_each_subject_and_links_to_every_entry(admin_client):
    from tests.factories import ProviderFactory

    provider = ProviderFactory()
    from accounts import services

    services.provider_suspend(provider=provider, actor=None, reason="Audit", cause="STAFF_ACTION")

    page = admin_client.get(f"/admin/accounts/provider/{provider.pk}/change/").content.decode()
    every = f"/admin/core/auditentry/?provider__id__exact={provider.pk}"

    assert f"provider #{provider.pk}" in page
    assert every in page
    listed = admin_client.get(every)
    assert listed.status_code == 200
    assert listed.context["cl"].result_count == 1

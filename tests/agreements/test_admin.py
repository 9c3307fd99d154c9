"""Admin smoke tests: every domain model is listed, searchable and viewable, and read-only."""

import pytest
from django.urls import reverse

from agreements.constants import MidLinkStatus, MidRelation
from agreements.models import MidLink
from core.audit import audit_record
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

pytestmark = pytest.mark.django_db

# Admin URL prefix -> (key into the `domain` fixture, search term, text the row shows).
CASES = {
    "accounts_provider": ("provider", "48151623", "Acme Freight Analytics LLC"),
    "accounts_membership": ("membership", "owner@acme", "owner@acme.example"),
    "agreements_agreementversion": ("version", "2025-07", "2025-07"),
    "agreements_agreement": ("agreement", "Acme Freight", "Robin Signer"),
    "agreements_agreementscheduleline": ("schedule_line", "712345", "712345"),
    "agreements_midlink": ("mid_link", "987654321", "Globex Shipping"),
    "core_auditentry": ("audit_entry", "authorization checked", "Letter of authorization"),
}
ADMIN_NAMES = list(CASES)


@pytest.fixture
def domain():
    reviewer = StaffFactory(email="reviewer@example.com")
    provider = ProviderFactory(
        legal_name="Acme Freight Analytics LLC", dba_name="Acme Tracking", crid="48151623"
    )
    membership = MembershipFactory(provider=provider, user=UserFactory(email="owner@acme.example"))
    version = AgreementVersionFactory(label="2025-07")
    agreement = AgreementFactory(
        provider=provider, version=version, signer=membership.user, signer_name="Robin Signer"
    )
    schedule_line = ScheduleLineFactory(agreement=agreement, mid="712345")
    mid_link = MidLinkFactory(
        provider=provider,
        mid="987654321",
        relation=MidRelation.AUTHORIZED_BY_OWNER,
        owner_name="Globex Shipping",
        evidence="mid-evidence/loa-globex.pdf",
        requested_by=membership.user,
    )
    audit_entry = audit_record(
        subject=mid_link,
        action="mid_link_verify",
        actor=reviewer,
        provider_id=provider.pk,
        from_status=MidLinkStatus.REQUESTED,
        to_status=MidLinkStatus.VERIFIED,
        reason="Letter of authorization checked against the owner's CRID.",
    )
    return {
        "provider": provider,
        "membership": membership,
        "version": version,
        "agreement": agreement,
        "schedule_line": schedule_line,
        "mid_link": mid_link,
        "audit_entry": audit_entry,
    }


@pytest.mark.parametrize("name", ADMIN_NAMES)
def test_changelist_lists_the_row(admin_client, domain, name):
    key, _term, text = CASES[name]

    response = admin_client.get(reverse(f"admin:{name}_changelist"))

    assert response.status_code == 200
    assert domain[key] in response.context["cl"].result_list
    assert text in response.text


@pytest.mark.parametrize("name", ADMIN_NAMES)
def test_search_finds_the_row_and_filters_others_out(admin_client, domain, name):
    key, term, text = CASES[name]
    url = reverse(f"admin:{name}_changelist")

    found = admin_client.get(url, {"q": term})
    missed = admin_client.get(url, {"q": "no-such-thing-anywhere"})

    assert found.status_code == 200
    assert domain[key] in found.context["cl"].result_list
    assert text in found.text
    assert missed.status_code == 200
    assert missed.context["cl"].result_count == 0


@pytest.mark.parametrize("name", ADMIN_NAMES)
def test_change_page_shows_the_row_read_only(admin_client, domain, name):
    key, _term, text = CASES[name]

    response = admin_client.get(reverse(f"admin:{name}_change", args=[domain[key].pk]))

    assert response.status_code == 200
    assert text in response.text
    assert response.context["has_change_permission"] is False
    assert 'name="_save"' not in response.text


# Agreement versions are the exception: staff write drafts in the admin
# (tests/agreements/test_admin_versions.py).
@pytest.mark.parametrize("name", [n for n in ADMIN_NAMES if n != "agreements_agreementversion"])
def test_add_is_forbidden(admin_client, domain, name):
    assert admin_client.get(reverse(f"admin:{name}_add")).status_code == 403


@pytest.mark.parametrize("name", ADMIN_NAMES)
def test_delete_is_forbidden_and_nothing_is_deleted(admin_client, domain, name):
    key, _term, _text = CASES[name]
    obj = domain[key]
    url = reverse(f"admin:{name}_delete", args=[obj.pk])

    assert admin_client.get(url).status_code == 403
    assert admin_client.post(url, {"post": "yes"}).status_code == 403
    assert type(obj).objects.filter(pk=obj.pk).exists()


def test_posting_a_change_is_forbidden_and_nothing_changes(admin_client, domain):
    provider = domain["provider"]
    url = reverse("admin:accounts_provider_change", args=[provider.pk])

    response = admin_client.post(url, {"legal_name": "Renamed Inc", "status": "CLOSED"})

    assert response.status_code == 403
    provider.refresh_from_db()
    assert provider.legal_name == "Acme Freight Analytics LLC"
    assert provider.status == "ACTIVE"


def test_audit_entries_cannot_be_edited_through_the_admin(admin_client, domain):
    entry = domain["audit_entry"]
    url = reverse("admin:core_auditentry_change", args=[entry.pk])

    response = admin_client.post(url, {"reason": "rewritten history"})

    assert response.status_code == 403
    entry.refresh_from_db()
    assert entry.reason.startswith("Letter of authorization")


def test_admin_index_lists_every_domain_model(admin_client):
    response = admin_client.get(reverse("admin:index"))

    assert response.status_code == 200
    for name in ADMIN_NAMES:
        assert reverse(f"admin:{name}_changelist") in response.text


@pytest.mark.parametrize("url_name", ["admin:index", "admin:accounts_provider_changelist"])
def test_non_staff_user_is_sent_to_the_admin_login(client, url_name):
    client.force_login(UserFactory())

    response = client.get(reverse(url_name))

    assert response.status_code == 302
    assert response.url.startswith(reverse("admin:login"))


def test_provider_can_be_found_by_an_exact_mid(admin_client, domain):
    url = reverse("admin:accounts_provider_changelist")

    exact = admin_client.get(url, {"q": "987654321"})
    partial = admin_client.get(url, {"q": "98765"})

    assert list(exact.context["cl"].result_list) == [domain["provider"]]
    assert partial.context["cl"].result_count == 0


def test_provider_page_shows_members_and_audit_timeline(admin_client, domain):
    provider = domain["provider"]
    audit_record(
        subject=provider,
        action="billing_hold_set",
        actor=None,
        provider_id=provider.pk,
        reason="<script>alert('invoice')</script>",
    )
    other = ProviderFactory()
    audit_record(
        subject=other, action="provider_create", actor=None, provider_id=other.pk, reason="Other"
    )

    response = admin_client.get(reverse("admin:accounts_provider_change", args=[provider.pk]))

    body = response.text
    assert response.status_code == 200
    assert "owner@acme.example" in body  # membership inline
    assert "mid_link_verify" in body
    assert "reviewer@example.com" in body
    assert "REQUESTED &rarr; VERIFIED" in body
    assert "billing_hold_set" in body
    assert "system" in body
    assert "&lt;script&gt;alert(&#x27;invoice&#x27;)&lt;/script&gt;" in body
    assert "<script>alert(" not in body
    assert "provider_create" not in body


def test_provider_audit_timeline_shows_only_the_latest_entries(admin_client):
    provider = ProviderFactory()
    for n in range(55):
        audit_record(subject=provider, action=f"step_{n:02d}", actor=None, provider_id=provider.pk)

    response = admin_client.get(reverse("admin:accounts_provider_change", args=[provider.pk]))

    assert "step_54" in response.text
    assert "step_05" in response.text
    assert "step_04" not in response.text


def test_agreement_page_shows_its_schedule_lines(admin_client, domain):
    agreement = domain["agreement"]

    response = admin_client.get(reverse("admin:agreements_agreement_change", args=[agreement.pk]))

    assert response.status_code == 200
    assert "712345" in response.text
    assert "Analytics for a shipper that asked us to." in response.text


def test_mid_link_page_links_the_evidence_download_view(admin_client, domain):
    mid_link = domain["mid_link"]

    response = admin_client.get(reverse("admin:agreements_midlink_change", args=[mid_link.pk]))

    # The private storage has no URL: staff download through the permission-checked view.
    download = reverse("agreements:mid_evidence", args=[mid_link.pk])
    assert f'href="{download}"' in response.text
    assert "mid-evidence/" not in response.text


def _providers_with_members(count):
    for provider in ProviderFactory.create_batch(count):
        MembershipFactory(provider=provider)


def _mid_links(count):
    for provider in ProviderFactory.create_batch(count):
        MidLinkFactory(provider=provider)


def _agreements(count):
    for agreement in AgreementFactory.create_batch(count, decided_by=StaffFactory()):
        ScheduleLineFactory(agreement=agreement)


def _audit_entries(count):
    actor = StaffFactory()
    for link in MidLinkFactory.create_batch(count):
        audit_record(subject=link, action="mid_link_request", actor=actor, provider_id=None)
        audit_record(
            subject=link.provider,
            action="provider_create",
            actor=None,
            provider_id=link.provider_id,
        )


# Ten rows each; a per-row query would blow well past the ceiling. The ceilings count one
# query for the OTP device that verified the staff session (django_otp's OTPMiddleware).
@pytest.mark.parametrize(
    ("name", "make_rows"),
    [
        ("accounts_provider", _providers_with_members),
        ("accounts_membership", _providers_with_members),
        ("agreements_agreement", _agreements),
        ("agreements_agreementscheduleline", _agreements),
        ("agreements_midlink", _mid_links),
        ("core_auditentry", _audit_entries),
    ],
)
def test_changelist_query_count_does_not_grow_with_rows(
    admin_client, django_assert_max_num_queries, name, make_rows
):
    make_rows(10)
    url = reverse(f"admin:{name}_changelist")

    # 14: the session, the 2FA device check, the user, the counts, the rows, and one query per
    # related-only filter (the audit log has three: subject type and provider, plus actions).
    with django_assert_max_num_queries(14):
        response = admin_client.get(url)

    assert response.status_code == 200
    assert response.context["cl"].result_count >= 10


def test_provider_page_query_count_does_not_grow_with_members_or_audit_rows(
    admin_client, django_assert_max_num_queries
):
    provider = ProviderFactory()
    for _ in range(10):
        MembershipFactory(provider=provider)
        audit_record(subject=provider, action="x", actor=StaffFactory(), provider_id=provider.pk)
    url = reverse("admin:accounts_provider_change", args=[provider.pk])

    with django_assert_max_num_queries(13):
        response = admin_client.get(url)

    assert response.status_code == 200


def test_agreement_page_query_count_does_not_grow_with_schedule_lines(
    admin_client, django_assert_max_num_queries
):
    agreement = AgreementFactory()
    ScheduleLineFactory.create_batch(10, agreement=agreement, decided_by=StaffFactory())
    url = reverse("admin:agreements_agreement_change", args=[agreement.pk])

    with django_assert_max_num_queries(13):
        response = admin_client.get(url)

    assert response.status_code == 200


def test_read_only_models_stay_untouched_by_a_changelist_post(admin_client, domain):
    """Without change permission there is no list_editable or bulk action to post to."""
    url = reverse("admin:agreements_midlink_changelist")

    admin_client.post(
        url, {"action": "delete_selected", "_selected_action": [domain["mid_link"].pk]}
    )

    assert MidLink.objects.filter(pk=domain["mid_link"].pk).exists()
    assert AuditEntry.objects.count() == 1


def test_schedule_lines_are_searched_by_the_exact_mid(admin_client):
    line = ScheduleLineFactory(mid="712345")
    other = ScheduleLineFactory(mid="612345")
    url = reverse("admin:agreements_agreementscheduleline_changelist")

    exact = admin_client.get(url, {"q": "712345"})
    partial = admin_client.get(url, {"q": "12345"})

    assert list(exact.context["cl"].result_list) == [line]
    assert other not in partial.context["cl"].result_list
    assert partial.context["cl"].result_count == 0

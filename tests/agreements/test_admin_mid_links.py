"""The MID link review queue in the admin: the queue itself (order, counts, filters, search), the
change page (evidence preview, conflicts, decision buttons) and every decision through the admin
client (permission, reason required, state changed, audit written, e-mail queued)."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts import tasks
from accounts.constants import MembershipRole, ProviderStatus
from agreements import services
from agreements.constants import MidLinkStatus, MidRelation
from agreements.models import MidLink
from core.models import AuditEntry
from tests.agreements.test_uploads import JPEG_BYTES, PDF_BYTES, PNG_BYTES
from tests.factories import MembershipFactory, MidLinkFactory, ProviderFactory, UserFactory
from tests.otp import otp_login

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("private_media")]

CHANGELIST = "admin:agreements_midlink_changelist"
MID = "901234567"
LOCAL = "%Y-%m-%dT%H:%M"


# --- Helpers -----------------------------------------------------------------------------------


def staff_with(*codenames: str, email: str | None = None):
    user = UserFactory(is_staff=True, **({"email": email} if email else {}))
    user.user_permissions.add(
        *(
            Permission.objects.get(content_type__app_label="agreements", codename=c)
            for c in codenames
        )
    )
    return user


def client_for(user) -> Client:
    return otp_login(Client(), user)


@pytest.fixture
def reviewer():
    """An "Agreement reviewers" member as far as MID links go: view and change."""
    return staff_with("view_midlink", "change_midlink", email="reviewer@usps.example")


@pytest.fixture
def reviewer_client(reviewer):
    return client_for(reviewer)


@pytest.fixture
def support_client():
    """ "Support": may see MID links, decides nothing."""
    return client_for(staff_with("view_midlink"))


def upload(content=PDF_BYTES, name="letter.pdf", content_type="application/pdf"):
    return SimpleUploadedFile(name, content, content_type=content_type)


def claim(provider, mid=MID, relation=MidRelation.OWNED, **fields) -> MidLink:
    """A pending claim, made the way the portal makes it."""
    if relation == MidRelation.AUTHORIZED_BY_OWNER:
        fields = {
            "owner_name": "Acme Shipping Co.",
            "owner_crid": "20538353",
            "evidence": upload(),
        } | fields
    requester = MembershipFactory(provider=provider, role=MembershipRole.ADMIN).user
    return services.mid_link_request(
        provider=provider, mid=mid, relation=relation, requested_by=requester, **fields
    )


def with_team(legal_name: str, **fields):
    provider = ProviderFactory(legal_name=legal_name, **fields)
    MembershipFactory(
        provider=provider, role=MembershipRole.OWNER, user__email=f"owner@{provider.pk}.example"
    )
    return provider


def decide(client, action: str, links, **fields):
    """Post an action from the list: the reason page first, then the confirmation."""
    url = reverse(CHANGELIST)
    selected = [str(link.pk) for link in links]
    page = client.post(url, {"action": action, "index": 0, "_selected_action": selected})
    assert page.status_code == 200, page.status_code
    assert page.templates[0].name == "admin/portal/decision_confirm.html"
    data = {"action": action, "_selected_action": selected, "confirm": "yes", **fields}
    return client.post(url, data)


@pytest.fixture
def queued(monkeypatch):
    """The decision e-mails queued: the audit entry id given to each task (nothing is sent)."""
    calls: list[int] = []
    monkeypatch.setattr(tasks.decision_notify_task, "delay", calls.append)
    return calls


def local(moment) -> str:
    return timezone.localtime(moment).strftime(LOCAL)


def entries(link, action=None):
    found = AuditEntry.objects.filter(subject_id=link.pk, subject_type__model="midlink")
    return found.filter(action=action) if action else found


# --- The queue ---------------------------------------------------------------------------------


def test_pending_claims_come_first_oldest_at_the_top(admin_client):
    provider = ProviderFactory()
    now = timezone.now()
    recent = MidLinkFactory(provider=provider, status=MidLinkStatus.REQUESTED)
    oldest = MidLinkFactory(provider=provider, status=MidLinkStatus.REQUESTED)
    decided = MidLinkFactory(provider=provider, decided_at=now - timedelta(days=1))
    decided_later = MidLinkFactory(provider=provider, decided_at=now)
    MidLink.objects.filter(pk=oldest.pk).update(requested_at=now - timedelta(days=30))
    MidLink.objects.filter(pk=recent.pk).update(requested_at=now - timedelta(days=1))
    MidLink.objects.filter(pk__in=[decided.pk, decided_later.pk]).update(
        requested_at=now - timedelta(days=90)
    )

    response = admin_client.get(reverse(CHANGELIST))

    assert list(response.context["cl"].result_list) == [oldest, recent, decided_later, decided]


def test_the_summary_counts_what_waits_for_staff_and_for_owners(admin_client):
    owner = ProviderFactory(legal_name="Acme Shipping Co.")
    MidLinkFactory(provider=owner, mid=MID)  # Acme's verified ownership
    claim(ProviderFactory(), mid="902345678")
    claim(ProviderFactory(), mid="903456789", relation=MidRelation.AUTHORIZED_BY_OWNER)
    claim(ProviderFactory(), mid=MID, relation=MidRelation.AUTHORIZED_BY_OWNER, evidence=None)

    response = admin_client.get(reverse(CHANGELIST))

    (staff, staff_link), (owner_text, owner_link) = response.context["review_summaries"]
    assert staff.startswith("2 waiting for staff, the oldest waiting for ")
    assert owner_text.startswith("1 waiting for the MID owner's consent")
    assert staff_link == "?status__exact=REQUESTED&waiting_for=staff"
    assert owner_link == "?status__exact=REQUESTED&waiting_for=owner"
    assert 'id="review-summary"' in response.text
    followed = admin_client.get(reverse(CHANGELIST) + staff_link)
    assert followed.context["cl"].result_count == 2


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"status__exact": "REQUESTED"}, {"staff", "owner"}),
        ({"status__exact": "VERIFIED"}, {"acme"}),
        ({"relation__exact": "OWNED"}, {"acme", "staff"}),
        ({"waiting_for": "staff"}, {"staff"}),
        ({"waiting_for": "owner"}, {"owner"}),
        ({"waiting_for": "nonsense"}, {"acme", "staff", "owner"}),
    ],
)
def test_filters(admin_client, query, expected):
    links = {
        "acme": MidLinkFactory(provider=ProviderFactory(), mid=MID),
        "staff": claim(ProviderFactory(), mid="902345678"),
        "owner": claim(
            ProviderFactory(), mid=MID, relation=MidRelation.AUTHORIZED_BY_OWNER, evidence=None
        ),
    }

    response = admin_client.get(reverse(CHANGELIST), query)

    assert response.status_code == 200
    found = set(response.context["cl"].result_list)
    assert found == {links[name] for name in expected}


@pytest.mark.parametrize(
    ("term", "found"),
    [
        (MID, True),
        ("90123", False),  # MIDs match exactly, never in part
        ("Parcel Insights", True),
        ("48151623", True),  # the provider's CRID
        ("Globex", True),  # the owner named in the letter
        ("20538353", True),  # the owner's CRID, exactly
        ("2053835", False),
    ],
)
def test_search(admin_client, term, found):
    provider = ProviderFactory(legal_name="Parcel Insights LLC", crid="48151623")
    link = claim(
        provider,
        relation=MidRelation.AUTHORIZED_BY_OWNER,
        owner_name="Globex Shipping",
        owner_crid="20538353",
    )
    MidLinkFactory(mid="987654321")  # another provider's, matching none of the terms

    response = admin_client.get(reverse(CHANGELIST), {"q": term})

    assert list(response.context["cl"].result_list) == ([link] if found else [])


def test_the_list_counts_other_providers_claims_on_the_same_mid(admin_client):
    mine = claim(ProviderFactory(), mid=MID)
    MidLinkFactory(mid=MID, status=MidLinkStatus.REQUESTED)
    MidLinkFactory(mid=MID, status=MidLinkStatus.VERIFIED, relation=MidRelation.OWNED)
    MidLinkFactory(mid=MID, status=MidLinkStatus.REJECTED)  # closed: no conflict

    response = admin_client.get(reverse(CHANGELIST), {"q": MID})

    rows = {link.pk: link.other_open_claims for link in response.context["cl"].result_list}
    assert rows[mine.pk] == 2


# --- Verify with a validity window -------------------------------------------------------------


def test_verify_sets_the_window_audits_and_queues_one_e_mail_per_link(
    reviewer_client, reviewer, queued, django_capture_on_commit_callbacks
):
    first = claim(with_team("Parcel Insights LLC"), mid="902345678")
    second = claim(with_team("Globex Analytics LLC"), mid="903456789")
    start = timezone.now().replace(second=0, microsecond=0) + timedelta(hours=1)
    end = start + timedelta(days=365)

    with django_capture_on_commit_callbacks(execute=True):
        response = decide(
            reviewer_client,
            "verify_links",
            [first, second],
            reason="Ownership checked against the USPS Business Customer Gateway.",
            valid_from=local(start),
            valid_until=local(end),
        )

    assert response.status_code == 302
    for link in (first, second):
        link.refresh_from_db()
        assert link.status == MidLinkStatus.VERIFIED
        assert (link.valid_from, link.valid_until) == (start, end)
        assert (link.verified_by, link.decided_by) == (reviewer, reviewer)
        assert link.decision_reason.startswith("Ownership checked")
        verify = entries(link, "mid_link_verify").get()
        assert (verify.actor, verify.from_status, verify.to_status) == (
            reviewer,
            MidLinkStatus.REQUESTED,
            MidLinkStatus.VERIFIED,
        )
        assert verify.reason.startswith("Ownership checked")
        window = entries(link, "mid_link_window_set").get()
        assert window.extra["valid_from"] == start.isoformat()
        assert window.extra["valid_until"] == end.isoformat()
        assert window.extra["requested_window"]["valid_until"] is None
    # One e-mail per decided link, about its verification (the newest entry).
    assert sorted(queued) == sorted(
        entries(link, "mid_link_verify").get().pk for link in (first, second)
    )


def test_verify_without_a_start_starts_now_and_without_an_end_never_ends(admin_client):
    link = claim(ProviderFactory(), mid="902345678")
    before = timezone.now()

    decide(admin_client, "verify_links", [link], reason="Checked.", valid_from="", valid_until="")

    link.refresh_from_db()
    assert link.status == MidLinkStatus.VERIFIED
    assert before <= link.valid_from <= timezone.now()
    assert link.valid_until is None


def test_the_verify_page_offers_the_window_starting_now(admin_client):
    link = claim(ProviderFactory(), mid="902345678")

    page = admin_client.post(
        reverse(CHANGELIST),
        {"action": "verify_links", "index": 0, "_selected_action": [link.pk]},
    )

    form = page.context["form"]
    assert list(form.fields) == ["valid_from", "valid_until", "reason"]
    assert 'type="datetime-local"' in page.text
    assert f'value="{local(timezone.now())[:13]}' in page.text  # today, this hour
    assert form.fields["reason"].required


@pytest.mark.parametrize(
    ("fields", "field_with_error"),
    [
        ({"reason": ""}, "reason"),
        ({"reason": "   \n "}, "reason"),
        (
            {"reason": "ok", "valid_from": "2026-05-01T10:00", "valid_until": "2026-05-01T10:00"},
            "valid_until",
        ),
        (
            {"reason": "ok", "valid_from": "2026-05-01T10:00", "valid_until": "2026-04-01T10:00"},
            "valid_until",
        ),
        ({"reason": "ok", "valid_until": "2000-01-01T00:00"}, "valid_until"),
        ({"reason": "ok", "valid_from": "not a date"}, "valid_from"),
        ({"reason": "ok", "valid_from": "99999-01-01T00:00"}, "valid_from"),
    ],
)
def test_verify_refuses_a_missing_reason_or_a_bad_window_and_changes_nothing(
    admin_client, queued, django_capture_on_commit_callbacks, fields, field_with_error
):
    link = claim(ProviderFactory(), mid="902345678")

    with django_capture_on_commit_callbacks(execute=True):
        response = decide(admin_client, "verify_links", [link], **fields)

    assert response.status_code == 200
    assert field_with_error in response.context["form"].errors
    link.refresh_from_db()
    assert link.status == MidLinkStatus.REQUESTED
    assert list(entries(link).values_list("action", flat=True)) == ["mid_link_request"]
    assert queued == []


def test_verify_refused_by_the_service_is_reported_and_leaves_the_window_alone(
    admin_client, queued, django_capture_on_commit_callbacks
):
    MidLinkFactory(provider=ProviderFactory(legal_name="Acme Shipping Co."), mid=MID)
    second_owner = claim(ProviderFactory(), mid=MID)
    other = claim(ProviderFactory(), mid="902345678")
    asked = second_owner.valid_from

    with django_capture_on_commit_callbacks(execute=True):
        response = decide(
            admin_client,
            "verify_links",
            [second_owner, other],
            reason="Checked.",
            valid_until=local(timezone.now() + timedelta(days=30)),
        )

    messages = [str(m) for m in response.wsgi_request._messages]
    assert any("already verified as owned by Acme Shipping Co." in m for m in messages)
    assert "1 item decided." in messages
    second_owner.refresh_from_db()
    other.refresh_from_db()
    assert (second_owner.status, second_owner.valid_from) == (MidLinkStatus.REQUESTED, asked)
    assert second_owner.valid_until is None
    assert not entries(second_owner, "mid_link_window_set").exists()
    assert other.status == MidLinkStatus.VERIFIED
    assert queued == [entries(other, "mid_link_verify").get().pk]


def test_a_claim_waiting_for_its_owner_cannot_be_verified_by_staff(admin_client):
    MidLinkFactory(provider=ProviderFactory(), mid=MID)
    routed = claim(ProviderFactory(), relation=MidRelation.AUTHORIZED_BY_OWNER, evidence=None)

    response = decide(admin_client, "verify_links", [routed], reason="Looks fine.")

    assert response.status_code == 302
    routed.refresh_from_db()
    assert routed.status == MidLinkStatus.REQUESTED
    assert not entries(routed, "mid_link_window_set").exists()


def test_a_second_reviewer_is_told_the_link_changed(admin_client):
    link = claim(ProviderFactory(), mid="902345678")
    services.mid_link_reject(link=MidLink.objects.get(pk=link.pk), actor=None, reason="first")

    response = decide(admin_client, "verify_links", [link], reason="second")

    messages = [str(m) for m in response.wsgi_request._messages]
    assert any("it is Rejected" in m for m in messages), messages
    link.refresh_from_db()
    assert link.status == MidLinkStatus.REJECTED


# --- Reject and revoke -------------------------------------------------------------------------


def test_reject_needs_a_reason_then_rejects_audits_and_queues_the_e_mail(
    reviewer_client, reviewer, queued, django_capture_on_commit_callbacks
):
    link = claim(with_team("Parcel Insights LLC"), relation=MidRelation.AUTHORIZED_BY_OWNER)

    with django_capture_on_commit_callbacks(execute=True):
        refused = decide(reviewer_client, "reject_links", [link], reason="")
    link.refresh_from_db()
    assert refused.status_code == 200
    assert "reason" in refused.context["form"].errors
    assert link.status == MidLinkStatus.REQUESTED
    assert queued == []

    with django_capture_on_commit_callbacks(execute=True):
        done = decide(reviewer_client, "reject_links", [link], reason="The letter is unsigned.")

    assert done.status_code == 302
    link.refresh_from_db()
    assert (link.status, link.decided_by) == (MidLinkStatus.REJECTED, reviewer)
    entry = entries(link, "mid_link_reject").get()
    assert (entry.actor, entry.reason) == (reviewer, "The letter is unsigned.")
    assert queued == [entry.pk]


def test_revoke_needs_a_reason_then_revokes_and_lapses_the_owners_consents(
    reviewer_client, reviewer, queued, django_capture_on_commit_callbacks
):
    owner = with_team("Acme Shipping Co.")
    ownership = MidLinkFactory(provider=owner, mid=MID)
    platform = ProviderFactory(legal_name="LabelHub Inc.")
    consented = claim(platform, relation=MidRelation.AUTHORIZED_BY_OWNER, evidence=None)
    services.consent_approve(
        link=consented, owner=owner, actor=owner.memberships.get().user, reason="Our platform."
    )

    refused = decide(reviewer_client, "revoke_links", [ownership], reason=" ")
    ownership.refresh_from_db()
    assert "reason" in refused.context["form"].errors
    assert ownership.status == MidLinkStatus.VERIFIED

    with django_capture_on_commit_callbacks(execute=True):
        decide(reviewer_client, "revoke_links", [ownership], reason="The MID was reassigned.")

    ownership.refresh_from_db()
    consented.refresh_from_db()
    assert (ownership.status, ownership.decided_by) == (MidLinkStatus.REVOKED, reviewer)
    assert consented.status == MidLinkStatus.REVOKED
    entry = entries(ownership, "mid_link_revoke").get()
    assert (entry.actor, entry.reason) == (reviewer, "The MID was reassigned.")
    lapse = AuditEntry.objects.get(action="consent_lapse")
    # The owner hears about the revocation, and the grantee about the consent that lapsed.
    assert sorted(queued) == sorted([entry.pk, lapse.pk])


def test_a_pending_claim_cannot_be_revoked(admin_client):
    link = claim(ProviderFactory(), mid="902345678")

    response = decide(admin_client, "revoke_links", [link], reason="No.")

    messages = [str(m) for m in response.wsgi_request._messages]
    assert any("Cannot mid link revoke" in m for m in messages), messages
    link.refresh_from_db()
    assert link.status == MidLinkStatus.REQUESTED


# --- Permission --------------------------------------------------------------------------------


def test_view_only_staff_see_the_queue_without_actions(support_client):
    link = claim(ProviderFactory(), mid="902345678")

    listing = support_client.get(reverse(CHANGELIST))
    page = support_client.get(reverse("admin:agreements_midlink_change", args=[link.pk]))
    decide_page = support_client.get(
        reverse("admin:agreements_midlink_decide", args=[link.pk, "reject_links"])
    )

    assert listing.status_code == 200
    assert listing.context["action_form"] is None
    assert "verify_links" not in listing.text
    assert page.status_code == 200
    assert page.context["item_decisions"] == []
    assert "review-decision" not in page.text
    assert decide_page.status_code == 403


@pytest.mark.parametrize("action", ["verify_links", "reject_links", "revoke_links"])
def test_a_forged_decision_from_view_only_staff_changes_nothing(
    support_client, queued, django_capture_on_commit_callbacks, action
):
    pending = claim(ProviderFactory(), mid="902345678")
    verified = MidLinkFactory(mid="903456789")
    before = AuditEntry.objects.count()
    url = reverse(CHANGELIST)

    with django_capture_on_commit_callbacks(execute=True):
        for link in (pending, verified):
            for extra in ({"index": 0}, {"confirm": "yes"}):
                support_client.post(
                    url,
                    {"action": action, "_selected_action": [link.pk], "reason": "forged", **extra},
                )

    pending.refresh_from_db()
    verified.refresh_from_db()
    assert (pending.status, verified.status) == (MidLinkStatus.REQUESTED, MidLinkStatus.VERIFIED)
    assert AuditEntry.objects.count() == before
    assert queued == []


def test_staff_without_the_view_permission_cannot_open_the_queue():
    client = client_for(UserFactory(is_staff=True))

    assert client.get(reverse(CHANGELIST)).status_code == 403


def test_reviewers_get_the_decisions_the_link_allows_on_its_page(reviewer_client):
    pending = claim(ProviderFactory(), mid="902345678")
    verified = MidLinkFactory(mid="903456789")
    rejected = MidLinkFactory(mid="904567890", status=MidLinkStatus.REJECTED)

    def decisions(link):
        page = reviewer_client.get(reverse("admin:agreements_midlink_change", args=[link.pk]))
        return [url.rstrip("/").rsplit("/", 1)[1] for _label, url in page.context["item_decisions"]]

    assert decisions(pending) == ["verify_links", "reject_links"]
    assert decisions(verified) == ["revoke_links"]
    assert decisions(rejected) == []


def test_a_decision_from_the_links_page_comes_back_to_it(reviewer_client, reviewer):
    link = claim(ProviderFactory(), mid="902345678")
    change = reverse("admin:agreements_midlink_change", args=[link.pk])
    decide_url = reverse("admin:agreements_midlink_decide", args=[link.pk, "verify_links"])
    assert f'href="{decide_url}"' in reviewer_client.get(change).text

    page = reviewer_client.get(decide_url)
    done = reviewer_client.post(
        decide_url,
        {"confirm": "yes", "reason": "Checked.", "valid_from": "", "valid_until": ""},
    )

    assert page.status_code == 200
    assert page.context["title"] == "Verify MID links"
    assert "valid_until" in page.context["form"].fields
    assert (done.status_code, done["Location"]) == (302, change)
    link.refresh_from_db()
    assert (link.status, link.verified_by) == (MidLinkStatus.VERIFIED, reviewer)


# --- Conflicts ---------------------------------------------------------------------------------


def test_the_conflicts_panel_names_the_owner_and_other_open_claims(admin_client):
    owner = ProviderFactory(legal_name="Acme <b>Shipping</b> Co.", crid="20538353")
    ownership = MidLinkFactory(provider=owner, mid=MID)
    link = claim(ProviderFactory(legal_name="Parcel Insights LLC"), mid=MID)
    rival = claim(
        ProviderFactory(legal_name="Globex Analytics LLC", crid="11112222"),
        mid=MID,
        relation=MidRelation.AUTHORIZED_BY_OWNER,
    )
    MidLinkFactory(
        provider=ProviderFactory(legal_name="Rejected Co."), mid=MID, status=MidLinkStatus.REJECTED
    )
    MidLinkFactory(provider=ProviderFactory(legal_name="Other MID Inc."), mid="902345678")

    response = admin_client.get(reverse("admin:agreements_midlink_change", args=[link.pk]))

    body = response.text
    assert "Verified owner:" in body
    assert f'href="{reverse("admin:agreements_midlink_change", args=[ownership.pk])}"' in body
    assert "Acme &lt;b&gt;Shipping&lt;/b&gt; Co." in body  # escaped, never markup
    assert "<b>Shipping</b>" not in body
    assert f'href="{reverse("admin:agreements_midlink_change", args=[rival.pk])}"' in body
    assert "Globex Analytics LLC" in body
    assert "Rejected Co." not in body
    assert "Other MID Inc." not in body


def test_a_letter_naming_someone_else_than_the_registered_owner_is_pointed_out(admin_client):
    MidLinkFactory(provider=ProviderFactory(crid="20538353"), mid=MID)
    honest = claim(ProviderFactory(), relation=MidRelation.AUTHORIZED_BY_OWNER)
    forged = claim(ProviderFactory(), relation=MidRelation.AUTHORIZED_BY_OWNER, owner_crid="999")

    def page(link):
        return admin_client.get(reverse("admin:agreements_midlink_change", args=[link.pk])).text

    assert "The letter names CRID 20538353: the same as the registered owner" in page(honest)
    assert "The letter names CRID 999: <strong>not</strong> the registered owner" in page(forged)


def test_no_conflicts_is_said_plainly(admin_client):
    link = claim(ProviderFactory(), mid="902345678")

    response = admin_client.get(reverse("admin:agreements_midlink_change", args=[link.pk]))

    assert "No other provider holds or claims MID 902345678." in response.text


def test_the_change_page_shows_owner_consent_and_links_the_inspector(admin_client):
    owner = ProviderFactory(legal_name="Acme Shipping Co.")
    MidLinkFactory(provider=owner, mid=MID)
    consenter = MembershipFactory(provider=owner, user__email="ceo@acme.example").user
    link = claim(ProviderFactory(), relation=MidRelation.AUTHORIZED_BY_OWNER, evidence=None)
    services.consent_approve(link=link, owner=owner, actor=consenter, reason="Yes.")

    response = admin_client.get(reverse("admin:agreements_midlink_change", args=[link.pk]))

    assert "Owner consent" in response.text
    assert "ceo@acme.example" in response.text
    assert "Acme Shipping Co." in response.text
    inspector = f"{reverse('access_inspector')}?provider={link.provider_id}&amp;mid={MID}"
    assert inspector in response.text


def test_the_change_page_costs_a_bounded_number_of_queries(
    admin_client, django_assert_max_num_queries
):
    link = claim(ProviderFactory(), mid=MID)
    for _ in range(10):
        MidLinkFactory(mid=MID, status=MidLinkStatus.REQUESTED)

    with django_assert_max_num_queries(20):
        response = admin_client.get(reverse("admin:agreements_midlink_change", args=[link.pk]))

    assert response.status_code == 200


# --- Evidence preview --------------------------------------------------------------------------


def evidence_url(link) -> str:
    return reverse("agreements:mid_evidence", args=[link.pk])


@pytest.mark.parametrize(
    ("content", "name", "content_type"),
    [(PNG_BYTES, "scan.png", "image/png"), (JPEG_BYTES, "scan.jpg", "image/jpeg")],
)
def test_an_image_letter_is_previewed_inline_for_staff(
    reviewer_client, content, name, content_type
):
    link = claim(
        ProviderFactory(),
        relation=MidRelation.AUTHORIZED_BY_OWNER,
        evidence=upload(content, name, content_type),
    )

    page = reviewer_client.get(reverse("admin:agreements_midlink_change", args=[link.pk]))
    image = reviewer_client.get(evidence_url(link), {"inline": "1"})

    assert f'<img src="{evidence_url(link)}?inline=1"' in page.text
    assert f'href="{evidence_url(link)}"' in page.text  # and a download
    assert "mid-evidence/" not in page.text  # never the storage path
    assert image.status_code == 200
    assert image["Content-Type"] == content_type
    assert image["Content-Disposition"].startswith("inline;")
    assert image["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in image["Content-Security-Policy"]
    assert image["Cross-Origin-Resource-Policy"] == "same-origin"
    assert image["Cache-Control"] == "private, no-store"
    assert b"".join(image.streaming_content) == content


def test_a_pdf_letter_is_a_download_even_when_asked_inline(reviewer_client):
    link = claim(ProviderFactory(), relation=MidRelation.AUTHORIZED_BY_OWNER)

    page = reviewer_client.get(reverse("admin:agreements_midlink_change", args=[link.pk]))
    response = reviewer_client.get(evidence_url(link), {"inline": "1"})

    assert "?inline=1" not in page.text
    assert f'href="{evidence_url(link)}"' in page.text
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith("attachment;")


def test_members_always_download_even_an_image(client):
    provider = ProviderFactory()
    link = claim(
        provider,
        relation=MidRelation.AUTHORIZED_BY_OWNER,
        evidence=upload(PNG_BYTES, "scan.png", "image/png"),
    )
    client.force_login(MembershipFactory(provider=provider).user)

    response = client.get(evidence_url(link), {"inline": "1"})

    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment;")


def test_staff_without_the_view_permission_get_no_preview(client):
    link = claim(
        ProviderFactory(),
        relation=MidRelation.AUTHORIZED_BY_OWNER,
        evidence=upload(PNG_BYTES, "scan.png", "image/png"),
    )
    client.force_login(UserFactory(is_staff=True))

    assert client.get(evidence_url(link), {"inline": "1"}).status_code == 404


def test_a_closed_provider_is_still_shown_as_the_owner(admin_client):
    owner = ProviderFactory(legal_name="Gone Shipping Co.", status=ProviderStatus.CLOSED)
    MidLinkFactory(provider=owner, mid=MID)
    link = claim(ProviderFactory(), mid=MID)

    response = admin_client.get(reverse("admin:agreements_midlink_change", args=[link.pk]))

    assert "Gone Shipping Co." in response.text
    assert "Closed" in response.text


def _in(**delta) -> str:
    return local(timezone.now() + timedelta(**delta))


@pytest.mark.parametrize(
    ("fields", "field_with_error", "words"),
    [
        ({"valid_from": _in(days=-30), "valid_until": _in(days=-1)}, "valid_until", "future"),
        ({"valid_until": _in(minutes=-5)}, "valid_until", "future"),
        ({"valid_from": "9999-01-01T00:00"}, "valid_from", "year"),
        ({"valid_from": _in(days=367)}, "valid_from", "year"),
        ({"valid_from": "1999-12-31T23:00"}, "valid_from", "2000"),
    ],
)
def test_verify_refuses_a_window_in_the_past_or_far_away(
    admin_client, fields, field_with_error, words
):
    link = claim(ProviderFactory(), mid="902345678")

    response = decide(admin_client, "verify_links", [link], reason="Checked.", **fields)

    assert response.status_code == 200
    errors = response.context["form"].errors
    assert list(errors) == [field_with_error]
    assert words in " ".join(errors[field_with_error])
    link.refresh_from_db()
    assert link.status == MidLinkStatus.REQUESTED


def test_verify_accepts_a_window_that_started_and_one_that_starts_within_a_year(admin_client):
    started = claim(ProviderFactory(), mid="902345678")
    later = claim(ProviderFactory(), mid="903456789")

    decide(admin_client, "verify_links", [started], reason="Ok.", valid_from=_in(days=-3))
    decide(
        admin_client,
        "verify_links",
        [later],
        reason="Ok.",
        valid_from=_in(days=300),
        valid_until=_in(days=400),
    )

    started.refresh_from_db()
    later.refresh_from_db()
    assert (started.status, later.status) == (MidLinkStatus.VERIFIED, MidLinkStatus.VERIFIED)

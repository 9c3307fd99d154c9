"""The Mailer IDs page: every role, claiming, withdrawing, the evidence download, and another
tenant's ids (404 on every URL and method, nothing changed)."""

import re

import pytest
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.forms.models import model_to_dict
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts import services as account_services
from accounts.constants import MembershipRole, ProviderType, SuspensionCause
from agreements import services
from agreements.constants import MidLinkStatus, MidRelation
from agreements.models import MidLink
from core.errors import DomainError
from core.models import AuditEntry
from tests.agreements.conftest import stored_files
from tests.agreements.test_uploads import HTML_BYTES, JPEG_BYTES, PDF_BYTES
from tests.factories import (
    MembershipFactory,
    MidLinkFactory,
    ProviderFactory,
    StaffFactory,
    UserFactory,
)
from tests.otp import otp_login

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("private_media")]

ROLES = [role.value for role in MembershipRole]
CLAIMING_ROLES = [MembershipRole.OWNER.value, MembershipRole.ADMIN.value]
VIEW_ONLY_ROLES = [MembershipRole.BILLING.value, MembershipRole.DEVELOPER.value]
METHODS = ["get", "post", "put", "patch", "delete", "head", "options"]


def member_of(provider, role=MembershipRole.OWNER):
    return MembershipFactory(provider=provider, role=role).user


def logged_in(client, user):
    client.force_login(user)
    return client


def claim_form(**fields):
    token = fields.pop("submission", "token-1")
    return {"mid": "123456", "relation": MidRelation.OWNED, "submission": token, **fields}


def letter(content=PDF_BYTES, name="letter.pdf", content_type="application/pdf"):
    return SimpleUploadedFile(name, content, content_type=content_type)


def with_letter(provider, mid="901234567", **overrides):
    fields = {
        "provider": provider,
        "mid": mid,
        "relation": MidRelation.AUTHORIZED_BY_OWNER,
        "requested_by": member_of(provider, MembershipRole.ADMIN),
        "owner_name": "Acme Shipping Co.",
        "owner_crid": "20538353",
        "evidence": letter(),
    }
    return services.mid_link_request(**(fields | overrides))


@pytest.fixture
def provider():
    return ProviderFactory(legal_name="Parcel Insights LLC", provider_type=ProviderType.PLATFORM)


@pytest.fixture
def stranger():
    """Another tenant, with a pending claim carrying a letter and a verified link."""
    other = ProviderFactory(legal_name="Globex Analytics LLC")
    pending = with_letter(other)
    verified = MidLinkFactory(provider=other, mid="654321")
    return other, pending, verified


# --- The page, for every role ------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_every_role_sees_the_mids_page_and_only_claiming_roles_get_the_form(client, provider, role):
    MidLinkFactory(provider=provider, mid="901234567")
    rejected = MidLinkFactory(provider=provider, mid="012345", status=MidLinkStatus.REJECTED)
    MidLink.objects.filter(pk=rejected.pk).update(decision_reason="The BCG shows another owner.")
    logged_in(client, member_of(provider, role))

    response = client.get(reverse("agreements:mids"))

    assert response.status_code == 200
    assert "901234567" in response.text and "012345" in response.text
    assert "Verified" in response.text and "The BCG shows another owner." in response.text
    assert "6 digits" in response.text and "9 digits" in response.text
    if role in CLAIMING_ROLES:
        assert "Claim this MID" in response.text
    else:
        assert "Claim this MID" not in response.text
        assert "can see the Mailer IDs but not claim" in response.text


def test_every_input_of_the_claim_form_has_a_label(client, provider):
    logged_in(client, member_of(provider))

    html = client.get(reverse("agreements:mids")).text

    form = html[html.index('action="/mids/claim/"') :]
    ids = re.findall(r'<input[^>]*type="(?:text|file|radio)"[^>]*id="([^"]+)"', form)
    assert ids, "the claim form has inputs"
    for input_id in ids:
        assert f'for="{input_id}"' in form, input_id


def test_anonymous_visitors_are_sent_to_sign_in(client):
    response = client.get(reverse("agreements:mids"))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


def test_a_user_without_an_organisation_is_sent_to_create_one(client):
    logged_in(client, UserFactory())

    response = client.get(reverse("agreements:mids"))

    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:organisation_create")


# --- Claiming ----------------------------------------------------------------------------------


def test_an_owned_claim_is_created_and_listed_as_pending(client, provider):
    user = member_of(provider, MembershipRole.ADMIN)
    logged_in(client, user)

    response = client.post(reverse("agreements:mid_claim"), claim_form(mid=" 901 234 567 "))

    assert response.status_code == 302
    link = MidLink.objects.get(provider=provider)
    assert (link.mid, link.relation, link.status) == ("901234567", "OWNED", "REQUESTED")
    assert link.requested_by == user
    page = client.get(reverse("agreements:mids")).text
    assert "waits for postal staff" in page
    assert "Waiting for postal staff to check it." in page


@pytest.mark.parametrize(
    ("mid", "message"),
    [
        ("12345", "6 digits starting with 0 to 8, or 9 digits starting with 9"),
        ("912345", "6 digits starting with 0 to 8, or 9 digits starting with 9"),
        ("90123456X", "6 digits starting with 0 to 8, or 9 digits starting with 9"),
        ("", "This field is required"),
    ],
)
def test_a_malformed_mid_is_shown_on_its_field_and_kept(client, provider, mid, message):
    logged_in(client, member_of(provider))

    response = client.post(reverse("agreements:mid_claim"), claim_form(mid=mid))

    assert response.status_code == 200
    assert message in response.text
    assert 'id="id_mid-error"' in response.text
    assert f'value="{mid}"' in response.text or not mid
    assert not MidLink.objects.exists()


def test_an_authorized_claim_with_a_letter_is_stored_and_downloadable(client, provider):
    logged_in(client, member_of(provider))

    response = client.post(
        reverse("agreements:mid_claim"),
        claim_form(
            mid="901234567",
            relation=MidRelation.AUTHORIZED_BY_OWNER,
            owner_name="Acme Shipping Co.",
            owner_crid="20538353",
            evidence=letter(JPEG_BYTES, "scan.jpg", "image/jpeg"),
        ),
    )

    assert response.status_code == 302
    link = MidLink.objects.get(provider=provider)
    assert (link.owner_name, link.evidence_content_type) == ("Acme Shipping Co.", "image/jpeg")
    page = client.get(reverse("agreements:mids")).text
    assert reverse("agreements:mid_evidence", args=[link.pk]) in page
    assert "scan.jpg" in page


def test_a_renamed_html_letter_is_refused_on_its_field_keeping_what_was_typed(
    client, provider, private_media
):
    logged_in(client, member_of(provider))

    response = client.post(
        reverse("agreements:mid_claim"),
        claim_form(
            mid="901234567",
            relation=MidRelation.AUTHORIZED_BY_OWNER,
            owner_name="Acme Shipping Co.",
            owner_crid="20538353",
            evidence=letter(HTML_BYTES, "letter.pdf", "application/pdf"),
        ),
    )

    assert response.status_code == 200
    assert 'id="id_evidence-error"' in response.text
    assert "not a PDF, PNG or JPEG file" in response.text
    assert 'value="Acme Shipping Co."' in response.text and 'value="20538353"' in response.text
    assert not MidLink.objects.exists()
    assert stored_files(private_media) == []


def test_an_authorized_claim_without_a_letter_or_registered_owner_asks_for_the_letter(
    client, provider
):
    logged_in(client, member_of(provider))

    response = client.post(
        reverse("agreements:mid_claim"),
        claim_form(
            mid="901234567",
            relation=MidRelation.AUTHORIZED_BY_OWNER,
            owner_name="Acme Shipping Co.",
            owner_crid="20538353",
        ),
    )

    assert response.status_code == 200
    assert 'id="id_evidence-error"' in response.text
    assert "letter of authorization" in response.text
    assert not MidLink.objects.exists()


def test_a_double_submit_creates_one_claim(client, provider):
    logged_in(client, member_of(provider))
    form = claim_form(submission="same-token")

    first = client.post(reverse("agreements:mid_claim"), form)
    second = client.post(reverse("agreements:mid_claim"), form, follow=True)

    assert first.status_code == 302
    assert "That claim was already sent" in second.text
    assert MidLink.objects.filter(provider=provider).count() == 1


def test_a_refused_claim_can_be_corrected_and_resent_with_the_same_token(client, provider):
    MidLinkFactory(provider=provider, mid="123456", status=MidLinkStatus.REQUESTED)
    logged_in(client, member_of(provider))

    refused = client.post(reverse("agreements:mid_claim"), claim_form(submission="t"))
    corrected = client.post(
        reverse("agreements:mid_claim"), claim_form(mid="654321", submission="t")
    )

    assert "already has an open claim on MID 123456" in refused.text
    assert corrected.status_code == 302
    assert MidLink.objects.filter(provider=provider, mid="654321").exists()


@pytest.mark.parametrize("role", VIEW_ONLY_ROLES)
def test_roles_without_the_claim_permission_get_403_and_nothing_changes(client, provider, role):
    pending = MidLinkFactory(provider=provider, status=MidLinkStatus.REQUESTED)
    logged_in(client, member_of(provider, role))

    claimed = client.post(reverse("agreements:mid_claim"), claim_form())
    withdrawn = client.post(reverse("agreements:mid_withdraw", args=[pending.pk]))

    assert (claimed.status_code, withdrawn.status_code) == (403, 403)
    assert list(MidLink.objects.values_list("pk", "status")) == [(pending.pk, "REQUESTED")]


# --- Withdrawing -------------------------------------------------------------------------------


def test_a_pending_claim_can_be_withdrawn_and_claimed_again(client, provider):
    user = member_of(provider)
    logged_in(client, user)
    client.post(reverse("agreements:mid_claim"), claim_form(submission="a"))
    link = MidLink.objects.get()

    response = client.post(reverse("agreements:mid_withdraw", args=[link.pk]), follow=True)

    link.refresh_from_db()
    assert link.status == MidLinkStatus.WITHDRAWN
    assert link.decided_by == user
    assert "Your claim on MID 123456 is withdrawn." in response.text
    entry = AuditEntry.objects.get(action="mid_link_withdraw")
    assert (entry.from_status, entry.to_status, entry.actor) == ("REQUESTED", "WITHDRAWN", user)
    # A withdrawn claim is closed: the same MID can be claimed again.
    again = client.post(reverse("agreements:mid_claim"), claim_form(submission="b"))
    assert again.status_code == 302
    assert MidLink.objects.filter(provider=provider, status="REQUESTED").count() == 1


@pytest.mark.parametrize("status", ["VERIFIED", "REJECTED", "REVOKED", "WITHDRAWN"])
def test_only_a_pending_claim_can_be_withdrawn(client, provider, status):
    link = MidLinkFactory(provider=provider, status=status)
    before = model_to_dict(link)
    logged_in(client, member_of(provider))

    response = client.post(reverse("agreements:mid_withdraw", args=[link.pk]), follow=True)

    assert "Cannot mid link withdraw" in response.text
    assert model_to_dict(MidLink.objects.get(pk=link.pk)) == before


def test_the_withdraw_service_refuses_someone_who_may_not_claim(provider):
    link = MidLinkFactory(provider=provider, status=MidLinkStatus.REQUESTED)

    for outsider in (member_of(provider, MembershipRole.BILLING), UserFactory(), StaffFactory()):
        with pytest.raises(DomainError, match="only the provider.s owners and administrators"):
            services.mid_link_withdraw(link=link, actor=outsider)

    link.refresh_from_db()
    assert link.status == MidLinkStatus.REQUESTED


# --- The evidence download ---------------------------------------------------------------------


def assert_attachment(response, content=PDF_BYTES, content_type="application/pdf"):
    assert response.status_code == 200
    assert response["Content-Type"] == content_type
    assert response["Content-Disposition"].startswith("attachment;")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in response["Content-Security-Policy"]
    assert b"".join(response.streaming_content) == content


@pytest.mark.parametrize("role", ROLES)
def test_every_member_downloads_the_letter_as_an_attachment(client, provider, role):
    link = with_letter(provider)
    logged_in(client, member_of(provider, role))

    response = client.get(reverse("agreements:mid_evidence", args=[link.pk]))

    assert_attachment(response)
    assert 'filename="MID-901234567-letter-' in response["Content-Disposition"]
    assert response["Content-Disposition"].endswith('.pdf"')


def test_staff_download_any_letter_without_being_members(client, stranger):
    _, pending, _ = stranger
    otp_login(client, StaffFactory())

    assert_attachment(client.get(reverse("agreements:mid_evidence", args=[pending.pk])))


def test_staff_signed_in_without_the_second_factor_cannot_download_letters(client, stranger):
    """A staff member signed in with only a password (the portal's login) has not passed the
    admin's TOTP check, so staff access to other providers' letters is closed to them."""
    _, pending, _ = stranger
    logged_in(client, StaffFactory())

    assert client.get(reverse("agreements:mid_evidence", args=[pending.pk])).status_code == 404


def test_staff_without_the_view_midlink_permission_get_404_for_a_letter(client, stranger):
    _, pending, _ = stranger
    staff = UserFactory(is_staff=True)  # staff, but not allowed to see MID links
    logged_in(client, staff)

    assert client.get(reverse("agreements:mid_evidence", args=[pending.pk])).status_code == 404


def test_staff_with_the_view_midlink_permission_download_a_letter(client, stranger):
    _, pending, _ = stranger
    staff = UserFactory(is_staff=True)
    staff.user_permissions.add(
        Permission.objects.get_by_natural_key("view_midlink", "agreements", "midlink")
    )
    otp_login(client, staff)

    assert_attachment(client.get(reverse("agreements:mid_evidence", args=[pending.pk])))


def test_a_staff_member_without_the_permission_still_gets_their_own_providers_letters(
    client, provider, stranger
):
    _, pending, _ = stranger
    mine = with_letter(provider)
    staff = member_of(provider, MembershipRole.DEVELOPER)
    staff.is_staff = True
    staff.save(update_fields=["is_staff"])
    logged_in(client, staff)

    assert_attachment(client.get(reverse("agreements:mid_evidence", args=[mine.pk])))
    assert client.get(reverse("agreements:mid_evidence", args=[pending.pk])).status_code == 404


def test_staff_reach_the_download_from_the_admin(admin_client, stranger):
    _, pending, _ = stranger
    page = admin_client.get(reverse("admin:agreements_midlink_change", args=[pending.pk]))
    url = reverse("agreements:mid_evidence", args=[pending.pk])

    assert f'href="{url}"' in page.text
    assert_attachment(admin_client.get(url))


def test_anonymous_visitors_are_sent_to_sign_in_for_a_letter(client, stranger):
    _, pending, _ = stranger

    response = client.get(reverse("agreements:mid_evidence", args=[pending.pk]))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


def test_a_signed_in_user_of_no_organisation_gets_404_for_a_letter(client, stranger):
    _, pending, _ = stranger
    logged_in(client, UserFactory())

    assert client.get(reverse("agreements:mid_evidence", args=[pending.pk])).status_code == 404


def test_a_link_without_a_letter_or_with_a_missing_file_is_404(client, provider, private_media):
    without = MidLinkFactory(provider=provider)
    missing = with_letter(provider)
    (private_media / missing.evidence.name).unlink()
    logged_in(client, member_of(provider))

    assert client.get(reverse("agreements:mid_evidence", args=[without.pk])).status_code == 404
    assert client.get(reverse("agreements:mid_evidence", args=[missing.pk])).status_code == 404


def test_a_letter_stored_before_types_were_recorded_is_typed_from_its_bytes(
    client, provider, private_media
):
    path = private_media / "mid-evidence" / "old-letter.html"
    path.parent.mkdir(parents=True)
    path.write_bytes(JPEG_BYTES)
    link = MidLinkFactory(
        provider=provider,
        relation=MidRelation.AUTHORIZED_BY_OWNER,
        evidence="mid-evidence/old-letter.html",
    )
    logged_in(client, member_of(provider))

    response = client.get(reverse("agreements:mid_evidence", args=[link.pk]))

    assert_attachment(response, JPEG_BYTES, "image/jpeg")
    assert response["Content-Disposition"].endswith('.jpg"')


# --- Another tenant's ids: 404 on every URL and method, nothing changed ------------------------


# A role without the claim permission gets 403 on withdraw for any id (tested above).
TENANT_CASES = [
    (role, name)
    for role in ROLES
    for name in ("mid_withdraw", "mid_evidence")
    if not (name == "mid_withdraw" and role in VIEW_ONLY_ROLES)
]


@pytest.mark.parametrize(("role", "name"), TENANT_CASES)
@pytest.mark.parametrize("method", METHODS)
def test_another_tenants_link_is_404_on_every_url_and_method(
    client, provider, stranger, role, name, method
):
    _, pending, verified = stranger
    logged_in(client, member_of(provider, role))
    before = list(MidLink.objects.order_by("pk").values())
    audit_before = AuditEntry.objects.count()

    for link in (pending, verified):
        response = getattr(client, method)(reverse(f"agreements:{name}", args=[link.pk]))
        assert response.status_code == 404, (method, name, link.status)

    assert list(MidLink.objects.order_by("pk").values()) == before
    assert AuditEntry.objects.count() == audit_before


def test_an_unsupported_method_on_ones_own_link_is_405(client, provider):
    link = MidLinkFactory(provider=provider, status=MidLinkStatus.REQUESTED)
    logged_in(client, member_of(provider))

    assert client.get(reverse("agreements:mid_withdraw", args=[link.pk])).status_code == 405


def test_a_member_of_two_providers_sees_only_the_active_ones_links(client, provider, stranger):
    other, pending, _ = stranger
    user = member_of(provider)
    MembershipFactory(provider=other, user=user, role=MembershipRole.OWNER)
    logged_in(client, user)
    client.post(reverse("accounts:switch_provider"), {"provider_id": provider.pk})

    assert client.get(reverse("agreements:mid_evidence", args=[pending.pk])).status_code == 404
    assert pending.mid not in client.get(reverse("agreements:mids")).text


def test_the_page_costs_the_same_queries_for_one_link_or_many(client, provider):

    owner = ProviderFactory(legal_name="Acme Shipping Co.")
    logged_in(client, member_of(provider))

    def queries():
        with CaptureQueriesContext(connection) as captured:
            assert client.get(reverse("agreements:mids")).status_code == 200
        return len(captured)

    MidLinkFactory(provider=provider, mid="100001")
    one = queries()
    for n in range(5):
        with_letter(provider, mid=f"90000000{n}")
        MidLinkFactory(
            provider=provider,
            mid=f"20000{n}",
            relation=MidRelation.AUTHORIZED_BY_OWNER,
            owner_provider=owner,
            consented_by=member_of(owner),
            consented_at=timezone.now(),
        )
    assert queries() == one


def test_every_missing_part_of_an_authorized_claim_is_shown_at_once(client, provider):
    logged_in(client, member_of(provider))

    response = client.post(
        reverse("agreements:mid_claim"),
        claim_form(mid="901234567", relation=MidRelation.AUTHORIZED_BY_OWNER),
    )

    assert response.status_code == 200
    for field in ("owner_name", "owner_crid", "evidence"):
        assert f'id="id_{field}-error"' in response.text, field
    assert 'value="901234567"' in response.text
    assert not MidLink.objects.exists()


# --- A closed or suspended provider sees why, and what it can still do -------------------------


def test_a_closed_provider_sees_why_it_cannot_claim_and_may_still_withdraw(client, provider):
    pending = with_letter(provider)
    account_services.provider_close(provider=provider, actor=StaffFactory(), reason="Wound up")
    logged_in(client, member_of(provider))

    page = client.get(reverse("agreements:mids")).text

    assert reverse("agreements:mid_claim") not in page
    assert "Claim this MID" not in page
    assert "Parcel Insights LLC was closed" in page and "Wound up" in page
    assert reverse("agreements:mid_withdraw", args=[pending.pk]) in page  # the service allows it
    # Posting anyway is refused by the service, and the page says why.
    before = MidLink.objects.count()
    refused = client.post(reverse("agreements:mid_claim"), claim_form())
    assert refused.status_code == 200 and "Wound up" in refused.text
    assert MidLink.objects.count() == before


def test_a_suspended_provider_is_told_no_data_is_served_and_may_still_claim(client, provider):
    account_services.provider_suspend(
        provider=provider,
        actor=StaffFactory(),
        reason="Unverified letters",
        cause=SuspensionCause.STAFF_ACTION,
    )
    logged_in(client, member_of(provider))

    page = client.get(reverse("agreements:mids")).text

    assert "no tracking data is served" in page and "Unverified letters" in page
    assert reverse("agreements:mid_claim") in page  # claiming still works
    assert client.post(reverse("agreements:mid_claim"), claim_form()).status_code == 302
    assert MidLink.objects.filter(provider=provider).exists()


def test_an_active_provider_sees_no_standing_notice(client, provider):
    logged_in(client, member_of(provider))

    page = client.get(reverse("agreements:mids")).text

    assert "portal-standing" not in page

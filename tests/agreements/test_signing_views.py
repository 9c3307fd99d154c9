"""The IP agreement pages: reading and signing the current version, past signatures, scoping."""

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.constants import MembershipRole, ProviderStatus, ProviderType
from agreements.constants import AgreementStatus, ScheduleLineStatus
from agreements.forms.signing import parse_schedule
from agreements.models import Agreement, AgreementScheduleLine
from agreements.selectors.agreements import agreement_standing
from agreements.services import canonical_text, text_sha256
from core.models import AuditEntry
from tests.factories import (
    AgreementFactory,
    AgreementVersionFactory,
    MembershipFactory,
    ProviderFactory,
    ScheduleLineFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

AGREEMENT_URL = "/agreement/"
SIGNERS = [MembershipRole.OWNER, MembershipRole.ADMIN]
READERS = [MembershipRole.BILLING, MembershipRole.DEVELOPER]
TEXT = canonical_text(
    "1. Use of data. The Provider shall use USPS tracking data only for authorized MIDs.\n\n"
    "2. Audit. Postal staff may audit every disclosure & its <basis>.\n\n"
    "3. Termination. Either party may end this agreement on 30 days' notice."
)
CLIENT = {"REMOTE_ADDR": "203.0.113.7", "HTTP_USER_AGENT": "Mozilla/5.0 (Signing test)"}


@pytest.fixture
def version():
    return AgreementVersionFactory(label="v1", text=TEXT)


@pytest.fixture
def provider():
    return ProviderFactory(legal_name="Parcel Insights LLC")


def member(provider, role=MembershipRole.OWNER, client=None):
    membership = MembershipFactory(provider=provider, role=role)
    if client is not None:
        client.force_login(membership.user)
    return membership.user


def sign_data(version, **overrides):
    return {
        "signer_name": "Pat Signer",
        "signer_title": "Chief Executive Officer",
        "attested_authority": "on",
        "schedule": "",
        "text_sha256": text_sha256(version.text),
        "submission": "a" * 32,
    } | overrides


def hidden_hash(html: str) -> str:
    return re.search(r'name="text_sha256" value="([0-9a-f]*)"', html).group(1)


# --- Who sees what ----------------------------------------------------------------------------


def test_anonymous_people_are_sent_to_sign_in_from_every_url(client, version, provider):
    agreement = AgreementFactory(provider=provider, version=version)
    urls = [AGREEMENT_URL, f"/agreement/{agreement.pk}/", f"/agreement/{agreement.pk}/pdf/"]
    for url in urls:
        for method in (client.get, client.post):
            response = method(url)
            assert response.status_code == 302, url
            assert response.url.startswith(reverse("account_login"))
    assert Agreement.objects.count() == 1


def test_a_user_without_an_organisation_is_asked_to_create_one(client, version):
    client.force_login(UserFactory())
    response = client.get(AGREEMENT_URL)
    assert response.status_code == 302
    assert response.url == reverse("accounts:organisation_create")


def test_the_side_navigation_links_the_agreement_page(client, version, provider):
    member(provider, client=client)
    assert f'href="{AGREEMENT_URL}"' in client.get("/organisation/").content.decode()


@pytest.mark.parametrize("role", SIGNERS)
def test_owners_and_admins_see_the_full_text_and_the_signing_form(client, version, provider, role):
    member(provider, role, client=client)
    response = client.get(AGREEMENT_URL)
    html = response.content.decode()

    assert response.status_code == 200
    assert "IP agreement v1" in html
    effective = version.effective_at
    assert f"In effect since {effective.day} {effective:%B %Y}." in html
    # The whole text, escaped, paragraph by paragraph.
    assert "The Provider shall use USPS tracking data only for authorized MIDs." in html
    assert "disclosure &amp; its &lt;basis&gt;." in html
    assert "either party may end this agreement on 30 days" in html.lower()
    assert "I am authorized to bind Parcel Insights LLC to this agreement" in html
    assert hidden_hash(html) == version.text_sha256
    assert 'name="signer_name"' in html and 'name="signer_title"' in html
    assert 'name="schedule"' in html
    # Every visible input has a label.
    for name in ("signer_name", "signer_title", "attested_authority", "schedule"):
        assert f'for="id_{name}"' in html


@pytest.mark.parametrize("role", READERS)
def test_other_roles_read_the_text_and_who_can_sign_but_get_no_form(
    client, version, provider, role
):
    owner = member(provider, MembershipRole.OWNER)
    member(provider, role, client=client)
    response = client.get(AGREEMENT_URL)
    html = response.content.decode()

    assert response.status_code == 200
    assert "The Provider shall use USPS tracking data only for authorized MIDs." in html
    assert "Only an owner or administrator can sign for Parcel Insights LLC" in html
    assert owner.email in html
    assert 'name="signer_name"' not in html
    assert '<form method="post" class="usa-form' not in html


@pytest.mark.parametrize("role", READERS)
def test_other_roles_cannot_sign_and_nothing_is_saved(client, version, provider, role):
    member(provider, role, client=client)
    response = client.post(AGREEMENT_URL, sign_data(version), **CLIENT)
    assert response.status_code == 403
    assert not Agreement.objects.exists()


@pytest.mark.parametrize("role", SIGNERS + READERS)
def test_every_role_reads_past_signatures_and_their_pages(client, version, provider, role):
    agreement = AgreementFactory(provider=provider, version=version, signer_name="Pat Example")
    ScheduleLineFactory(agreement=agreement, mid="654321", justification="Claims for Acme.")
    member(provider, role, client=client)

    listing = client.get(AGREEMENT_URL).content.decode()
    assert reverse("agreements:agreement_detail", args=[agreement.pk]) in listing
    assert reverse("agreements:agreement_pdf", args=[agreement.pk]) in listing
    assert "Approved" in listing

    response = client.get(reverse("agreements:agreement_detail", args=[agreement.pk]))
    html = response.content.decode()
    assert response.status_code == 200
    for expected in (
        "Pat Example",
        "Chief Executive",
        "192.0.2.10",
        agreement.signed_text_sha256,
        "The text below hashes to this value.",
        "654321",
        "Claims for Acme.",
        "The Provider shall use USPS tracking data only for authorized MIDs.",
    ):
        assert expected in html, expected

    pdf = client.get(reverse("agreements:agreement_pdf", args=[agreement.pk]))
    assert pdf.status_code == 200
    assert pdf["Content-Type"] == "application/pdf"


def test_the_list_shows_the_staff_reason_for_a_rejection(client, version, provider):
    AgreementFactory(
        provider=provider,
        version=version,
        status=AgreementStatus.REJECTED,
        decided_at=timezone.now(),
        decision_reason="The signer is not an officer of the company.",
    )
    member(provider, MembershipRole.DEVELOPER, client=client)
    html = client.get(AGREEMENT_URL).content.decode()
    assert "Rejected" in html
    assert "The signer is not an officer of the company." in html


# --- Another tenant's ids ---------------------------------------------------------------------


@pytest.mark.parametrize("suffix", ["", "pdf/"])
@pytest.mark.parametrize("method", ["get", "post", "put", "patch", "delete", "options", "head"])
def test_another_providers_agreement_is_a_404_for_every_method(
    client, version, provider, suffix, method
):
    theirs = AgreementFactory(version=version)  # another provider's
    mine = AgreementFactory(provider=provider, version=version)
    member(provider, client=client)

    response = getattr(client, method)(f"/agreement/{theirs.pk}/{suffix}")
    assert response.status_code == 404
    missing = getattr(client, method)(f"/agreement/{theirs.pk + mine.pk + 1000}/{suffix}")
    assert missing.status_code == 404
    assert Agreement.objects.count() == 2
    if method in ("get", "head"):
        assert getattr(client, method)(f"/agreement/{mine.pk}/{suffix}").status_code == 200
    elif method != "options":
        assert getattr(client, method)(f"/agreement/{mine.pk}/{suffix}").status_code == 405


def test_a_member_of_two_providers_sees_only_the_active_ones_agreements(client, version):
    first, second = ProviderFactory(legal_name="A Corp"), ProviderFactory(legal_name="B Corp")
    user = member(first, client=client)
    MembershipFactory(user=user, provider=second)
    second_agreement = AgreementFactory(provider=second, version=version)
    client.post(reverse("accounts:switch_provider"), {"provider_id": first.pk})

    assert client.get(f"/agreement/{second_agreement.pk}/").status_code == 404
    assert str(second_agreement.pk) not in re.findall(
        r"/agreement/(\d+)/", client.get(AGREEMENT_URL).content.decode()
    )
    client.post(reverse("accounts:switch_provider"), {"provider_id": second.pk})
    assert client.get(f"/agreement/{second_agreement.pk}/").status_code == 200


# --- Signing ----------------------------------------------------------------------------------


@pytest.mark.parametrize("role", SIGNERS)
def test_signing_records_the_signature_hash_ip_agent_and_schedule_lines(
    client, version, provider, role
):
    user = member(provider, role, client=client)
    schedule = (
        "901234567, Claims analytics for Acme Shipping Co.\r\n\r\n 654321 ,Returns for Bolt\n"
    )
    response = client.post(AGREEMENT_URL, sign_data(version, schedule=schedule), **CLIENT)

    agreement = Agreement.objects.get()
    assert response.status_code == 302
    assert response.url == reverse("agreements:agreement_detail", args=[agreement.pk])
    assert agreement.provider == provider
    assert agreement.version == version
    assert agreement.signer == user
    assert agreement.status == AgreementStatus.SUBMITTED
    assert agreement.signer_name == "Pat Signer"
    assert agreement.signer_title == "Chief Executive Officer"
    assert agreement.attested_authority is True
    assert agreement.signed_text_sha256 == version.text_sha256
    assert agreement.ip_address == "203.0.113.7"
    assert agreement.user_agent == "Mozilla/5.0 (Signing test)"
    lines = {line.mid: line for line in AgreementScheduleLine.objects.filter(agreement=agreement)}
    assert set(lines) == {"901234567", "654321"}
    assert lines["654321"].justification == "Returns for Bolt"
    assert lines["901234567"].status == ScheduleLineStatus.REQUESTED
    assert AuditEntry.objects.filter(action="agreement_sign").count() == 1

    detail = client.get(response.url).content.decode()
    assert "You signed IP agreement v1 for Parcel Insights LLC" in detail
    assert "Submitted" in detail and "203.0.113.7" in detail

    # Signed: the page no longer offers the form, and says a review is pending.
    page = client.get(AGREEMENT_URL).content.decode()
    assert 'name="signer_name"' not in page
    assert "Signature of <strong>v1</strong> awaits review" in page


def test_x_forwarded_for_is_not_trusted(client, version, provider):
    member(provider, client=client)
    client.post(
        AGREEMENT_URL,
        sign_data(version),
        REMOTE_ADDR="198.51.100.20",
        HTTP_X_FORWARDED_FOR="10.9.8.7",
    )
    assert Agreement.objects.get().ip_address == "198.51.100.20"


BAD_INPUTS = {
    "missing name": (
        {"signer_name": "   "},
        "signer_name",
        "Type your full name as it should appear on the agreement.",
    ),
    "missing title": ({"signer_title": ""}, "signer_title", "Type your title"),
    "unticked box": (
        {"attested_authority": ""},
        "attested_authority",
        "Tick this box to confirm you are authorized to bind Parcel Insights LLC.",
    ),
    "bad MID": (
        {"schedule": "901234567, Claims for Acme\n12345, Too short"},
        "schedule",
        "Line 2: “12345” is not a Mailer ID.",
    ),
    "duplicate MID": (
        {"schedule": "901234567, Claims for Acme\n\n901234567, Again"},
        "schedule",
        "Line 3: MID 901234567 is already on line 1.",
    ),
    "missing justification": (
        {"schedule": "654321"},
        "schedule",
        "Line 1: say why you need MID 654321, after a comma",
    ),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_keeps_what_was_typed_shows_field_errors_and_saves_nothing(
    client, version, provider, case
):
    changes, field, message = BAD_INPUTS[case]
    member(provider, client=client)
    typed = sign_data(
        version,
        signer_name="Pat Signer",
        signer_title="Head of Data",
        schedule="901234567, Claims for Acme",
    )
    data = typed | changes
    if not data["attested_authority"]:
        del data["attested_authority"]
    response = client.post(AGREEMENT_URL, data, **CLIENT)
    html = response.content.decode()

    assert response.status_code == 200
    assert message in html
    assert response.context["form"].errors[field]
    assert f'id="id_{field}-error"' in html  # the error is tied to its input
    # What was typed is still there.
    for name in ("signer_name", "signer_title"):
        if data[name].strip():
            assert f'value="{data[name]}"' in html
    assert data["schedule"].split("\n")[0] in html
    if "attested_authority" in data:
        assert re.search(r'name="attested_authority"[^>]*checked', html)
    # The hidden hash still matches the text on the page.
    assert hidden_hash(html) == version.text_sha256
    assert not Agreement.objects.exists()
    assert not AgreementScheduleLine.objects.exists()
    assert not AuditEntry.objects.filter(action="agreement_sign").exists()


def test_several_bad_schedule_lines_are_all_named():
    lines, errors = parse_schedule(
        "901234567, ok\nabc, nope\n９０１２３４５６８, fullwidth digits\n901234567, twice\n"
    )
    assert lines == [("901234567", "ok")]
    assert [error.split(":")[0] for error in errors] == ["Line 2", "Line 3", "Line 4"]


def test_too_many_schedule_lines_are_refused():
    text = "\n".join(f"{700000 + n}, why" for n in range(101))
    lines, errors = parse_schedule(text)
    assert lines == [] and "At most 100" in errors[0]


def test_a_text_hash_mismatch_is_refused_and_the_page_shows_the_text_to_sign_again(
    client, version, provider
):
    member(provider, client=client)
    data = sign_data(version, text_sha256="0" * 64, schedule="654321, Returns for Bolt")
    response = client.post(AGREEMENT_URL, data, **CLIENT)
    html = response.content.decode()

    assert response.status_code == 200
    assert "does not match the published text" in html
    assert "The agreement text changed" in html
    assert 'value="Pat Signer"' in html and "654321, Returns for Bolt" in html
    # The form now carries the hash of the text on the page, and asks to attest again.
    assert hidden_hash(html) == version.text_sha256
    assert not re.search(r'name="attested_authority"[^>]*checked', html)
    assert not Agreement.objects.exists()
    assert not AgreementScheduleLine.objects.exists()

    # The same submission token works again once the service refused it.
    again = client.post(AGREEMENT_URL, data | {"text_sha256": hidden_hash(html)}, **CLIENT)
    assert again.status_code == 302
    assert Agreement.objects.get().signed_text_sha256 == version.text_sha256


def test_a_version_published_while_reading_is_shown_and_must_be_read_before_signing(
    client, version, provider
):
    member(provider, client=client)
    shown = hidden_hash(client.get(AGREEMENT_URL).content.decode())
    newer = AgreementVersionFactory(
        label="v2",
        text=canonical_text("Version two: new terms about audits."),
        effective_at=timezone.now() - timedelta(minutes=1),
    )

    response = client.post(AGREEMENT_URL, sign_data(version, text_sha256=shown), **CLIENT)
    html = response.content.decode()
    assert "does not match the published text" in html
    assert "Version two: new terms about audits." in html
    assert "IP agreement v2" in html
    assert hidden_hash(html) == newer.text_sha256
    assert not Agreement.objects.exists()


def test_a_double_submit_signs_once(client, version, provider):
    member(provider, client=client)
    data = sign_data(version, schedule="654321, Returns for Bolt")
    first = client.post(AGREEMENT_URL, data, **CLIENT)
    second = client.post(AGREEMENT_URL, data, **CLIENT)

    assert first.status_code == 302 and second.status_code == 302
    assert Agreement.objects.count() == 1
    assert AgreementScheduleLine.objects.count() == 1
    assert "already signed" in client.get(second.url).content.decode()


def test_a_double_submit_caught_by_the_token_signs_once(client, version, provider, monkeypatch):
    """Two clicks racing: the second arrives while the page still offers the form."""
    member(provider, client=client)
    data = sign_data(version)
    assert client.post(AGREEMENT_URL, data, **CLIENT).status_code == 302
    # Pretend the first signature is not visible yet to the second request's standing.
    monkeypatch.setattr("agreements.selectors.agreements._live_signatures", lambda **kwargs: ())
    second = client.post(AGREEMENT_URL, data, **CLIENT)
    assert second.status_code == 302
    assert Agreement.objects.count() == 1
    monkeypatch.undo()
    assert "already sent" in client.get(second.url).content.decode()


def test_a_signed_current_version_offers_nothing_to_sign(client, version, provider):
    AgreementFactory(provider=provider, version=version, status=AgreementStatus.SUBMITTED)
    member(provider, client=client)
    page = client.get(AGREEMENT_URL).content.decode()
    assert 'name="signer_name"' not in page

    response = client.post(AGREEMENT_URL, sign_data(version), **CLIENT)
    assert response.status_code == 302
    assert Agreement.objects.count() == 1


def test_holders_of_an_older_version_are_offered_the_newer_one(client, version, provider):
    AgreementFactory(provider=provider, version=version)
    newer = AgreementVersionFactory(
        label="v2",
        text=canonical_text("Version two."),
        effective_at=timezone.now() - timedelta(days=1),
    )
    member(provider, client=client)
    html = client.get(AGREEMENT_URL).content.decode()
    assert "IP agreement v2" in html and "Version two." in html
    assert hidden_hash(html) == newer.text_sha256

    response = client.post(AGREEMENT_URL, sign_data(newer), **CLIENT)
    assert response.status_code == 302
    assert Agreement.objects.filter(version=newer, status=AgreementStatus.SUBMITTED).exists()


def test_only_versions_for_the_providers_type_count(client, version, provider):
    AgreementVersionFactory(
        label="shippers-v9",
        text=canonical_text("For shippers only."),
        applies_to=[ProviderType.SHIPPER],
        effective_at=timezone.now() - timedelta(days=1),
    )
    AgreementVersionFactory(
        label="v3-draft", text=canonical_text("Not published."), published_at=None
    )
    AgreementVersionFactory(
        label="v4-future",
        text=canonical_text("Not in effect yet."),
        effective_at=timezone.now() + timedelta(days=5),
    )
    member(provider, client=client)
    html = client.get(AGREEMENT_URL).content.decode()
    assert "IP agreement v1" in html
    for other in ("For shippers only.", "Not published.", "Not in effect yet."):
        assert other not in html


def test_a_type_with_no_version_in_effect_has_nothing_to_sign(client, version):
    shipper = ProviderFactory(provider_type=ProviderType.SHIPPER)
    member(shipper, client=client)
    response = client.get(AGREEMENT_URL)
    html = response.content.decode()
    assert response.status_code == 200
    assert "nothing to sign" in html
    assert 'name="signer_name"' not in html
    assert client.post(AGREEMENT_URL, sign_data(version), **CLIENT).status_code == 302
    assert not Agreement.objects.exists()


def test_a_shipper_may_sign_a_version_written_for_it(client):
    shipper = ProviderFactory(provider_type=ProviderType.SHIPPER, legal_name="Acme Shipping Co.")
    version = AgreementVersionFactory(applies_to=[ProviderType.SHIPPER, ProviderType.PLATFORM])
    member(shipper, client=client)
    html = client.get(AGREEMENT_URL).content.decode()
    assert "request schedule lines" in html
    response = client.post(
        AGREEMENT_URL, sign_data(version, schedule="654321, Our 3PL's MID"), **CLIENT
    )
    assert response.status_code == 302
    assert Agreement.objects.get().provider == shipper


def test_a_closed_provider_sees_why_it_cannot_sign(client, version):
    closed = ProviderFactory(status=ProviderStatus.CLOSED, legal_name="Gone LLC")
    member(closed, client=client)
    html = client.get(AGREEMENT_URL).content.decode()
    assert "Gone LLC is closed, so it can no longer sign agreements." in html
    assert 'name="signer_name"' not in html

    response = client.post(AGREEMENT_URL, sign_data(version), **CLIENT)
    assert response.status_code == 302
    assert not Agreement.objects.exists()


def test_a_pending_review_provider_can_sign(client, version):
    pending = ProviderFactory(status=ProviderStatus.PENDING_REVIEW)
    member(pending, client=client)
    assert client.post(AGREEMENT_URL, sign_data(version), **CLIENT).status_code == 302
    assert Agreement.objects.get().provider == pending


def test_the_agreement_page_costs_a_bounded_number_of_queries(
    client, version, provider, django_assert_max_num_queries
):
    for _ in range(3):
        agreement = AgreementFactory(
            provider=provider, version=version, status=AgreementStatus.SUPERSEDED
        )
        ScheduleLineFactory(agreement=agreement)
    member(provider, client=client)
    client.get(AGREEMENT_URL)  # session set-up
    with django_assert_max_num_queries(12):
        assert client.get(AGREEMENT_URL).status_code == 200


def test_the_standing_follows_the_decisions_notion_of_newest(version, provider):
    same_day = AgreementVersionFactory(label="v1-corrected", effective_at=version.effective_at)
    standing = agreement_standing(provider=provider)
    assert standing.current_version == same_day  # same effective_at: the one created last
    assert standing.needs_signature

"""Services for agreement versions, signing, approvals and MID links: rules and refusals."""

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import IntegrityError, connection, transaction
from django.forms.models import model_to_dict
from django.utils import timezone

from accounts.constants import MembershipRole, ProviderStatus, ProviderType
from accounts.models import Provider
from agreements import services
from agreements.constants import AgreementStatus, MidLinkStatus, MidRelation, ScheduleLineStatus
from agreements.models import (
    Agreement,
    AgreementScheduleLine,
    AgreementVersion,
    MidLink,
)
from core.errors import DomainError, ImmutableRecord
from core.models import AuditEntry
from tests.factories import (
    AgreementFactory,
    AgreementVersionFactory,
    MembershipFactory,
    MidLinkFactory,
    ProviderFactory,
    StaffFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


def letter(name="authorization.pdf", content=b"%PDF-1.7 signed letter"):
    return SimpleUploadedFile(name, content, content_type="application/pdf")


# --- Agreement versions -----------------------------------------------------------------------


def draft(**overrides):
    fields = {
        "label": "v2",
        "text": "Terms.\r\nUse data only for authorized MIDs.   \r\n",
        "effective_at": timezone.now() + timedelta(days=30),
        "applies_to": [ProviderType.SERVICE_PROVIDER],
    }
    return services.agreement_version_create(**(fields | overrides))


def test_the_hash_ignores_line_endings_and_trailing_spaces_but_not_wording():
    a = services.text_sha256("Use data only.\r\nFor MIDs.  \n\n")
    b = services.text_sha256("Use data only.\nFor MIDs.")
    c = services.text_sha256("Use data only.\nFor all MIDs.")

    assert a == b
    assert a != c
    assert len(a) == 64


def test_a_draft_can_be_edited_until_it_is_published():
    version = draft()

    services.agreement_version_update(version=version, text="Better terms.")
    published = services.agreement_version_publish(version=version)

    assert published.text == "Better terms.\n"
    assert published.text_sha256 == services.text_sha256("Better terms.")
    assert published.published_at is not None


def test_a_published_version_is_immutable():
    version = services.agreement_version_publish(version=draft())
    before = model_to_dict(AgreementVersion.objects.get(pk=version.pk))

    with pytest.raises(ImmutableRecord, match="can no longer be changed"):
        services.agreement_version_update(version=version, text="Sneaky edit.")
    with pytest.raises(ImmutableRecord, match="already published"):
        services.agreement_version_publish(version=version)

    assert model_to_dict(AgreementVersion.objects.get(pk=version.pk)) == before


def test_a_version_must_apply_to_a_known_provider_type():
    with pytest.raises(DomainError, match="unknown: COURIER"):
        draft(applies_to=["COURIER"])
    with pytest.raises(DomainError, match="at least one provider type"):
        draft(applies_to=[])

    assert not AgreementVersion.objects.exists()


def test_only_editable_fields_can_be_updated():
    version = draft()

    with pytest.raises(DomainError, match="cannot be edited: published_at"):
        services.agreement_version_update(version=version, published_at=timezone.now())


# --- Signing ----------------------------------------------------------------------------------


@pytest.fixture
def signing():
    provider = ProviderFactory(provider_type=ProviderType.SERVICE_PROVIDER)
    owner = MembershipFactory(provider=provider, role=MembershipRole.OWNER).user
    version = AgreementVersionFactory()
    return provider, owner, version


def sign(provider, signer, version, **overrides):
    fields = {
        "provider": provider,
        "version": version,
        "signer": signer,
        "signer_name": "Pat Example",
        "signer_title": "CEO",
        "attested_authority": True,
        "shown_text_sha256": version.text_sha256,
        "ip_address": "198.51.100.7",
        "user_agent": "Mozilla/5.0",
        "schedule_lines": [("654321", "Shipper X asked us to analyse its parcels.")],
    }
    return services.agreement_sign(**(fields | overrides))


def test_signing_records_who_what_when_and_where(signing):
    provider, owner, version = signing

    agreement = sign(provider, owner, version)

    assert agreement.status == AgreementStatus.SUBMITTED
    assert agreement.signed_text_sha256 == version.text_sha256
    assert (agreement.signer, agreement.ip_address) == (owner, "198.51.100.7")
    assert list(agreement.schedule_lines.values_list("mid", "status")) == [
        ("654321", ScheduleLineStatus.REQUESTED)
    ]
    entry = AuditEntry.objects.get(action="agreement_sign")
    assert entry.extra["schedule_mids"] == ["654321"]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"attested_authority": False}, "must attest"),
        ({"shown_text_sha256": "0" * 64}, "does not match the published text"),
        ({"signer_name": "  "}, "full name and title are required"),
        ({"schedule_lines": [("12345", "x")]}, "is not valid"),
        ({"schedule_lines": [("654321", "a"), ("654321", "b")]}, "appears twice"),
        ({"schedule_lines": [("654321", "")]}, "needs a justification"),
    ],
)
def test_bad_signatures_are_refused_and_nothing_is_saved(signing, overrides, message):
    provider, owner, version = signing

    with pytest.raises(DomainError, match=message):
        sign(provider, owner, version, **overrides)

    assert not Agreement.objects.exists()
    assert not AgreementScheduleLine.objects.exists()
    assert not AuditEntry.objects.exists()


def test_only_owners_and_admins_sign(signing):
    provider, _, version = signing
    developer = MembershipFactory(provider=provider, role=MembershipRole.DEVELOPER).user
    outsider = UserFactory()

    for user in (developer, outsider):
        with pytest.raises(DomainError, match="Only an owner or administrator"):
            sign(provider, user, version)

    assert not Agreement.objects.exists()


def test_a_draft_or_a_version_for_other_types_cannot_be_signed(signing):
    provider, owner, _ = signing
    unpublished = AgreementVersionFactory(published_at=None, text_sha256="")
    for_shippers = AgreementVersionFactory(applies_to=[ProviderType.SHIPPER])

    with pytest.raises(DomainError, match="not published"):
        sign(provider, owner, unpublished)
    with pytest.raises(DomainError, match="does not apply to service providers"):
        sign(provider, owner, for_shippers)


def test_signing_the_same_version_twice_is_refused(signing):
    provider, owner, version = signing
    sign(provider, owner, version)

    with pytest.raises(DomainError, match="already signed"):
        sign(provider, owner, version)

    assert Agreement.objects.count() == 1


# --- Approvals ---------------------------------------------------------------------------------


def test_approving_a_newer_signature_supersedes_the_old_one():
    provider = ProviderFactory()
    old = AgreementFactory(
        provider=provider,
        version=AgreementVersionFactory(effective_at=timezone.now() - timedelta(days=90)),
    )
    new = AgreementFactory(provider=provider, status=AgreementStatus.SUBMITTED)
    staff = StaffFactory()

    services.agreement_approve(agreement=new, actor=staff)

    old.refresh_from_db()
    new.refresh_from_db()
    assert (old.status, new.status) == (AgreementStatus.SUPERSEDED, AgreementStatus.APPROVED)
    actions = list(AuditEntry.objects.order_by("pk").values_list("action", flat=True))
    assert actions == ["agreement_supersede", "agreement_approve"]


def test_approving_an_older_version_than_the_one_in_force_is_refused():
    provider = ProviderFactory()
    newer = AgreementFactory(provider=provider)
    older_version = AgreementVersionFactory(
        effective_at=newer.version.effective_at - timedelta(days=50)
    )
    older = AgreementFactory(
        provider=provider, version=older_version, status=AgreementStatus.SUBMITTED
    )

    with pytest.raises(DomainError, match="would go backwards"):
        services.agreement_approve(agreement=older, actor=StaffFactory())

    older.refresh_from_db()
    newer.refresh_from_db()
    assert (older.status, newer.status) == (AgreementStatus.SUBMITTED, AgreementStatus.APPROVED)


def test_a_suspended_agreement_blocks_a_new_approval():
    provider = ProviderFactory()
    AgreementFactory(provider=provider, status=AgreementStatus.SUSPENDED)
    new = AgreementFactory(provider=provider, status=AgreementStatus.SUBMITTED)

    with pytest.raises(DomainError, match="suspended agreement"):
        services.agreement_approve(agreement=new, actor=StaffFactory())

    new.refresh_from_db()
    assert new.status == AgreementStatus.SUBMITTED


def test_the_database_allows_one_approved_agreement_per_provider():
    provider = ProviderFactory()
    AgreementFactory(provider=provider)

    with pytest.raises(IntegrityError), transaction.atomic():
        AgreementFactory(provider=provider)


def test_schedule_lines_of_a_dead_agreement_cannot_be_approved():
    agreement = AgreementFactory(status=AgreementStatus.REJECTED)
    line = AgreementScheduleLine.objects.create(
        agreement=agreement, mid="654321", justification="x"
    )

    with pytest.raises(DomainError, match="can no longer be approved"):
        services.schedule_line_approve(line=line, actor=StaffFactory())

    line.refresh_from_db()
    assert line.status == ScheduleLineStatus.REQUESTED


# --- MID links -----------------------------------------------------------------------------------


@pytest.fixture
def member():
    membership = MembershipFactory(role=MembershipRole.ADMIN)
    return membership.provider, membership.user


@pytest.mark.parametrize(
    "mid",
    ["12345", "912345", "012345678", "1234567", "12a456", "１２３４５６", "", "9123456789"],
)
def test_malformed_mids_are_refused(member, mid):
    provider, user = member

    with pytest.raises(DomainError, match="not a valid Mailer ID"):
        services.mid_link_request(
            provider=provider, mid=mid, relation=MidRelation.OWNED, requested_by=user
        )

    assert not MidLink.objects.exists()


def test_a_mid_is_stored_as_a_string_with_its_leading_zero(member):
    provider, user = member

    link = services.mid_link_request(
        provider=provider, mid="012345", relation=MidRelation.OWNED, requested_by=user
    )

    assert MidLink.objects.get(pk=link.pk).mid == "012345"
    assert link.status == MidLinkStatus.REQUESTED


def test_an_authorized_link_needs_the_owner_and_a_letter(member):
    provider, user = member
    request = {
        "provider": provider,
        "mid": "901234567",
        "requested_by": user,
        "relation": MidRelation.AUTHORIZED_BY_OWNER,
    }
    owner = {"owner_name": "Acme Shipping", "owner_crid": "20538353"}

    with pytest.raises(DomainError, match="Name the MID's owner"):
        services.mid_link_request(**request, owner_crid="20538353", evidence=letter())
    with pytest.raises(DomainError, match="owner's CRID"):
        services.mid_link_request(**request, owner_name="Acme Shipping", evidence=letter())
    with pytest.raises(DomainError, match="needs evidence"):
        services.mid_link_request(**request, **owner)
    # The type is read from the content, never from the name (tests/agreements/test_uploads.py).
    with pytest.raises(DomainError, match="not a PDF, PNG or JPEG") as refused:
        services.mid_link_request(**request, **owner, evidence=letter(content=b"<html>hi"))
    assert refused.value.field_errors == {"evidence": [refused.value.message]}
    with pytest.raises(DomainError, match="empty"):
        services.mid_link_request(**request, **owner, evidence=letter(content=b""))
    assert not MidLink.objects.exists()

    link = services.mid_link_request(**request, **owner, evidence=letter("run.exe"))
    assert (link.owner_name, link.owner_crid) == ("Acme Shipping", "20538353")
    assert link.evidence.name.startswith(f"mid-evidence/{provider.pk}/")
    assert link.evidence.name.endswith(".pdf")  # a random name with the detected type's suffix
    assert "run" not in link.evidence.name
    assert (link.evidence_name, link.evidence_content_type) == ("run.exe", "application/pdf")
    assert link.evidence.read() == b"%PDF-1.7 signed letter"


@pytest.mark.parametrize("crid", ["１２３４５", "٢٠٥٣٨٣٥٣", "2053835３"])
def test_an_owner_crid_in_unicode_digits_is_refused_on_its_field(member, crid):
    provider, user = member

    with pytest.raises(DomainError, match="A CRID is 2 to 18 digits") as refused:
        services.mid_link_request(
            provider=provider,
            mid="901234567",
            relation=MidRelation.AUTHORIZED_BY_OWNER,
            requested_by=user,
            owner_name="Acme Shipping",
            owner_crid=crid,
            evidence=letter(),
        )

    assert list(refused.value.field_errors) == ["owner_crid"]
    assert not MidLink.objects.exists()


def test_the_verifier_is_kept_when_the_link_is_later_revoked():
    link = MidLinkFactory(status=MidLinkStatus.REQUESTED)
    verifier, revoker = StaffFactory(), StaffFactory()

    services.mid_link_verify(link=link, actor=verifier, reason="Matches BCG")
    services.mid_link_revoke(link=link, actor=revoker, reason="Owner withdrew consent")

    link.refresh_from_db()
    assert (link.verified_by, link.decided_by) == (verifier, revoker)
    assert link.verified_at is not None and link.verified_at <= link.decided_at
    assert link.decision_reason == "Owner withdrew consent"


def test_a_link_window_must_end_after_it_starts(member):
    provider, user = member
    start = timezone.now()

    with pytest.raises(DomainError, match="end must be after its start"):
        services.mid_link_request(
            provider=provider,
            mid="123456",
            relation=MidRelation.OWNED,
            requested_by=user,
            valid_from=start,
            valid_until=start,
        )


def test_duplicate_open_claims_and_closed_providers_are_refused(member):
    provider, user = member
    services.mid_link_request(
        provider=provider, mid="123456", relation=MidRelation.OWNED, requested_by=user
    )

    with pytest.raises(DomainError, match="already has an open claim"):
        services.mid_link_request(
            provider=provider, mid="123456", relation=MidRelation.OWNED, requested_by=user
        )

    closed = ProviderFactory(status=ProviderStatus.CLOSED)
    with pytest.raises(DomainError, match="is closed"):
        services.mid_link_request(
            provider=closed, mid="123456", relation=MidRelation.OWNED, requested_by=user
        )
    assert MidLink.objects.count() == 1


def test_only_one_provider_can_own_a_mid_at_a_time():
    owner = MidLinkFactory(mid="123456")
    claim = MidLinkFactory(mid="123456", status=MidLinkStatus.REQUESTED)
    staff = StaffFactory()

    with pytest.raises(DomainError, match=f"already verified as owned by {owner.provider}"):
        services.mid_link_verify(link=claim, actor=staff)
    claim.refresh_from_db()
    assert claim.status == MidLinkStatus.REQUESTED

    services.mid_link_revoke(link=owner, actor=staff, reason="Ownership transferred")
    services.mid_link_verify(link=claim, actor=staff)
    claim.refresh_from_db()
    assert claim.status == MidLinkStatus.VERIFIED


def test_the_database_enforces_a_single_verified_owner():
    MidLinkFactory(mid="123456")

    with pytest.raises(IntegrityError), transaction.atomic():
        MidLinkFactory(mid="123456")


def test_many_providers_may_be_authorized_for_the_same_mid():
    MidLinkFactory(mid="123456")
    for _ in range(3):
        MidLinkFactory(mid="123456", relation=MidRelation.AUTHORIZED_BY_OWNER, owner_name="Acme")

    assert MidLink.objects.filter(mid="123456", status=MidLinkStatus.VERIFIED).count() == 4


def test_the_database_rejects_a_malformed_mid_even_without_the_service():
    with pytest.raises(IntegrityError), transaction.atomic():
        MidLinkFactory(mid="912345")


# --- Audit log -----------------------------------------------------------------------------------


def test_the_audit_log_is_append_only_in_the_database():
    link = MidLinkFactory(status=MidLinkStatus.REQUESTED)
    services.mid_link_verify(link=link, actor=StaffFactory())
    entry = AuditEntry.objects.get()

    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
        AuditEntry.objects.filter(pk=entry.pk).update(reason="rewritten")
    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM agreements_auditentry")

    assert AuditEntry.objects.get().reason == ""


def test_signing_reads_the_providers_status_under_its_lock_not_the_callers_copy():
    """Review finding: a provider closed after the request loaded it could still sign."""
    owner = UserFactory()
    provider = ProviderFactory()
    MembershipFactory(user=owner, provider=provider)
    version = AgreementVersionFactory()
    Provider.objects.filter(pk=provider.pk).update(status=ProviderStatus.CLOSED)  # meanwhile

    with pytest.raises(DomainError, match="closed"):
        services.agreement_sign(
            provider=provider,  # the stale copy still says ACTIVE
            version=version,
            signer=owner,
            signer_name="Pat Example",
            signer_title="CEO",
            attested_authority=True,
            shown_text_sha256=version.text_sha256,
            ip_address=None,
            user_agent="pytest",
        )
    assert not Agreement.objects.exists()


@pytest.mark.parametrize("forged", ["signed_text_sha256", "version_text"])
def test_an_agreement_whose_text_hash_does_not_match_cannot_be_approved(forged):
    """The signed text must provably be the published text (issue 8): all three hashes agree."""
    agreement = AgreementFactory(status=AgreementStatus.SUBMITTED)
    if forged == "signed_text_sha256":
        Agreement.objects.filter(pk=agreement.pk).update(signed_text_sha256="0" * 64)
    else:  # the published text changed behind the service's back
        AgreementVersion.objects.filter(pk=agreement.version_id).update(text="Other terms.\n")

    with pytest.raises(DomainError, match="hash does not match"):
        services.agreement_approve(agreement=agreement, actor=StaffFactory())

    agreement.refresh_from_db()
    assert agreement.status == AgreementStatus.SUBMITTED


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        ([(f"{100000 + n}", "Asked by the shipper.") for n in range(101)], "At most 100"),
        ([("123456", "x" * 1001)], "under 1000 characters"),
    ],
)
def test_the_schedule_limits_hold_in_the_service_not_only_the_form(lines, message):
    owner = UserFactory()
    provider = ProviderFactory()
    MembershipFactory(user=owner, provider=provider)
    version = AgreementVersionFactory()

    with pytest.raises(DomainError, match=message) as excinfo:
        services.agreement_sign(
            provider=provider,
            version=version,
            signer=owner,
            signer_name="Pat Example",
            signer_title="CEO",
            attested_authority=True,
            shown_text_sha256=version.text_sha256,
            ip_address=None,
            user_agent="pytest",
            schedule_lines=lines,
        )
    assert list(excinfo.value.field_errors) == ["schedule"]
    assert not Agreement.objects.exists()

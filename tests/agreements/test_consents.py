"""Owner consent: a MID's registered owner decides who else reads it. Requests routed to the
owner, approve / decline / grant / revoke with the access decision before and after (a
revocation cuts access at once, even over a cached ALLOW), refusals for anyone but the owner's
managers, the "Who can read my MIDs" page for every role, and another tenant's ids."""

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.forms.models import model_to_dict
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts import services as account_services
from accounts.constants import MembershipRole, ProviderStatus, ProviderType, SuspensionCause
from agreements import services
from agreements.constants import MidLinkStatus, MidRelation, ReasonCode
from agreements.decision import decide
from agreements.models import MidLink
from agreements.selectors.mids import (
    consent_grantee_find,
    consent_grantee_get,
    consent_grants_for_owner,
    consent_requests_for_owner,
)
from core.errors import DomainError
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

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("private_media")]

MID = "901234567"
ROLES = [role.value for role in MembershipRole]
MANAGING_ROLES = [MembershipRole.OWNER.value, MembershipRole.ADMIN.value]
VIEW_ONLY_ROLES = [MembershipRole.BILLING.value, MembershipRole.DEVELOPER.value]
METHODS = ["get", "post", "put", "patch", "delete", "head", "options"]


def member_of(provider, role=MembershipRole.OWNER):
    return MembershipFactory(provider=provider, role=role).user


def owner_with_mid(mid=MID, **provider):
    """A shipper holding the MID's verified OWNED link."""
    shipper = ProviderFactory(provider_type=ProviderType.SHIPPER, **provider)
    MidLinkFactory(provider=shipper, mid=mid, relation=MidRelation.OWNED)
    return shipper


def readable_provider(**provider):
    """An active service provider with a current approved agreement: only a MID link is missing
    for the decision to allow."""
    grantee = ProviderFactory(provider_type=ProviderType.SERVICE_PROVIDER, **provider)
    AgreementFactory(provider=grantee, version=AgreementVersionFactory())
    return grantee


def ask(grantee, mid=MID, **fields):
    """An authorized claim without a letter: routed to the registered owner."""
    return services.mid_link_request(
        provider=grantee,
        mid=mid,
        relation=MidRelation.AUTHORIZED_BY_OWNER,
        requested_by=member_of(grantee, MembershipRole.ADMIN),
        **fields,
    )


@pytest.fixture
def shipper():
    return owner_with_mid(legal_name="Acme Shipping Co.", crid="20538353")


@pytest.fixture
def manager(shipper):
    return member_of(shipper, MembershipRole.ADMIN)


@pytest.fixture
def platform():
    return readable_provider(legal_name="Parcel Insights LLC", crid="31415926")


# --- Routing a claim to the registered owner -------------------------------------------------


def test_a_claim_without_a_letter_goes_to_the_mids_registered_owner(shipper, platform):
    link = ask(platform)

    assert (link.status, link.owner_provider) == (MidLinkStatus.REQUESTED, shipper)
    assert not link.evidence and (link.owner_name, link.owner_crid) == ("", "")
    assert list(consent_requests_for_owner(owner=shipper)) == [link]
    assert AuditEntry.objects.get(action="mid_link_request").extra["owner_provider_id"] == (
        shipper.pk
    )


def test_staff_cannot_verify_a_claim_that_waits_for_the_owner(shipper, platform):
    link = ask(platform)

    with pytest.raises(DomainError, match="waits for the consent of the MID's registered owner"):
        services.mid_link_verify(link=link, actor=StaffFactory())

    link.refresh_from_db()
    assert link.status == MidLinkStatus.REQUESTED
    services.mid_link_reject(link=link, actor=StaffFactory(), reason="Abusive request")


def test_a_claim_with_a_letter_still_goes_to_staff(shipper, platform):

    letter = SimpleUploadedFile("loa.pdf", b"%PDF-1.4 letter", content_type="application/pdf")
    link = ask(platform, owner_name="Acme Shipping Co.", owner_crid="20538353", evidence=letter)

    assert link.owner_provider is None
    assert not consent_requests_for_owner(owner=shipper).exists()
    services.mid_link_verify(link=link, actor=StaffFactory())  # staff decide on the letter
    assert list(consent_grants_for_owner(owner=shipper)) == [link]  # and the owner sees it


@pytest.mark.parametrize(
    "setup",
    ["no owner", "owner only claimed", "owner revoked", "owner closed"],
)
def test_without_a_verified_registered_owner_a_letter_is_needed(setup):
    if setup == "owner only claimed":
        MidLinkFactory(mid=MID, status=MidLinkStatus.REQUESTED)
    elif setup == "owner revoked":
        MidLinkFactory(mid=MID, status=MidLinkStatus.REVOKED)
    elif setup == "owner closed":
        owner_with_mid(status=ProviderStatus.CLOSED)

    with pytest.raises(DomainError, match="needs evidence") as refused:
        ask(readable_provider(), owner_name="Acme", owner_crid="20538353")

    assert list(refused.value.field_errors) == ["evidence"]
    assert not MidLink.objects.filter(relation=MidRelation.AUTHORIZED_BY_OWNER).exists()


def test_the_owner_cannot_ask_itself(shipper):
    with pytest.raises(DomainError, match="is the verified owner of MID 901234567"):
        ask(shipper)


# --- The whole cycle, with the access decision (real commits, so on-commit bumps run) ----------


@pytest.mark.django_db(transaction=True)
def test_approve_allows_at_once_and_revoke_denies_at_once_over_a_cached_allow():
    shipper = owner_with_mid()
    manager = member_of(shipper, MembershipRole.ADMIN)
    platform = readable_provider()
    link = ask(platform)

    before = decide(provider=platform, mid=MID)
    assert before.reason_codes == [ReasonCode.MID_NOT_AUTHORIZED]

    services.consent_approve(link=link, owner=shipper, actor=manager)

    allowed = decide(provider=platform, mid=MID)
    assert allowed.allowed and not allowed.from_cache
    assert (allowed.basis.kind, allowed.basis.pk) == ("MID_LINK", link.pk)
    assert decide(provider=platform, mid=MID).from_cache  # an ALLOW is now cached
    link.refresh_from_db()
    assert (link.status, link.consented_by, link.owner_provider) == ("VERIFIED", manager, shipper)
    assert link.consented_at is not None and link.verified_by == manager

    services.consent_revoke(link=link, owner=shipper, actor=manager, reason="Contract ended")

    after = decide(provider=platform, mid=MID)
    assert not after.allowed and not after.from_cache
    assert after.reason_codes == [ReasonCode.MID_NOT_AUTHORIZED]
    link.refresh_from_db()
    assert (link.status, link.decided_by, link.decision_reason) == (
        "REVOKED",
        manager,
        "Contract ended",
    )
    assert link.consented_by == manager  # the consent stays on the record


@pytest.mark.django_db(transaction=True)
def test_a_grant_allows_at_once_and_its_revocation_denies_at_once():
    shipper = owner_with_mid(crid="20538353")
    owner = member_of(shipper)
    platform = readable_provider()
    assert not decide(provider=platform, mid=MID).allowed
    assert decide(provider=platform, mid=MID).from_cache  # a DENY is cached

    link = services.consent_grant(owner=shipper, grantee=platform, mid=MID, actor=owner)

    assert decide(provider=platform, mid=MID).allowed
    assert decide(provider=platform, mid=MID).from_cache
    services.consent_revoke(link=link, owner=shipper, actor=owner, reason="Changed our mind")
    assert not decide(provider=platform, mid=MID).allowed


def test_every_consent_decision_is_audited_for_the_grantee_and_the_owner(
    shipper, manager, platform
):
    link = ask(platform)

    services.consent_approve(link=link, owner=shipper, actor=manager, reason="Our platform")
    services.consent_revoke(link=link, owner=shipper, actor=manager, reason="Contract ended")

    entries = AuditEntry.objects.filter(action__startswith="consent_").order_by("pk")
    assert [(e.action, e.provider_id, e.extra["side"]) for e in entries] == [
        ("consent_approve", platform.pk, "grantee"),
        ("consent_approve", shipper.pk, "owner"),
        ("consent_revoke", platform.pk, "grantee"),
        ("consent_revoke", shipper.pk, "owner"),
    ]
    for entry in entries:
        assert entry.actor == manager and entry.subject == link
        assert entry.extra["owner_provider_id"] == shipper.pk
        assert entry.extra["grantee_provider_id"] == platform.pk
    assert [(e.from_status, e.to_status) for e in entries[::2]] == [
        ("REQUESTED", "VERIFIED"),
        ("VERIFIED", "REVOKED"),
    ]


def test_a_grant_records_the_consent_and_names_the_owner(shipper, platform):
    owner = member_of(shipper)

    link = services.consent_grant(
        owner=shipper, grantee=platform, mid=MID, actor=owner, reason="Our analytics vendor"
    )

    link.refresh_from_db()
    assert (link.provider, link.relation, link.status) == (
        platform,
        "AUTHORIZED_BY_OWNER",
        "VERIFIED",
    )
    assert (link.owner_provider, link.consented_by, link.requested_by) == (shipper, owner, owner)
    assert (link.owner_name, link.owner_crid) == ("Acme Shipping Co.", "20538353")
    entry = AuditEntry.objects.get(action="consent_grant", provider=platform)
    assert (entry.from_status, entry.to_status, entry.reason) == (
        "REQUESTED",
        "VERIFIED",
        "Our analytics vendor",
    )
    assert AuditEntry.objects.filter(action="consent_grant", provider=shipper).exists()


def test_decline_needs_a_reason_and_the_claimant_sees_it(shipper, manager, platform):
    link = ask(platform)

    with pytest.raises(DomainError, match="A reason is required"):
        services.consent_decline(link=link, owner=shipper, actor=manager, reason="  ")
    services.consent_decline(link=link, owner=shipper, actor=manager, reason="Not our partner")

    link.refresh_from_db()
    assert (link.status, link.decision_reason, link.decided_by) == (
        "REJECTED",
        "Not our partner",
        manager,
    )
    assert (link.consented_by, link.consented_at) == (None, None)


def test_revoking_needs_a_reason(shipper, manager, platform):
    link = services.consent_grant(owner=shipper, grantee=platform, mid=MID, actor=manager)

    with pytest.raises(DomainError, match="A reason is required"):
        services.consent_revoke(link=link, owner=shipper, actor=manager, reason="")

    link.refresh_from_db()
    assert link.status == MidLinkStatus.VERIFIED


def test_the_owner_can_revoke_a_letter_based_authorization_of_its_mid(shipper, manager, platform):
    by_letter = MidLinkFactory(provider=platform, mid=MID, relation=MidRelation.AUTHORIZED_BY_OWNER)

    services.consent_revoke(link=by_letter, owner=shipper, actor=manager, reason="Letter withdrawn")

    by_letter.refresh_from_db()
    assert by_letter.status == MidLinkStatus.REVOKED


def test_a_decided_request_cannot_be_decided_again(shipper, manager, platform):
    link = ask(platform)
    services.consent_approve(link=link, owner=shipper, actor=manager)

    with pytest.raises(DomainError, match="already decided: it is verified"):
        services.consent_approve(link=link, owner=shipper, actor=manager)
    with pytest.raises(DomainError, match="already decided"):
        services.consent_decline(link=link, owner=shipper, actor=manager, reason="x")
    services.consent_revoke(link=link, owner=shipper, actor=manager, reason="x")
    with pytest.raises(DomainError, match="is revoked: there is no access to revoke"):
        services.consent_revoke(link=link, owner=shipper, actor=manager, reason="x")


def test_a_closed_requesters_request_cannot_be_approved_only_declined(shipper, manager):
    requester = readable_provider()
    link = ask(requester)
    requester.status = ProviderStatus.CLOSED
    requester.save(update_fields=["status"])
    audit_before = AuditEntry.objects.count()

    with pytest.raises(DomainError, match="is closed and can no longer read Mailer IDs"):
        services.consent_approve(link=link, owner=shipper, actor=manager)

    link.refresh_from_db()
    assert link.status == MidLinkStatus.REQUESTED
    assert AuditEntry.objects.count() == audit_before
    services.consent_decline(link=link, owner=shipper, actor=manager, reason="Closed")


# --- Refusals: only the verified owner's managers decide, and nothing changes otherwise --------


def refusals(shipper, platform, link):
    third = owner_with_mid(mid="912345678")  # owns another MID
    yield "third provider's owner as owner", third, member_of(third)
    yield "owner's billing member", shipper, member_of(shipper, MembershipRole.BILLING)
    yield "owner's developer", shipper, member_of(shipper, MembershipRole.DEVELOPER)
    yield "third provider's owner for the owner", shipper, member_of(third)
    yield "the claimant for itself", platform, link.requested_by
    yield "staff", shipper, StaffFactory()
    yield "a stranger", shipper, UserFactory()


@pytest.mark.parametrize("action", ["approve", "decline", "revoke", "grant"])
def test_nobody_but_the_verified_owners_managers_can_decide(shipper, platform, action):
    link = ask(platform)
    if action == "revoke":
        services.consent_approve(link=link, owner=shipper, actor=member_of(shipper))
    other = readable_provider()
    for label, owner, actor in refusals(shipper, platform, link):
        before = model_to_dict(MidLink.objects.get(pk=link.pk))
        links_before, audit_before = MidLink.objects.count(), AuditEntry.objects.count()

        with pytest.raises(DomainError):
            if action == "approve":
                services.consent_approve(link=link, owner=owner, actor=actor)
            elif action == "decline":
                services.consent_decline(link=link, owner=owner, actor=actor, reason="No")
            elif action == "revoke":
                services.consent_revoke(link=link, owner=owner, actor=actor, reason="No")
            else:
                services.consent_grant(owner=owner, grantee=other, mid=MID, actor=actor)

        assert model_to_dict(MidLink.objects.get(pk=link.pk)) == before, label
        assert (MidLink.objects.count(), AuditEntry.objects.count()) == (
            links_before,
            audit_before,
        ), label


def test_a_former_owner_can_no_longer_decide_and_no_longer_sees_the_request(
    shipper, manager, platform
):
    link = ask(platform)
    owned = shipper.mid_links.get(relation=MidRelation.OWNED)
    services.mid_link_revoke(link=owned, actor=StaffFactory(), reason="Ownership transferred")

    with pytest.raises(DomainError, match="is not the verified owner of MID 901234567"):
        services.consent_approve(link=link, owner=shipper, actor=manager)

    assert not consent_requests_for_owner(owner=shipper).exists()
    link.refresh_from_db()
    # The revocation rejected the request routed to the former owner (consent lapses with
    # ownership: tests/agreements/test_consent_lapse.py), so nobody is left to answer it.
    assert link.status == MidLinkStatus.REJECTED


def test_a_request_routed_to_one_owner_is_not_anothers_to_decide(shipper, platform):
    link = ask(platform)
    # The third provider also owns a MID and manages consents, but not this request's.
    third = owner_with_mid(mid="912345678")

    with pytest.raises(DomainError):
        services.consent_approve(link=link, owner=third, actor=member_of(third))


@pytest.mark.parametrize(
    ("grantee", "mid", "message"),
    [
        ("owner", MID, "owns MID 901234567 already"),
        ("closed", MID, "cannot be granted access: it is not active"),
        ("pending", MID, "cannot be granted access: it is not active"),
        ("suspended", MID, "cannot be granted access: it is not active"),
        ("platform", "912345678", "is not the verified owner of MID 912345678"),
        ("platform", "12345", "is not a valid Mailer ID"),
    ],
)
def test_grants_are_refused_when_they_make_no_sense(
    shipper, manager, platform, grantee, mid, message
):
    target = {
        "owner": shipper,
        "closed": ProviderFactory(status=ProviderStatus.CLOSED),
        "pending": ProviderFactory(status=ProviderStatus.PENDING_REVIEW),
        "suspended": ProviderFactory(
            status=ProviderStatus.SUSPENDED, suspension_cause="STAFF_ACTION"
        ),
        "platform": platform,
    }[grantee]
    audit_before = AuditEntry.objects.count()

    with pytest.raises(DomainError, match=message):
        services.consent_grant(owner=shipper, grantee=target, mid=mid, actor=manager)

    assert not MidLink.objects.filter(relation=MidRelation.AUTHORIZED_BY_OWNER).exists()
    assert AuditEntry.objects.count() == audit_before


@pytest.mark.parametrize("status", [ProviderStatus.PENDING_REVIEW, ProviderStatus.SUSPENDED])
def test_a_grant_to_a_provider_staff_have_not_approved_is_refused_on_the_grantee_field(
    shipper, manager, status
):
    squatter = ProviderFactory(
        status=status, suspension_cause="STAFF_ACTION" if status == "SUSPENDED" else ""
    )

    with pytest.raises(DomainError) as refused:
        services.consent_grant(owner=shipper, grantee=squatter, mid=MID, actor=manager)

    assert list(refused.value.field_errors) == ["grantee"]
    assert not MidLink.objects.filter(provider=squatter).exists()


def test_a_pending_provider_may_still_ask_and_the_owner_may_approve_it_but_it_reads_nothing(
    shipper, manager
):
    """Approving records the owner's consent; the access decision still denies until postal
    staff approve the provider (consent_approve documents why it allows this)."""
    pending = readable_provider(status=ProviderStatus.PENDING_REVIEW)
    link = ask(pending)

    services.consent_approve(link=link, owner=shipper, actor=manager)

    link.refresh_from_db()
    assert link.status == MidLinkStatus.VERIFIED
    assert decide(provider=pending, mid=MID).reason_codes == [ReasonCode.PROVIDER_NOT_ACTIVE]


def test_a_grant_is_refused_when_the_grantee_already_asked_or_can_read(shipper, manager, platform):
    ask(platform)
    with pytest.raises(DomainError, match="has already asked to read MID 901234567: approve"):
        services.consent_grant(owner=shipper, grantee=platform, mid=MID, actor=manager)

    other = readable_provider()
    services.consent_grant(owner=shipper, grantee=other, mid=MID, actor=manager)
    with pytest.raises(DomainError, match="can already read MID 901234567"):
        services.consent_grant(owner=shipper, grantee=other, mid=MID, actor=manager)


# --- Finding the grantee by exact CRID or legal name --------------------------------------------


def test_the_grantee_is_found_by_exact_crid_or_legal_name_only(shipper, platform):
    assert consent_grantee_find(identifier="31415926", owner=shipper) == platform
    assert consent_grantee_find(identifier="  parcel   insights llc ", owner=shipper) == platform

    for partial in ("Parcel", "3141592", "Parcel Insights", "%", "_", "３１４１５９２６"):
        with pytest.raises(DomainError, match="No active provider registered here") as refused:
            consent_grantee_find(identifier=partial, owner=shipper)
        assert list(refused.value.field_errors) == ["grantee"]


def test_an_ambiguous_or_excluded_grantee_is_refused(shipper, platform):
    ProviderFactory(legal_name="Parcel Insights LLC", crid="27182818")
    ProviderFactory(legal_name="Closed Co.", status=ProviderStatus.CLOSED)
    ProviderFactory(legal_name="Pending Co.", crid="11235813", status=ProviderStatus.PENDING_REVIEW)
    ProviderFactory(
        legal_name="Suspended Co.",
        status=ProviderStatus.SUSPENDED,
        suspension_cause="STAFF_ACTION",
    )

    with pytest.raises(DomainError, match="More than one provider matches"):
        consent_grantee_find(identifier="Parcel Insights LLC", owner=shipper)
    assert consent_grantee_find(identifier="27182818", owner=shipper).crid == "27182818"
    for excluded in ("Closed Co.", "Pending Co.", "11235813", "Suspended Co."):
        with pytest.raises(DomainError, match="No active provider registered here"):
            consent_grantee_find(identifier=excluded, owner=shipper)
    with pytest.raises(DomainError, match="No active provider"):
        consent_grantee_find(identifier="20538353", owner=shipper)  # the owner itself
    with pytest.raises(DomainError, match="Give the provider's CRID"):
        consent_grantee_find(identifier="   ", owner=shipper)


def test_a_pending_squatter_with_the_same_legal_name_is_never_found(shipper, platform):
    """Anyone can register a provider under any name; until postal staff approve it, it is
    invisible to grants. The real, active provider is still found by its name."""
    ProviderFactory(
        legal_name="PARCEL INSIGHTS LLC", crid="99999999", status=ProviderStatus.PENDING_REVIEW
    )

    assert consent_grantee_find(identifier="Parcel Insights LLC", owner=shipper) == platform
    with pytest.raises(DomainError, match="No active provider"):
        consent_grantee_find(identifier="99999999", owner=shipper)


def test_a_grantee_is_got_by_id_only_while_active_with_one_error_for_every_refusal(
    shipper, platform
):
    assert consent_grantee_get(provider_id=platform.pk, owner=shipper) == platform

    refused_ids = [
        ProviderFactory(status=ProviderStatus.PENDING_REVIEW).pk,
        ProviderFactory(status=ProviderStatus.SUSPENDED, suspension_cause="STAFF_ACTION").pk,
        ProviderFactory(status=ProviderStatus.CLOSED).pk,
        shipper.pk,  # the owner itself
        10**9,  # no such provider
        10**30,  # beyond any id the database holds
        "x",
        None,
    ]
    messages = set()
    for provider_id in refused_ids:
        with pytest.raises(DomainError) as refused:
            consent_grantee_get(provider_id=provider_id, owner=shipper)
        assert list(refused.value.field_errors) == ["grantee"], provider_id
        messages.add(refused.value.message)
    assert len(messages) == 1  # nothing tells an unknown id from a pending provider's


# --- The page, for every role --------------------------------------------------------------------


@pytest.fixture
def scene(shipper, platform):
    """A request waiting for the shipper, and a provider it granted access to."""
    waiting = ask(platform)
    granted_to = readable_provider(legal_name="LabelHub Inc.")
    grant = services.consent_grant(
        owner=shipper, grantee=granted_to, mid=MID, actor=member_of(shipper)
    )
    return waiting, grant


@pytest.mark.parametrize("role", ROLES)
def test_every_role_sees_who_can_read_the_mids_and_only_managers_get_the_buttons(
    client, shipper, scene, role
):
    waiting, grant = scene
    client.force_login(member_of(shipper, role))

    response = client.get(reverse("agreements:consents"))

    assert response.status_code == 200
    assert "Parcel Insights LLC" in response.text and "LabelHub Inc." in response.text
    controls = [
        reverse("agreements:consent_approve", args=[waiting.pk]),
        reverse("agreements:consent_decline", args=[waiting.pk]),
        reverse("agreements:consent_revoke", args=[grant.pk]),
        reverse("agreements:consent_grant"),
    ]
    shown = [url in response.text for url in controls]
    assert shown == [role in MANAGING_ROLES] * 4


def test_a_request_shows_whether_postal_staff_have_approved_the_requester(
    client, shipper, manager, platform
):
    ask(platform)
    ask(readable_provider(legal_name="Newcomer LLC", status=ProviderStatus.PENDING_REVIEW))
    client.force_login(manager)

    html = client.get(reverse("agreements:consents")).text

    rows = {
        name: row
        for row in re.findall(r"<tr>(.*?)</tr>", html, re.S)
        for name in ("Parcel Insights LLC", "Newcomer LLC")
        if name in row
    }
    assert "Not yet approved by postal staff" in rows["Newcomer LLC"]
    assert "Not yet approved by postal staff" not in rows["Parcel Insights LLC"]


def test_a_closed_owner_sees_why_it_can_no_longer_decide_and_gets_no_controls(
    client, shipper, scene
):
    waiting, grant = scene
    account_services.provider_close(provider=shipper, actor=StaffFactory(), reason="Sold")
    client.force_login(member_of(shipper))

    page = client.get(reverse("agreements:consents")).text

    assert "Acme Shipping Co. was closed" in page and "Sold" in page
    assert "Parcel Insights LLC" in page and "LabelHub Inc." in page  # still listed
    for url in (
        reverse("agreements:consent_approve", args=[waiting.pk]),
        reverse("agreements:consent_decline", args=[waiting.pk]),
        reverse("agreements:consent_revoke", args=[grant.pk]),
        reverse("agreements:consent_grant"),
    ):
        assert url not in page, url
    assert "Your role" not in page  # the role is not the reason


def test_a_closed_owner_gets_no_confirmation_page_and_nothing_is_granted(client, shipper, platform):
    account_services.provider_close(provider=shipper, actor=StaffFactory(), reason="Sold")
    client.force_login(member_of(shipper))
    before = state()

    page = client.post(GRANT_URL, {"grantee": "31415926", "mid": MID, "submission": "c1"})
    done = client.post(
        CONFIRM_URL,
        {"grantee_id": platform.pk, "grantee": "31415926", "mid": MID, "submission": "c2"},
    )

    assert "grantee_id" not in page.text and "Sold" in page.text
    assert done.status_code == 200 and "Sold" in done.text
    assert state() == before


def test_a_suspended_owner_is_told_no_data_is_served_and_still_decides(client, shipper, scene):
    waiting, _grant = scene
    account_services.provider_suspend(
        provider=shipper, actor=StaffFactory(), reason="Audit", cause=SuspensionCause.STAFF_ACTION
    )
    client.force_login(member_of(shipper))

    page = client.get(reverse("agreements:consents")).text

    assert "no tracking data is served" in page and "Audit" in page
    assert reverse("agreements:consent_approve", args=[waiting.pk]) in page
    assert reverse("agreements:consent_grant") in page
    client.post(reverse("agreements:consent_approve", args=[waiting.pk]))
    waiting.refresh_from_db()
    assert waiting.status == MidLinkStatus.VERIFIED


def test_a_provider_owning_no_mid_is_told_how_to_get_requests(client, platform):
    client.force_login(member_of(platform))

    response = client.get(reverse("agreements:consents"))

    assert response.status_code == 200
    assert "has no verified owned Mailer ID yet" in response.text
    assert reverse("agreements:consent_grant") not in response.text


@pytest.mark.parametrize("role", VIEW_ONLY_ROLES)
def test_roles_without_the_consent_permission_get_403_and_nothing_changes(
    client, shipper, scene, role
):
    waiting, grant = scene
    client.force_login(member_of(shipper, role))
    before = list(MidLink.objects.order_by("pk").values())

    responses = [
        client.post(reverse("agreements:consent_approve", args=[waiting.pk])),
        client.get(reverse("agreements:consent_decline", args=[waiting.pk])),
        client.post(reverse("agreements:consent_decline", args=[waiting.pk]), {"reason": "x"}),
        client.post(reverse("agreements:consent_revoke", args=[grant.pk]), {"reason": "x"}),
        client.post(
            reverse("agreements:consent_grant"),
            {"grantee": "31415926", "mid": MID, "submission": "t"},
        ),
        client.post(
            reverse("agreements:consent_grant_confirm"),
            {"grantee_id": scene[1].provider_id, "grantee": "x", "mid": MID, "submission": "t"},
        ),
    ]

    assert [r.status_code for r in responses] == [403] * 6
    assert list(MidLink.objects.order_by("pk").values()) == before


# --- Acting through the page -------------------------------------------------------------------


def test_approving_from_the_page(client, shipper, manager, platform):
    link = ask(platform)
    client.force_login(manager)

    response = client.post(reverse("agreements:consent_approve", args=[link.pk]), follow=True)

    assert "Parcel Insights LLC may now read MID 901234567." in response.text
    link.refresh_from_db()
    assert (link.status, link.consented_by) == ("VERIFIED", manager)
    # A second click finds the decision already made and says so.
    again = client.post(reverse("agreements:consent_approve", args=[link.pk]), follow=True)
    assert "already decided" in again.text


def test_declining_from_the_page_needs_a_reason(client, shipper, manager, platform):
    link = ask(platform)
    client.force_login(manager)
    url = reverse("agreements:consent_decline", args=[link.pk])

    page = client.get(url)
    empty = client.post(url, {"reason": "  "})
    assert page.status_code == 200 and "Parcel Insights LLC" in page.text
    assert empty.status_code == 200 and 'id="id_reason-error"' in empty.text
    link.refresh_from_db()
    assert link.status == MidLinkStatus.REQUESTED

    done = client.post(url, {"reason": "We do not work with them"}, follow=True)

    assert "You declined Parcel Insights LLC&#x27;s request for MID 901234567." in done.text
    link.refresh_from_db()
    assert (link.status, link.decision_reason) == ("REJECTED", "We do not work with them")
    # The claimant sees the owner's answer and reason on its own Mailer IDs page.
    client.force_login(link.requested_by)
    mids = client.get(reverse("agreements:mids")).text
    assert "Declined by the MID's owner" in mids and "We do not work with them" in mids


def test_revoking_from_the_page(client, shipper, manager, scene):
    _, grant = scene
    client.force_login(manager)
    url = reverse("agreements:consent_revoke", args=[grant.pk])

    response = client.post(url, {"reason": "Contract ended"}, follow=True)

    assert "LabelHub Inc. can no longer read MID 901234567." in response.text
    grant.refresh_from_db()
    assert (grant.status, grant.decision_reason) == ("REVOKED", "Contract ended")
    again = client.post(url, {"reason": "Contract ended"})
    assert again.status_code == 200 and "there is no access to revoke" in again.text


GRANT_URL = reverse("agreements:consent_grant")
CONFIRM_URL = reverse("agreements:consent_grant_confirm")


def state():
    """Everything a grant could change."""
    return list(MidLink.objects.order_by("pk").values()), AuditEntry.objects.count()


def test_granting_asks_to_confirm_the_resolved_provider_and_grants_nothing_before(
    client, shipper, manager, platform
):
    platform.dba_name = "ParcelIQ"
    platform.save(update_fields=["dba_name"])
    client.force_login(manager)
    before = state()

    page = client.post(
        GRANT_URL, {"grantee": "parcel insights llc", "mid": MID, "submission": "g1"}
    )

    assert page.status_code == 200
    assert state() == before  # nothing is granted before the confirmation
    html = page.text
    for shown in ("Parcel Insights LLC", "ParcelIQ", "31415926", "Service provider", "Active"):
        assert shown in html, shown
    assert MID in html
    confirm = re.search(rf'<form[^>]*action="{CONFIRM_URL}"[^>]*>(.*?)</form>', html, re.S)
    fields = dict(re.findall(r'name="(\w+)" value="([^"]*)"', confirm.group(1)))
    assert fields["grantee_id"] == str(platform.pk)
    assert (fields["mid"], fields["submission"]) == (MID, "g1")
    assert "csrfmiddlewaretoken" in fields
    assert ">Grant access</button>" in confirm.group(1)


def test_the_confirmation_grants_once_even_when_sent_twice(client, shipper, manager, platform):
    client.force_login(manager)
    form = {"grantee_id": platform.pk, "grantee": "31415926", "mid": MID, "submission": "g-1"}

    first = client.post(CONFIRM_URL, form, follow=True)
    second = client.post(CONFIRM_URL, form, follow=True)

    assert "Parcel Insights LLC may now read MID 901234567." in first.text
    assert "That grant was already sent" in second.text
    link = MidLink.objects.get(provider=platform, status="VERIFIED")
    assert (link.owner_provider, link.consented_by) == (shipper, manager)
    # The grantee sees who consented.
    client.force_login(member_of(platform))
    assert "Authorized by Acme Shipping Co." in client.get(reverse("agreements:mids")).text


def test_the_whole_grant_by_crid_through_both_steps(client, shipper, manager, platform):
    client.force_login(manager)

    page = client.post(GRANT_URL, {"grantee": "31415926", "mid": MID, "submission": "g-2"})
    form = dict(re.findall(r'name="(\w+)" value="([^"]*)"', page.text))
    done = client.post(CONFIRM_URL, form, follow=True)

    assert "Parcel Insights LLC may now read MID 901234567." in done.text
    assert decide(provider=platform, mid=MID).allowed


def test_a_pending_squatter_named_like_an_active_provider_is_never_offered(
    client, shipper, manager, platform
):
    squatter = ProviderFactory(
        legal_name="Parcel Insights LLC", crid="99999999", status=ProviderStatus.PENDING_REVIEW
    )
    client.force_login(manager)

    page = client.post(
        GRANT_URL, {"grantee": "Parcel Insights LLC", "mid": MID, "submission": "g3"}
    )

    assert page.status_code == 200
    assert "31415926" in page.text and "99999999" not in page.text
    assert f'name="grantee_id" value="{platform.pk}"' in page.text
    assert not MidLink.objects.filter(provider=squatter).exists()


def test_a_pending_provider_alone_is_not_found_and_gets_nothing(client, shipper, manager):
    squatter = ProviderFactory(
        legal_name="Label Squatters LLC", crid="99999999", status=ProviderStatus.PENDING_REVIEW
    )
    client.force_login(manager)
    before = state()

    for typed in ("Label Squatters LLC", "99999999"):
        page = client.post(GRANT_URL, {"grantee": typed, "mid": MID, "submission": "g4"})
        assert page.status_code == 200
        assert 'id="id_grantee-error"' in page.text
        assert "No active provider registered here" in page.text
        assert "grantee_id" not in page.text

    assert state() == before
    assert not MidLink.objects.filter(provider=squatter).exists()


@pytest.mark.parametrize("target", ["pending", "suspended", "closed", "owner", "unknown", "junk"])
def test_a_confirmation_naming_a_provider_that_cannot_be_granted_gets_one_field_error(
    client, shipper, manager, platform, target
):
    provider_id = {
        "pending": lambda: ProviderFactory(status=ProviderStatus.PENDING_REVIEW).pk,
        "suspended": lambda: (
            ProviderFactory(status=ProviderStatus.SUSPENDED, suspension_cause="STAFF_ACTION").pk
        ),
        "closed": lambda: ProviderFactory(status=ProviderStatus.CLOSED).pk,
        "owner": lambda: shipper.pk,
        "unknown": lambda: 10**9,
        "junk": lambda: "1 OR 1=1",
    }[target]()
    client.force_login(manager)
    before = state()

    page = client.post(
        CONFIRM_URL,
        {"grantee_id": provider_id, "grantee": "Typed Name", "mid": MID, "submission": "g5"},
    )

    assert page.status_code == 200
    assert 'id="id_grantee-error"' in page.text
    assert "cannot be granted access: it is not an active provider registered here" in page.text
    assert 'value="Typed Name"' in page.text  # what was typed is kept
    assert state() == before
    # The refusal released the token: the corrected grant goes through with it.
    ok = {"grantee_id": platform.pk, "grantee": "31415926", "mid": MID, "submission": "g5"}
    assert client.post(CONFIRM_URL, ok).status_code == 302
    assert MidLink.objects.filter(provider=platform, status="VERIFIED").exists()


def test_a_confirmation_for_a_mid_the_owner_does_not_hold_is_refused_on_its_field(
    client, shipper, manager, platform
):
    client.force_login(manager)
    before = state()

    page = client.post(
        CONFIRM_URL,
        {"grantee_id": platform.pk, "grantee": "31415926", "mid": "912345678", "submission": "t"},
    )

    assert page.status_code == 200
    assert 'id="id_mid-error"' in page.text
    assert state() == before


def test_a_service_refusal_at_confirmation_lands_on_the_grantee_field(
    client, shipper, manager, platform
):
    ask(platform)  # it already asked: approving is the way
    client.force_login(manager)

    page = client.post(
        CONFIRM_URL,
        {"grantee_id": platform.pk, "grantee": "31415926", "mid": MID, "submission": "t"},
    )

    assert page.status_code == 200
    assert 'id="id_grantee-error"' in page.text and "has already asked to read" in page.text


def test_getting_the_grant_urls_goes_back_to_the_page(client, manager):
    client.force_login(manager)

    for url in (GRANT_URL, CONFIRM_URL):
        response = client.get(url)
        assert (response.status_code, response.url) == (302, reverse("agreements:consents"))


@pytest.mark.parametrize(
    ("grantee", "mid", "field", "message"),
    [
        ("Parcel", MID, "grantee", "No active provider registered here"),
        ("Twin LLC", MID, "grantee", "More than one provider matches"),
        ("31415926", "912345678", "mid", "Select a valid choice"),
        ("", MID, "grantee", "This field is required"),
    ],
)
def test_a_refused_grant_shows_the_error_on_its_field(
    client, shipper, manager, platform, grantee, mid, field, message
):
    ProviderFactory.create_batch(2, legal_name="Twin LLC")
    client.force_login(manager)

    response = client.post(
        reverse("agreements:consent_grant"), {"grantee": grantee, "mid": mid, "submission": "t"}
    )

    assert response.status_code == 200
    assert f'id="id_{field}-error"' in response.text and message in response.text
    assert f'value="{grantee}"' in response.text or not grantee
    assert "Parcel Insights LLC" not in response.text  # no candidates are suggested
    assert not MidLink.objects.filter(relation=MidRelation.AUTHORIZED_BY_OWNER).exists()


# --- Another tenant's ids: 404 on every URL and method, nothing changed ------------------------


@pytest.fixture
def elsewhere(platform):
    """Links the shipper must not reach: a request routed to another owner, that owner's grant,
    a letter-based claim staff are checking for the shipper's own MID, and the shipper's own
    claim on someone else's MID."""
    other_owner = owner_with_mid(mid="912345678")
    routed = ask(platform, mid="912345678")
    granted = services.consent_grant(
        owner=other_owner,
        grantee=readable_provider(),
        mid="912345678",
        actor=member_of(other_owner),
    )

    letter_claim = services.mid_link_request(
        provider=readable_provider(),
        mid=MID,
        relation=MidRelation.AUTHORIZED_BY_OWNER,
        requested_by=UserFactory(),
        owner_name="Acme",
        owner_crid="20538353",
        evidence=SimpleUploadedFile("l.pdf", b"%PDF-1.4 x", content_type="application/pdf"),
    )
    return [routed, granted, letter_claim]


CONSENT_URLS = ["consent_approve", "consent_decline", "consent_revoke"]


@pytest.mark.parametrize("role", MANAGING_ROLES)
@pytest.mark.parametrize("name", CONSENT_URLS)
@pytest.mark.parametrize("method", METHODS)
def test_links_that_are_not_the_owners_to_decide_are_404_on_every_url_and_method(
    client, shipper, elsewhere, role, name, method
):
    client.force_login(member_of(shipper, role))
    before = list(MidLink.objects.order_by("pk").values())
    audit_before = AuditEntry.objects.count()

    for link in elsewhere:
        response = getattr(client, method)(
            reverse(f"agreements:{name}", args=[link.pk]), {"reason": "x"}
        )
        assert response.status_code == 404, (name, method, link)

    assert list(MidLink.objects.order_by("pk").values()) == before
    assert AuditEntry.objects.count() == audit_before


def test_the_claimant_cannot_decide_its_own_request(client, shipper, platform):
    link = ask(platform)
    client.force_login(member_of(platform))  # an OWNER of the claimant, with MANAGE_CONSENTS

    assert client.post(reverse("agreements:consent_approve", args=[link.pk])).status_code == 404
    link.refresh_from_db()
    assert link.status == MidLinkStatus.REQUESTED


def test_the_consents_page_costs_the_same_queries_for_one_row_or_many(client, shipper, manager):

    client.force_login(manager)

    def queries():
        with CaptureQueriesContext(connection) as captured:
            assert client.get(reverse("agreements:consents")).status_code == 200
        return len(captured)

    ask(readable_provider())
    services.consent_grant(owner=shipper, grantee=readable_provider(), mid=MID, actor=manager)
    one = queries()
    for _ in range(4):
        ask(readable_provider())
        services.consent_grant(owner=shipper, grantee=readable_provider(), mid=MID, actor=manager)
    assert queries() == one

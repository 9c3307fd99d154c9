"""The re-acceptance banner: shown on every portal page to members who can sign, when a newer
version applies to the provider's type than its approved agreement, and it agrees with the
access decision about the deadline."""

from datetime import timedelta

import pytest
from django.test import RequestFactory
from django.utils import timezone

from accounts.constants import MembershipRole, ProviderStatus, ProviderType
from accounts.middleware import PortalContext
from agreements.constants import AgreementStatus, ReasonCode
from agreements.context_processors import reacceptance_banner
from agreements.decision import decide
from agreements.models import AgreementVersion
from agreements.selectors.agreements import agreement_standing, reacceptance_notice
from tests.factories import (
    AgreementFactory,
    AgreementVersionFactory,
    MembershipFactory,
    MidLinkFactory,
    ProviderFactory,
    StaffFactory,
    UserFactory,
)
from tests.otp import otp_login

pytestmark = pytest.mark.django_db

FIVE_DAYS_AGO = timedelta(days=-5)
PAGES = ["/agreement/", "/organisation/", "/account/password/change/"]
HEADING = "Re-accept the new IP agreement (v2)"


def days(n: float) -> timedelta:
    return timedelta(days=n)


@pytest.fixture
def provider():
    return ProviderFactory(legal_name="Parcel Insights LLC")


def approved_on_old_version(provider, *, v2_effective=FIVE_DAYS_AGO, v2_days=30, v2_types=None):
    """The provider holds v1 (effective 60 days ago); v2 took effect `v2_effective` from now."""
    old = AgreementVersionFactory(label="v1", effective_at=timezone.now() - days(60))
    AgreementFactory(provider=provider, version=old)
    return AgreementVersionFactory(
        label="v2",
        effective_at=timezone.now() + v2_effective,
        reacceptance_days=v2_days,
        applies_to=v2_types or [ProviderType.SERVICE_PROVIDER],
    )


def login(client, provider, role=MembershipRole.OWNER):
    membership = MembershipFactory(provider=provider, role=role)
    client.force_login(membership.user)
    return membership.user


def banners(response) -> list[dict]:
    return list(response.context["portal_banners"])


@pytest.mark.parametrize("role", [MembershipRole.OWNER, MembershipRole.ADMIN])
def test_owners_and_admins_see_the_banner_on_every_portal_page(client, provider, role):
    newer = approved_on_old_version(provider)
    deadline = newer.effective_at + days(30)
    login(client, provider, role)

    for url in PAGES:
        response = client.get(url)
        html = response.content.decode()
        assert response.status_code == 200, url
        assert HEADING in html, url
        assert (
            f"A new IP agreement (v2) is in effect. Re-accept it by "
            f"{deadline.day} {deadline:%B %Y, %H:%M} UTC; after that, tracking data stops "
            "being served for this organisation." in html
        ), url
        assert 'href="/agreement/">Read and sign v2</a>' in html


@pytest.mark.parametrize("role", [MembershipRole.BILLING, MembershipRole.DEVELOPER])
def test_other_roles_do_not_see_it(client, provider, role):
    approved_on_old_version(provider)
    login(client, provider, role)
    for url in PAGES:
        response = client.get(url)
        assert response.status_code == 200
        assert banners(response) == []
        assert "Re-accept" not in response.content.decode()


def test_after_the_deadline_it_says_access_has_stopped(client, provider):
    approved_on_old_version(provider, v2_effective=days(-40), v2_days=30)
    login(client, provider)
    [banner] = banners(client.get("/organisation/"))
    assert banner["heading"] == "Access has stopped: re-accept the IP agreement"
    assert "so tracking data is no longer served for this organisation. Sign v2" in banner["text"]


def test_other_types_are_told_their_schedule_line_mids_stop_working(client):
    shipper = ProviderFactory(provider_type=ProviderType.SHIPPER)
    old = AgreementVersionFactory(
        label="v1", effective_at=timezone.now() - days(60), applies_to=[ProviderType.SHIPPER]
    )
    AgreementFactory(provider=shipper, version=old)
    AgreementVersionFactory(
        label="v2",
        effective_at=timezone.now() - days(5),
        applies_to=[ProviderType.SHIPPER, ProviderType.PLATFORM],
    )
    login(client, shipper)
    [banner] = banners(client.get("/organisation/"))
    assert "the Mailer IDs on your agreement's schedule lines stop working" in banner["text"]
    assert "tracking data" not in banner["text"]


def test_a_signature_awaiting_review_changes_the_message(client, provider):
    newer = approved_on_old_version(provider)
    AgreementFactory(provider=provider, version=newer, status=AgreementStatus.SUBMITTED)
    login(client, provider)
    [banner] = banners(client.get("/organisation/"))
    assert banner["heading"] == "IP agreement v2 awaits review"
    assert (
        "your signature awaits review by postal staff. If it is not approved by" in (banner["text"])
    )


@pytest.mark.parametrize(
    "setup",
    [
        "current",  # the approved agreement is on the newest version
        "no-approved",  # nothing approved: the page asks to sign, no banner
        "other-type",  # the newer version is for shippers only (rule 2)
        "not-in-effect",  # published, but effective next week
        "unpublished",  # a draft
        "closed",  # a closed organisation cannot sign
        "rejected",  # the approved one was rejected/terminated: nothing to re-accept
    ],
)
def test_no_banner_when_there_is_nothing_to_re_accept(client, provider, setup):
    if setup == "current":
        AgreementFactory(provider=provider, version=AgreementVersionFactory())
    elif setup == "no-approved":
        AgreementVersionFactory()
    elif setup == "other-type":
        approved_on_old_version(provider, v2_types=[ProviderType.SHIPPER])
    elif setup == "not-in-effect":
        approved_on_old_version(provider, v2_effective=days(7))
    elif setup == "unpublished":
        approved_on_old_version(provider)
        AgreementVersion.objects.filter(label="v2").update(published_at=None, text_sha256="")
    elif setup == "closed":
        approved_on_old_version(provider)
        provider.status = ProviderStatus.CLOSED
        provider.save(update_fields=["status"])
    elif setup == "rejected":
        approved_on_old_version(provider)
        provider.agreements.update(status=AgreementStatus.TERMINATED)
    login(client, provider)
    response = client.get("/organisation/")
    assert response.status_code == 200
    assert banners(response) == []


def test_anonymous_people_and_users_without_an_organisation_get_no_banner(client, provider):
    approved_on_old_version(provider)
    for url in ["/", "/account/login/", "/account/signup/"]:
        response = client.get(url)
        assert response.status_code == 200
        assert banners(response) == []
    client.force_login(UserFactory())
    response = client.get("/organisation/new/")
    assert response.status_code == 200
    assert banners(response) == []


def test_the_admin_still_works_for_staff_who_are_also_members(client, provider):
    approved_on_old_version(provider)
    staff = StaffFactory()
    MembershipFactory(user=staff, provider=provider)
    otp_login(client, staff)
    assert client.get("/admin/").status_code == 200
    assert HEADING in client.get("/organisation/").content.decode()


def test_a_request_without_portal_context_gets_no_banner():
    request = RequestFactory().get("/")
    assert list(reacceptance_banner(request)["portal_banners"]) == []


def _request_for(user):
    request = RequestFactory().get("/organisation/")
    request.user = user
    request.session = {}
    request.portal = PortalContext(request)
    return request


def test_the_banner_costs_at_most_two_queries_and_none_until_shown(
    provider, django_assert_num_queries, django_assert_max_num_queries
):
    approved_on_old_version(provider)
    user = MembershipFactory(provider=provider).user
    request = _request_for(user)
    request.portal.membership  # noqa: B018 - loaded by every portal page anyway

    with django_assert_num_queries(0):
        context = reacceptance_banner(request)
    with django_assert_max_num_queries(2):
        assert len(list(context["portal_banners"])) == 1

    # Without an approved agreement it is one query.
    no_agreement = ProviderFactory()
    request = _request_for(MembershipFactory(provider=no_agreement).user)
    request.portal.membership  # noqa: B018
    with django_assert_num_queries(1):
        assert list(reacceptance_banner(request)["portal_banners"]) == []


def test_the_deadline_is_the_earliest_among_newer_versions_and_matches_the_decision(provider):
    """v2 took effect 10 days ago with 30 days' grace; v3 took effect 2 days ago with 3 days'
    grace: the deadline is v3's (in 1 day), not v2's, and the access decision agrees."""
    old = AgreementVersionFactory(label="v1", effective_at=timezone.now() - days(60))
    AgreementFactory(provider=provider, version=old)
    AgreementVersionFactory(
        label="v2", effective_at=timezone.now() - days(10), reacceptance_days=30
    )
    v3 = AgreementVersionFactory(
        label="v3", effective_at=timezone.now() - days(2), reacceptance_days=3
    )
    link = MidLinkFactory(provider=provider)

    notice = reacceptance_notice(provider=provider)
    deadline = v3.effective_at + days(3)
    assert notice.version_label == "v3"
    assert notice.deadline == deadline
    assert not notice.lapsed
    assert agreement_standing(provider=provider).current_version == v3

    before = decide(provider=provider, mid=link.mid, projected_to=deadline - timedelta(seconds=1))
    after = decide(provider=provider, mid=link.mid, projected_to=deadline)
    assert before.allowed
    assert not after.allowed
    assert after.reason_codes == [ReasonCode.AGREEMENT_REACCEPTANCE_REQUIRED]

    lapsed = reacceptance_notice(provider=provider, at=deadline)
    assert lapsed.lapsed


def test_a_lapsed_deadline_matches_a_denial_now(provider):
    approved_on_old_version(provider, v2_effective=days(-31), v2_days=30)
    link = MidLinkFactory(provider=provider)
    assert reacceptance_notice(provider=provider).lapsed
    assert decide(provider=provider, mid=link.mid).reason_codes == [
        ReasonCode.AGREEMENT_REACCEPTANCE_REQUIRED
    ]


def test_signing_the_new_version_early_then_approval_removes_the_banner(client, provider):
    newer = approved_on_old_version(provider)
    AgreementFactory(provider=provider, version=newer, status=AgreementStatus.SUBMITTED)
    provider.agreements.filter(version__label="v1").update(status=AgreementStatus.SUPERSEDED)
    provider.agreements.filter(version=newer).update(status=AgreementStatus.APPROVED)
    login(client, provider)
    assert banners(client.get("/organisation/")) == []

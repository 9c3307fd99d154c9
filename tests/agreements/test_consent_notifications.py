"""The owner's managers hear about a consent request, after it commits and only then."""

import pytest

from accounts.constants import MembershipRole, ProviderType
from agreements import services
from agreements.constants import MidRelation
from tests.factories import MembershipFactory, MidLinkFactory, ProviderFactory

pytestmark = pytest.mark.django_db

MID = "901234567"


@pytest.fixture
def owner():
    shipper = ProviderFactory(legal_name="Acme Shipping Co.", provider_type=ProviderType.SHIPPER)
    MidLinkFactory(provider=shipper, mid=MID, relation=MidRelation.OWNED)
    for email, role in [
        ("owner@acme.example", MembershipRole.OWNER),
        ("admin@acme.example", MembershipRole.ADMIN),
        ("dev@acme.example", MembershipRole.DEVELOPER),
    ]:
        MembershipFactory(provider=shipper, role=role, user__email=email)
    return shipper


def ask():
    platform = ProviderFactory(legal_name="LabelHub Inc.", provider_type=ProviderType.PLATFORM)
    return services.mid_link_request(
        provider=platform,
        mid=MID,
        relation=MidRelation.AUTHORIZED_BY_OWNER,
        requested_by=MembershipFactory(provider=platform).user,
    )


def test_a_routed_request_emails_the_owners_deciders(
    owner, mailoutbox, settings, django_capture_on_commit_callbacks
):
    settings.PORTAL_BASE_URL = "https://portal.example.gov"

    with django_capture_on_commit_callbacks(execute=True):
        ask()

    (mail,) = mailoutbox
    assert mail.subject == "LabelHub Inc. asks to read MID 901234567"
    assert sorted(mail.to) == ["admin@acme.example", "owner@acme.example"]
    assert "https://portal.example.gov/consents/" in mail.body


def test_nothing_is_sent_before_commit_or_for_claims_that_go_to_staff(
    owner, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        ask()
    assert mailoutbox == [] and len(callbacks) == 1  # waits for the commit

    with django_capture_on_commit_callbacks(execute=True):
        services.mid_link_request(
            provider=ProviderFactory(),
            mid="123456",
            relation=MidRelation.OWNED,
            requested_by=MembershipFactory().user,
        )
    assert mailoutbox == []

"""Consent lapses with ownership: when staff revoke the owner's OWNED link, every
authorization it consented to for that MID ends at once, and its pending requests are
rejected (review finding: a grant outlived the owner's ownership)."""

import pytest
from django.utils import timezone

from accounts.constants import MembershipRole, ProviderType
from agreements import services
from agreements.constants import MidLinkStatus, MidRelation
from agreements.decision import decide
from agreements.models import MidLink
from core.models import AuditEntry
from tests.factories import (
    AgreementFactory,
    AgreementVersionFactory,
    MembershipFactory,
    MidLinkFactory,
    ProviderFactory,
    StaffFactory,
)

pytestmark = pytest.mark.django_db(transaction=True)

MID = "912345678"


def readable_provider(version):
    provider = ProviderFactory(provider_type=ProviderType.SERVICE_PROVIDER)
    AgreementFactory(provider=provider, version=version)
    return provider


@pytest.fixture
def setup():
    version = AgreementVersionFactory()
    shipper = ProviderFactory(provider_type=ProviderType.SHIPPER)
    owned = MidLinkFactory(provider=shipper, mid=MID, relation=MidRelation.OWNED)
    owner = MembershipFactory(provider=shipper, role=MembershipRole.OWNER).user
    granted, waiting = readable_provider(version), readable_provider(version)
    grant = services.consent_grant(owner=shipper, grantee=granted, mid=MID, actor=owner)
    request = services.mid_link_request(
        provider=waiting,
        mid=MID,
        relation=MidRelation.AUTHORIZED_BY_OWNER,
        requested_by=MembershipFactory(provider=waiting).user,
    )
    return owned, grant, request, granted


def test_revoking_the_owners_link_revokes_its_consents_at_once(setup, monkeypatch):
    owned, grant, request, granted = setup
    queued = []
    monkeypatch.setattr(
        "accounts.tasks.decision_notify_task.delay", lambda entry_id: queued.append(entry_id)
    )
    assert decide(provider=granted, mid=MID).allowed
    assert decide(provider=granted, mid=MID).from_cache  # an ALLOW is cached

    services.mid_link_revoke(link=owned, actor=StaffFactory(), reason="Wrongly verified")

    grant.refresh_from_db()
    request.refresh_from_db()
    assert grant.status == MidLinkStatus.REVOKED
    assert request.status == MidLinkStatus.REJECTED
    assert "ownership of MID 912345678 was revoked" in grant.decision_reason
    assert "Wrongly verified" in request.decision_reason
    assert not decide(provider=granted, mid=MID).allowed
    lapses = AuditEntry.objects.filter(action__in=["consent_lapse", "consent_request_lapse"])
    assert sorted(lapses.values_list("action", flat=True)) == [
        "consent_lapse",
        "consent_request_lapse",
    ]
    # Both affected providers are told, after the commit.
    assert sorted(queued) == sorted(lapses.values_list("pk", flat=True))


def test_other_mids_and_other_owners_consents_are_untouched(setup):
    owned, grant, _, _ = setup
    other = MidLinkFactory(mid="923456789", relation=MidRelation.OWNED)

    services.mid_link_revoke(link=other, actor=StaffFactory(), reason="Not theirs")

    grant.refresh_from_db()
    assert grant.status == MidLinkStatus.VERIFIED


def test_the_decision_ignores_a_consent_whose_owner_no_longer_owns_the_mid(setup):
    """Defence in depth: even if the owner's link changes by a direct write (no service, so no
    cascade), the consented link grants nothing once its owner's ownership is gone."""
    owned, grant, _, granted = setup
    MidLink.objects.filter(pk=owned.pk).update(status=MidLinkStatus.REVOKED)

    # A projection to now is never cached, so it shows what the database says.
    decision = decide(provider=granted, mid=MID, projected_to=timezone.now())

    assert decision.reason_codes == ["MID_NOT_AUTHORIZED"]


def test_a_closed_owners_consents_end_at_once(setup):
    from accounts import services as account_services

    owned, grant, _, granted = setup
    assert decide(provider=granted, mid=MID).allowed
    assert decide(provider=granted, mid=MID).from_cache

    account_services.provider_close(
        provider=owned.provider, actor=StaffFactory(), reason="Company dissolved"
    )

    after = decide(provider=granted, mid=MID)
    assert not after.from_cache
    assert after.reason_codes == ["MID_NOT_AUTHORIZED"]

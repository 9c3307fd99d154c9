"""Regression tests for issue 6: each test reproduces one fault found by probing the decision.

Defect numbers refer to the issue. Each of these failed before its fix.
"""

from datetime import timedelta
from unittest import mock

import pytest
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from accounts.constants import ProviderType
from agreements import services
from agreements.constants import MidLinkStatus, ReasonCode, ScheduleLineStatus
from agreements.decision import decide, decide_for_number
from core import access_cache
from tests.factories import (
    AgreementFactory,
    AgreementVersionFactory,
    MidLinkFactory,
    ProviderFactory,
    ScheduleLineFactory,
    StaffFactory,
)

MID = "901234567"
AMBIGUOUS = "4202026093009312345123456789012340"  # ZIP5 + PIC of 312345, or ZIP9 + PIC of 451234


def days(n: int) -> timedelta:
    return timedelta(days=n)


def service_provider(version, *mids: str):
    provider = ProviderFactory(provider_type=ProviderType.SERVICE_PROVIDER)
    AgreementFactory(provider=provider, version=version)
    for mid in mids:
        MidLinkFactory(provider=provider, mid=mid)
    return provider


# --- Defect 1: an ambiguous barcode must be refused, never read with a guessed MID ------------


@pytest.mark.django_db
def test_an_ambiguous_barcode_is_refused_for_the_stranger_and_the_owner_alike():
    version = AgreementVersionFactory()
    stranger = service_provider(version, "451234")
    owner = service_provider(version, "312345")

    for provider in (stranger, owner):
        decision = decide_for_number(provider=provider, tracking_number=AMBIGUOUS)
        assert not decision.allowed
        assert decision.reason_codes == [ReasonCode.AMBIGUOUS_TRACKING_NUMBER]
        assert decision.is_bad_request  # the API answers 400, not 403
        assert "without the 420 + ZIP routing prefix" in decision.reasons[0].message
        assert decision.as_dict()["bad_request"] is True

    # Sent as the bare PIC, as the reason says, the real owner is served.
    assert decide_for_number(provider=owner, tracking_number=AMBIGUOUS[8:]).allowed
    assert not decide_for_number(provider=stranger, tracking_number=AMBIGUOUS[8:]).allowed


# --- Defect 2: the approved agreement's version must apply to the provider's type -------------


@pytest.mark.django_db
def test_a_service_provider_signed_only_on_a_shipper_version_needs_an_agreement():
    AgreementVersionFactory(
        applies_to=[ProviderType.SERVICE_PROVIDER], effective_at=timezone.now() - days(30)
    )
    shipper_only = AgreementVersionFactory(
        applies_to=[ProviderType.SHIPPER], effective_at=timezone.now() - days(10)
    )
    provider = service_provider(shipper_only, MID)  # approved by a direct write

    decision = decide(provider=provider, mid=MID)

    assert decision.reason_codes == [ReasonCode.AGREEMENT_REQUIRED]


@pytest.mark.django_db
def test_a_shippers_schedule_line_under_a_service_provider_version_grants_nothing():
    AgreementVersionFactory(
        applies_to=[ProviderType.SHIPPER], effective_at=timezone.now() - days(60)
    )
    sp_only = AgreementVersionFactory(applies_to=[ProviderType.SERVICE_PROVIDER])
    shipper = ProviderFactory(provider_type=ProviderType.SHIPPER)
    agreement = AgreementFactory(provider=shipper, version=sp_only)
    ScheduleLineFactory(agreement=agreement, mid="654321", status=ScheduleLineStatus.APPROVED)

    decision = decide(provider=shipper, mid="654321")

    assert not decision.allowed
    assert decision.reason_codes == [ReasonCode.AGREEMENT_REQUIRED]


# --- Defect 3: a past moment cannot be answered honestly from today's records ----------------


@pytest.mark.django_db
def test_a_decision_about_the_past_is_refused_rather_than_reconstructed():
    version = AgreementVersionFactory()
    provider = service_provider(version, MID)  # approved today

    with pytest.raises(ValueError, match="audit"):
        decide(provider=provider, mid=MID, projected_to=timezone.now() - days(30))
    with pytest.raises(ValueError, match="audit"):
        decide_for_number(
            provider=provider,
            tracking_number="9205590000000000000005",
            projected_to=timezone.now() - days(30),
        )


@pytest.mark.django_db
def test_a_projection_applies_todays_records_to_a_later_moment():
    version = AgreementVersionFactory()
    provider = ProviderFactory()
    AgreementFactory(provider=provider, version=version)
    MidLinkFactory(provider=provider, mid=MID, valid_until=timezone.now() + days(5))

    later = timezone.now() + days(6)
    decision = decide(provider=provider, mid=MID, projected_to=later)

    assert decision.reason_codes == [ReasonCode.MID_LINK_NOT_IN_WINDOW]
    assert decision.projected_to == later
    assert decision.decided_at < later  # it was answered now, about then
    assert decision.as_dict()["projected_to"] == later.isoformat()


# --- Defect 4: an earlier failing on-commit callback must not skip the invalidation ----------


@pytest.mark.django_db(transaction=True)
def test_a_revocation_invalidates_even_when_an_earlier_on_commit_callback_raises(caplog):
    version = AgreementVersionFactory()
    provider = service_provider(version, MID)
    link = provider.mid_links.get()
    assert decide(provider=provider, mid=MID).allowed
    assert decide(provider=provider, mid=MID).from_cache  # an ALLOW is cached

    def unrelated_failure():
        raise RuntimeError("an unrelated on-commit callback failed")

    with pytest.raises(RuntimeError, match="unrelated"):
        with transaction.atomic():
            transaction.on_commit(unrelated_failure)
            services.mid_link_revoke(link=link, actor=StaffFactory(), reason="Owner withdrew")

    link.refresh_from_db()
    assert link.status == MidLinkStatus.REVOKED  # the revocation committed
    after = decide(provider=provider, mid=MID)
    assert not after.allowed
    assert not after.from_cache


# --- Defect 5: a cached decision must not outlive a future-dated publication -----------------


@pytest.mark.django_db
def test_a_cached_decision_expires_when_a_future_dated_version_publishes():
    old = AgreementVersionFactory(effective_at=timezone.now() - days(400))
    provider = service_provider(old, MID)
    # Effective long ago with no grace: once published, it ends access at once.
    AgreementVersionFactory(
        published_at=timezone.now() + timedelta(seconds=5),
        effective_at=timezone.now() - days(1),
        reacceptance_days=0,
    )

    assert decide(provider=provider, mid=MID).allowed

    tokens = access_cache.current_tokens(provider.pk)
    key = cache.make_and_validate_key(access_cache._decision_key(provider.pk, MID, tokens))
    assert 0 < cache._cache.get_client(key).ttl(key) <= 5


# --- Defect 6: a cache hit says when it was served, and separately when it was computed -----


@pytest.mark.django_db
def test_a_cache_hit_reports_when_it_was_served_and_when_it_was_computed():
    provider = service_provider(AgreementVersionFactory(), MID)

    computed, served = timezone.now(), timezone.now() + timedelta(seconds=7)
    with mock.patch("agreements.decision.timezone.now", return_value=computed):
        cold = decide(provider=provider, mid=MID)
    with mock.patch("agreements.decision.timezone.now", return_value=served):
        hit = decide(provider=provider, mid=MID)

    assert hit.from_cache
    assert hit.computed_at == cold.computed_at == cold.decided_at
    assert (cold.decided_at, hit.decided_at) == (computed, served)
    assert hit.as_dict()["computed_at"] == cold.decided_at.isoformat()
    assert hit.as_dict()["decided_at"] == hit.decided_at.isoformat()

"""The access decision: rule combinations, query budget, caching and failing closed."""

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone

from accounts import services as account_services
from accounts.constants import ProviderStatus, ProviderType
from agreements import services
from agreements.constants import (
    AgreementStatus,
    MidLinkStatus,
    MidRelation,
    ReasonCode,
    ScheduleLineStatus,
)
from agreements.decision import decide, decide_for_number
from core import access_cache
from core.tracking_numbers import make_impb
from tests.factories import (
    AgreementFactory,
    AgreementVersionFactory,
    MidLinkFactory,
    ProviderFactory,
    ScheduleLineFactory,
    StaffFactory,
)

pytestmark = pytest.mark.django_db

MID = "901234567"
OTHER_MID = "123456"


def days(n: int) -> timedelta:
    return timedelta(days=n)


@pytest.fixture
def now():
    return timezone.now()


@pytest.fixture
def version():
    return AgreementVersionFactory()


def service_provider_with_link(version, **link):
    provider = ProviderFactory(provider_type=ProviderType.SERVICE_PROVIDER)
    AgreementFactory(provider=provider, version=version)
    MidLinkFactory(provider=provider, mid=MID, **link)
    return provider


# --- Table-driven: each row changes one input from an allowed baseline ------------------------

CASES = [
    # id, provider kwargs, agreement ("approved"/"none"/status), link kwargs or None, expected
    ("baseline allowed", {}, AgreementStatus.APPROVED, {}, []),
    (
        "provider pending review",
        {"status": ProviderStatus.PENDING_REVIEW},
        AgreementStatus.APPROVED,
        {},
        [ReasonCode.PROVIDER_NOT_ACTIVE],
    ),
    (
        "provider suspended",
        {"status": ProviderStatus.SUSPENDED, "suspension_cause": "STAFF_ACTION"},
        AgreementStatus.APPROVED,
        {},
        [ReasonCode.PROVIDER_NOT_ACTIVE],
    ),
    (
        "provider closed",
        {"status": ProviderStatus.CLOSED},
        AgreementStatus.APPROVED,
        {},
        [ReasonCode.PROVIDER_NOT_ACTIVE],
    ),
    ("no agreement", {}, None, {}, [ReasonCode.AGREEMENT_REQUIRED]),
    (
        "agreement submitted only",
        {},
        AgreementStatus.SUBMITTED,
        {},
        [ReasonCode.AGREEMENT_REQUIRED],
    ),
    ("agreement suspended", {}, AgreementStatus.SUSPENDED, {}, [ReasonCode.AGREEMENT_REQUIRED]),
    ("agreement terminated", {}, AgreementStatus.TERMINATED, {}, [ReasonCode.AGREEMENT_REQUIRED]),
    (
        "billing hold",
        {"billing_hold": True, "billing_hold_reason": "unpaid", "billing_hold_at": timezone.now()},
        AgreementStatus.APPROVED,
        {},
        [ReasonCode.BILLING_HOLD],
    ),
    ("no link", {}, AgreementStatus.APPROVED, None, [ReasonCode.MID_NOT_AUTHORIZED]),
    (
        "link only requested",
        {},
        AgreementStatus.APPROVED,
        {"status": MidLinkStatus.REQUESTED},
        [ReasonCode.MID_NOT_AUTHORIZED],
    ),
    (
        "link revoked",
        {},
        AgreementStatus.APPROVED,
        {"status": MidLinkStatus.REVOKED},
        [ReasonCode.MID_NOT_AUTHORIZED],
    ),
    (
        "link withdrawn",
        {},
        AgreementStatus.APPROVED,
        {"status": MidLinkStatus.WITHDRAWN},
        [ReasonCode.MID_NOT_AUTHORIZED],
    ),
    (
        "link expired",
        {},
        AgreementStatus.APPROVED,
        {"valid_from": timezone.now() - days(20), "valid_until": timezone.now() - days(1)},
        [ReasonCode.MID_LINK_NOT_IN_WINDOW],
    ),
    (
        "link not started",
        {},
        AgreementStatus.APPROVED,
        {"valid_from": timezone.now() + days(1)},
        [ReasonCode.MID_LINK_NOT_IN_WINDOW],
    ),
    (
        "authorized link allowed",
        {},
        AgreementStatus.APPROVED,
        {"relation": MidRelation.AUTHORIZED_BY_OWNER, "owner_name": "Acme"},
        [],
    ),
    (
        "everything wrong at once",
        {
            "status": ProviderStatus.PENDING_REVIEW,
            "billing_hold": True,
            "billing_hold_reason": "x",
            "billing_hold_at": timezone.now(),
        },
        None,
        None,
        [
            ReasonCode.PROVIDER_NOT_ACTIVE,
            ReasonCode.AGREEMENT_REQUIRED,
            ReasonCode.BILLING_HOLD,
            ReasonCode.MID_NOT_AUTHORIZED,
        ],
    ),
]


@pytest.mark.parametrize(
    ("provider_kwargs", "agreement_status", "link_kwargs", "expected"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_rule_combinations(version, now, provider_kwargs, agreement_status, link_kwargs, expected):
    provider = ProviderFactory(**provider_kwargs)
    if agreement_status is not None:
        AgreementFactory(provider=provider, version=version, status=agreement_status)
    link = (
        MidLinkFactory(provider=provider, mid=MID, **link_kwargs)
        if link_kwargs is not None
        else None
    )

    decision = decide(provider=provider, mid=MID, projected_to=now)

    assert decision.reason_codes == [code.value for code in expected]
    assert decision.allowed is (not expected)
    if expected:
        assert decision.basis is None
    else:
        assert (decision.basis.kind, decision.basis.pk) == ("MID_LINK", link.pk)


@pytest.mark.parametrize("provider_type", [ProviderType.SHIPPER, ProviderType.PLATFORM])
def test_shippers_and_platforms_need_no_agreement(now, provider_type):
    AgreementVersionFactory()
    provider = ProviderFactory(provider_type=provider_type)
    MidLinkFactory(provider=provider, mid=MID)

    assert decide(provider=provider, mid=MID, projected_to=now).allowed


def test_a_service_provider_is_denied_when_no_version_is_in_effect(now):
    provider = ProviderFactory()
    MidLinkFactory(provider=provider, mid=MID)

    decision = decide(provider=provider, mid=MID, projected_to=now)

    assert decision.reason_codes == ["AGREEMENT_REQUIRED"]


def test_another_providers_link_grants_nothing(version, now):
    service_provider_with_link(version)
    stranger = ProviderFactory()
    AgreementFactory(provider=stranger, version=version)

    assert decide(provider=stranger, mid=MID, projected_to=now).reason_codes == [
        "MID_NOT_AUTHORIZED"
    ]


# --- Schedule lines --------------------------------------------------------------------------


def test_an_approved_schedule_line_of_an_approved_agreement_grants_access(version, now):
    provider = ProviderFactory()
    agreement = AgreementFactory(provider=provider, version=version)
    line = ScheduleLineFactory(agreement=agreement, mid=OTHER_MID)

    decision = decide(provider=provider, mid=OTHER_MID, projected_to=now)

    assert decision.allowed
    assert (decision.basis.kind, decision.basis.pk, decision.basis.relation) == (
        "SCHEDULE_LINE",
        line.pk,
        "SCHEDULE",
    )


@pytest.mark.parametrize(
    "line_status",
    [ScheduleLineStatus.REQUESTED, ScheduleLineStatus.REJECTED, ScheduleLineStatus.REVOKED],
)
def test_a_schedule_line_that_is_not_approved_grants_nothing(version, now, line_status):
    provider = ProviderFactory()
    agreement = AgreementFactory(provider=provider, version=version)
    ScheduleLineFactory(agreement=agreement, mid=OTHER_MID, status=line_status)

    assert decide(provider=provider, mid=OTHER_MID, projected_to=now).reason_codes == [
        "MID_NOT_AUTHORIZED"
    ]


def test_a_schedule_line_of_a_superseded_agreement_grants_nothing(version, now):
    provider = ProviderFactory(provider_type=ProviderType.SHIPPER)
    old = AgreementFactory(provider=provider, version=version, status=AgreementStatus.SUPERSEDED)
    ScheduleLineFactory(agreement=old, mid=OTHER_MID)

    assert decide(provider=provider, mid=OTHER_MID, projected_to=now).reason_codes == [
        "MID_NOT_AUTHORIZED"
    ]


def test_an_owned_link_is_preferred_as_the_basis_over_a_schedule_line(version, now):
    provider = ProviderFactory()
    agreement = AgreementFactory(provider=provider, version=version)
    ScheduleLineFactory(agreement=agreement, mid=MID)
    link = MidLinkFactory(provider=provider, mid=MID)

    assert decide(provider=provider, mid=MID, projected_to=now).basis.pk == link.pk


# --- Agreement versions and re-acceptance -----------------------------------------------------


def test_holders_of_an_older_version_keep_access_until_the_reacceptance_deadline(now):
    v1 = AgreementVersionFactory(effective_at=now - days(100))
    AgreementVersionFactory(effective_at=now - days(10), reacceptance_days=30)
    provider = service_provider_with_link(v1)

    assert decide(provider=provider, mid=MID, projected_to=now).allowed
    late = decide(provider=provider, mid=MID, projected_to=now + days(21))
    assert late.reason_codes == ["AGREEMENT_REACCEPTANCE_REQUIRED"]


def test_signing_a_newer_version_early_keeps_access(now):
    current = AgreementVersionFactory(effective_at=now - days(10))
    upcoming = AgreementVersionFactory(effective_at=now + days(10))
    provider = service_provider_with_link(upcoming)

    assert current.effective_at < now
    assert decide(provider=provider, mid=MID, projected_to=now).allowed


def test_a_version_for_other_provider_types_does_not_force_reacceptance(now):
    v1 = AgreementVersionFactory(effective_at=now - days(100))
    AgreementVersionFactory(effective_at=now - days(90), applies_to=[ProviderType.PLATFORM])
    provider = service_provider_with_link(v1)

    assert decide(provider=provider, mid=MID, projected_to=now).allowed


def test_an_unpublished_draft_does_not_count_as_the_current_version(now):
    v1 = AgreementVersionFactory(effective_at=now - days(100))
    AgreementVersionFactory(effective_at=now - days(90), published_at=None, text_sha256="")
    provider = service_provider_with_link(v1)

    assert decide(provider=provider, mid=MID, projected_to=now).allowed


def test_a_version_with_the_same_effective_date_still_requires_reacceptance(now):
    v1 = AgreementVersionFactory(effective_at=now - days(100))
    AgreementVersionFactory(effective_at=v1.effective_at, reacceptance_days=30)  # a corrected text
    provider = service_provider_with_link(v1)

    assert decide(provider=provider, mid=MID, projected_to=now).reason_codes == [
        "AGREEMENT_REACCEPTANCE_REQUIRED"
    ]


def test_a_later_version_does_not_reopen_access_that_already_lapsed(now):
    v1 = AgreementVersionFactory(effective_at=now - days(200))
    AgreementVersionFactory(effective_at=now - days(100), reacceptance_days=30)
    AgreementVersionFactory(effective_at=now - days(5), reacceptance_days=30)
    provider = service_provider_with_link(v1)

    assert decide(provider=provider, mid=MID, projected_to=now).reason_codes == [
        "AGREEMENT_REACCEPTANCE_REQUIRED"
    ]


def test_a_schedule_line_needs_a_current_agreement_whatever_the_provider_type(now):
    v1 = AgreementVersionFactory(effective_at=now - days(200), applies_to=["SHIPPER"])
    AgreementVersionFactory(effective_at=now - days(100), applies_to=["SHIPPER"])
    shipper = ProviderFactory(provider_type=ProviderType.SHIPPER)
    ScheduleLineFactory(agreement=AgreementFactory(provider=shipper, version=v1), mid=OTHER_MID)
    MidLinkFactory(provider=shipper, mid=MID)

    stale_line = decide(provider=shipper, mid=OTHER_MID, projected_to=now)
    own_mid = decide(provider=shipper, mid=MID, projected_to=now)

    assert stale_line.reason_codes == ["AGREEMENT_REACCEPTANCE_REQUIRED"]
    assert own_mid.allowed  # a shipper's own MIDs need no agreement at all


# --- Tracking numbers ---------------------------------------------------------------------------


def test_decide_for_number_extracts_the_mid(version, now):
    provider = service_provider_with_link(version)
    number = make_impb(mid=MID, service_type_code="001", serial="1234567")

    decision = decide_for_number(
        provider=provider, tracking_number=f"420 20260 {number}", projected_to=now
    )

    assert decision.allowed
    assert decision.mid == MID


@pytest.mark.parametrize(
    "number",
    [
        "RB123456785US",  # S10 international
        "9505512345678901234568",  # retail channel 95 (valid check digit)
    ],
)
def test_numbers_without_a_shipper_mid_are_always_denied(version, now, number):
    provider = service_provider_with_link(version)

    decision = decide_for_number(provider=provider, tracking_number=number, projected_to=now)

    assert decision.reason_codes == ["NO_MID_IN_TRACKING_NUMBER"]
    assert not decision.allowed


def test_an_invalid_number_is_denied_with_the_parse_reason(version, now):
    provider = service_provider_with_link(version)
    number = make_impb(mid=MID, service_type_code="001", serial="1234567")
    broken = number[:-1] + str((int(number[-1]) + 1) % 10)

    decision = decide_for_number(provider=provider, tracking_number=broken, projected_to=now)

    assert decision.reason_codes == ["INVALID_TRACKING_NUMBER"]
    assert "check digit is" in decision.reasons[0].message


def test_an_invalid_mid_is_denied(version, now):
    provider = service_provider_with_link(version)

    assert decide(provider=provider, mid="912345", projected_to=now).reason_codes == ["INVALID_MID"]


# --- Query budget, caching and invalidation --------------------------------------------------


def test_a_cold_decision_costs_at_most_two_queries(version, django_assert_max_num_queries):
    provider = service_provider_with_link(version)

    with django_assert_max_num_queries(2):
        decision = decide(provider=provider, mid=MID)

    assert decision.allowed and not decision.from_cache


def test_a_cached_decision_costs_no_query(version, django_assert_max_num_queries):
    provider = service_provider_with_link(version)
    decide(provider=provider, mid=MID)

    with django_assert_max_num_queries(0):
        decision = decide(provider=provider, mid=MID)

    assert decision.allowed and decision.from_cache


def test_a_denied_decision_is_cached_too(django_assert_max_num_queries):
    provider = ProviderFactory()
    decide(provider=provider, mid=MID)

    with django_assert_max_num_queries(0):
        assert decide(provider=provider, mid=MID).reason_codes == [
            "AGREEMENT_REQUIRED",
            "MID_NOT_AUTHORIZED",
        ]


def test_revocation_is_seen_by_the_very_next_decision(version):
    provider = service_provider_with_link(version)
    link = provider.mid_links.get()
    assert decide(provider=provider, mid=MID).allowed
    assert decide(provider=provider, mid=MID).from_cache

    services.mid_link_revoke(link=link, actor=StaffFactory(), reason="Owner withdrew consent")
    decision = decide(provider=provider, mid=MID)

    assert not decision.allowed
    assert decision.reason_codes == ["MID_NOT_AUTHORIZED"]
    assert not decision.from_cache


def test_revocation_after_commit_is_seen_by_the_next_decision(
    version, django_capture_on_commit_callbacks
):
    provider = service_provider_with_link(version)
    link = provider.mid_links.get()
    assert decide(provider=provider, mid=MID).allowed

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        services.mid_link_revoke(link=link, actor=StaffFactory(), reason="Owner withdrew consent")

    assert len(callbacks) == 1  # the on-commit bump ran
    assert not decide(provider=provider, mid=MID).allowed


def test_billing_hold_and_suspension_invalidate_the_cache(version):
    provider = service_provider_with_link(version)
    staff = StaffFactory()
    assert decide(provider=provider, mid=MID).allowed

    account_services.provider_billing_hold_set(
        provider=provider, reason="Invoice 7 unpaid", actor=None
    )
    assert decide(provider=provider, mid=MID).reason_codes == ["BILLING_HOLD"]

    account_services.provider_billing_hold_release(provider=provider, reason="Paid", actor=None)
    account_services.provider_suspend(
        provider=provider, actor=staff, reason="Audit", cause="STAFF_ACTION"
    )
    assert decide(provider=provider, mid=MID).reason_codes == ["PROVIDER_NOT_ACTIVE"]


def test_publishing_a_version_invalidates_every_providers_decisions(now):
    v1 = AgreementVersionFactory(effective_at=now - days(400))
    provider = service_provider_with_link(v1)
    assert decide(provider=provider, mid=MID).allowed

    draft = services.agreement_version_create(
        label="v9",
        text="New terms.",
        effective_at=now - days(100),
        applies_to=[ProviderType.SERVICE_PROVIDER],
        reacceptance_days=30,
    )
    services.agreement_version_publish(version=draft)

    assert decide(provider=provider, mid=MID).reason_codes == ["AGREEMENT_REACCEPTANCE_REQUIRED"]


def test_a_cached_allow_expires_when_the_link_window_ends(version, now):
    provider = service_provider_with_link(version, valid_until=now + timedelta(seconds=30))
    assert decide(provider=provider, mid=MID).allowed

    # The entry's lifetime is capped at the window's end, so it cannot outlive the link.
    tokens = access_cache.current_tokens(provider.pk)
    key = cache.make_and_validate_key(access_cache._decision_key(provider.pk, MID, tokens))
    ttl = cache._cache.get_client(key).ttl(key)
    assert 0 < ttl <= 30


def test_a_cached_allow_lives_no_longer_than_the_configured_maximum(version, settings):
    settings.ACCESS_DECISION_CACHE_SECONDS = 7
    provider = service_provider_with_link(version)
    decide(provider=provider, mid=MID)

    tokens = access_cache.current_tokens(provider.pk)
    key = cache.make_and_validate_key(access_cache._decision_key(provider.pk, MID, tokens))
    assert 0 < cache._cache.get_client(key).ttl(key) <= 7


def test_an_unreachable_cache_falls_back_to_the_database(version, settings):
    provider = service_provider_with_link(version)
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
            "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2},
        }
    }

    decision = decide(provider=provider, mid=MID)

    assert decision.allowed
    assert not decision.from_cache


def test_any_error_inside_the_decision_denies(version, monkeypatch):
    """Fault injection: a broken query must deny, not allow or raise. (The fault is simulated
    because a real database failure mid-request cannot be produced reliably here.)"""
    provider = service_provider_with_link(version)

    def broken(*args, **kwargs):
        raise RuntimeError("simulated database failure")

    monkeypatch.setattr("agreements.decision._grants", broken)

    decision = decide(provider=provider, mid=MID, projected_to=timezone.now())

    assert not decision.allowed
    assert decision.reason_codes == ["DECISION_ERROR"]


def test_the_basis_of_an_allowed_decision_loads_its_record(version):
    from agreements.selectors import decision_basis_record

    provider = ProviderFactory()
    agreement = AgreementFactory(provider=provider, version=version)
    line = ScheduleLineFactory(agreement=agreement, mid=OTHER_MID)
    link = MidLinkFactory(provider=provider, mid=MID)

    assert decision_basis_record(decision=decide(provider=provider, mid=MID)) == link
    assert decision_basis_record(decision=decide(provider=provider, mid=OTHER_MID)) == line
    assert decision_basis_record(decision=decide(provider=provider, mid="123457")) is None


def test_a_decision_serialises_its_reasons_and_basis(version, now):
    provider = service_provider_with_link(version)
    link = provider.mid_links.get()

    allowed = decide(provider=provider, mid=MID, projected_to=now).as_dict()
    denied = decide(provider=provider, mid=OTHER_MID, projected_to=now).as_dict()

    assert allowed["allowed"] is True
    assert allowed["basis"] == {"kind": "MID_LINK", "pk": link.pk, "mid": MID, "relation": "OWNED"}
    assert allowed["projected_to"] == now.isoformat()
    assert denied["basis"] is None
    assert [r["code"] for r in denied["reasons"]] == ["MID_NOT_AUTHORIZED"]
    assert denied["reasons"][0]["message"].startswith("The provider is not authorized")

"""decide_many: the same answers as decide, for a page that shows every MID of a provider, at a
cost that does not grow with the number of MIDs."""

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from agreements.constants import MidLinkStatus
from agreements.decision import decide, decide_many
from tests.factories import (
    AgreementFactory,
    AgreementVersionFactory,
    MembershipFactory,
    MidLinkFactory,
    ProviderFactory,
    ScheduleLineFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def provider():
    provider = ProviderFactory()
    agreement = AgreementFactory(provider=provider, version=AgreementVersionFactory())
    MidLinkFactory(provider=provider, mid="901234567")
    MidLinkFactory(provider=provider, mid="123456", status=MidLinkStatus.REQUESTED)
    ScheduleLineFactory(agreement=agreement, mid="654321")
    return provider


MIDS = ["901234567", "123456", "654321", "222222", "912345"]  # the last is not a valid MID


def test_the_answers_are_decides_answers(provider):
    many = decide_many(provider=provider, mids=MIDS)
    cache.clear()

    one_by_one = {mid: decide(provider=provider, mid=mid) for mid in MIDS}

    assert {mid: (d.allowed, d.reason_codes, d.basis) for mid, d in many.items()} == {
        mid: (d.allowed, d.reason_codes, d.basis) for mid, d in one_by_one.items()
    }
    assert many["912345"].reason_codes == ["INVALID_MID"]


def test_cold_it_costs_two_queries_whatever_the_number_of_mids(provider):
    many_mids = [f"{300000 + n}" for n in range(40)]

    with CaptureQueriesContext(connection) as few:
        decide_many(provider=provider, mids=MIDS[:1])
    cache.clear()
    with CaptureQueriesContext(connection) as many:
        decide_many(provider=provider, mids=many_mids)

    assert len(few.captured_queries) == len(many.captured_queries) == 2


def test_warm_it_costs_nothing_and_says_so(provider):
    decide_many(provider=provider, mids=MIDS[:3])

    with CaptureQueriesContext(connection) as warm:
        again = decide_many(provider=provider, mids=MIDS[:3])

    assert len(warm.captured_queries) == 0
    assert all(decision.from_cache for decision in again.values())


def test_the_dashboard_costs_the_same_for_one_mid_or_twenty_with_a_cold_cache(client):
    def queries_for(n, first):
        provider = ProviderFactory()
        for i in range(n):
            MidLinkFactory(provider=provider, mid=f"{first + i}")
        client.force_login(MembershipFactory(provider=provider).user)
        cache.clear()
        with CaptureQueriesContext(connection) as captured:
            assert client.get(reverse("agreements:dashboard")).status_code == 200
        return len(captured.captured_queries)

    assert queries_for(1, first=400000) == queries_for(20, first=500000)

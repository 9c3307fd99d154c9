"""Concurrent staff actions on real PostgreSQL connections: no deadlock, no double grant."""

import threading

import pytest
from django.db import connection

from agreements import services
from agreements.constants import AgreementStatus, MidLinkStatus
from agreements.models import Agreement, MidLink
from core.errors import DomainError
from tests.factories import AgreementFactory, MidLinkFactory, ProviderFactory, StaffFactory

pytestmark = pytest.mark.django_db(transaction=True)


def run_together(*calls):
    """Start every call at the same moment on its own connection; return results or errors."""
    barrier = threading.Barrier(len(calls))
    outcomes: list = [None] * len(calls)

    def worker(index, call):
        try:
            barrier.wait(timeout=10)
            outcomes[index] = call()
        except Exception as exc:  # noqa: BLE001 - the outcome is what the test inspects
            outcomes[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return outcomes


def test_two_approvals_for_one_provider_serialise_without_deadlock():
    provider = ProviderFactory()
    first = AgreementFactory(provider=provider, status=AgreementStatus.SUBMITTED)
    second = AgreementFactory(provider=provider, status=AgreementStatus.SUBMITTED)
    staff = StaffFactory()

    outcomes = run_together(
        lambda: services.agreement_approve(agreement=first, actor=staff),
        lambda: services.agreement_approve(agreement=second, actor=staff),
    )

    unexpected = [
        o for o in outcomes if isinstance(o, Exception) and not isinstance(o, DomainError)
    ]
    assert unexpected == []
    statuses = sorted(Agreement.objects.filter(provider=provider).values_list("status", flat=True))
    # Whichever ran second either superseded the first or was refused as going backwards.
    assert statuses.count(AgreementStatus.APPROVED) == 1
    assert set(statuses) <= {
        AgreementStatus.APPROVED,
        AgreementStatus.SUPERSEDED,
        AgreementStatus.SUBMITTED,
    }


def test_two_providers_verified_as_owner_at_once_only_one_wins():
    a = MidLinkFactory(mid="123456", status=MidLinkStatus.REQUESTED)
    b = MidLinkFactory(mid="123456", status=MidLinkStatus.REQUESTED)
    staff = StaffFactory()

    outcomes = run_together(
        lambda: services.mid_link_verify(link=a, actor=staff),
        lambda: services.mid_link_verify(link=b, actor=staff),
    )

    errors = [o for o in outcomes if isinstance(o, Exception)]
    assert len(errors) == 1
    assert isinstance(errors[0], DomainError)
    assert "123456" in errors[0].message
    assert MidLink.objects.filter(mid="123456", status=MidLinkStatus.VERIFIED).count() == 1

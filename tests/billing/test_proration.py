"""Active days rebuilt from the audit log, and the prorated fee (billing/proration.py)."""

from datetime import date, datetime, timedelta
from decimal import Decimal
from unittest import mock
from zoneinfo import ZoneInfo

import pytest
from django.contrib.contenttypes.models import ContentType
from hypothesis import given
from hypothesis import strategies as st

from accounts.constants import ProviderStatus
from accounts.models import Provider
from accounts.services.providers import provider_approve, provider_suspend
from agreements.constants import AgreementStatus
from agreements.services.signatures import agreement_approve
from billing.proration import active_days, describe_days, money, prorate
from core.models import AuditEntry
from tests.factories import AgreementFactory, ProviderFactory, StaffFactory

NEW_YORK = ZoneInfo("America/New_York")
FEE = 100_000  # $1,000.00


def local(text: str) -> datetime:
    """A wall-clock time in New York (the default BILLING_TIMEZONE)."""
    return datetime.fromisoformat(text).replace(tzinfo=NEW_YORK)


def record(subject, to_status: str, when: datetime) -> AuditEntry:
    """An audit entry as a transition writes it, dated `when` (created_at is auto_now_add, and
    the table is append-only, so the clock is what can be set)."""
    provider_id = subject.pk if isinstance(subject, Provider) else subject.provider_id
    with mock.patch("django.utils.timezone.now", return_value=when):
        return AuditEntry.objects.create(
            subject_type=ContentType.objects.get_for_model(subject),
            subject_id=subject.pk,
            provider_id=provider_id,
            action=f"test_{to_status.lower()}",
            to_status=to_status,
        )


def billable_since(when: datetime, **provider_fields) -> Provider:
    """A provider that became ACTIVE, then had its agreement approved, at `when`."""
    provider = ProviderFactory(**provider_fields)
    # Formed the day before (the monthly run skips providers formed after the month).
    Provider.objects.filter(pk=provider.pk).update(created_at=when - timedelta(days=1))
    agreement = AgreementFactory(provider=provider)
    record(provider, ProviderStatus.ACTIVE, when)
    record(agreement, AgreementStatus.APPROVED, when)
    return provider


@pytest.fixture(autouse=True)
def _new_york(settings):
    settings.BILLING_TIMEZONE = "America/New_York"


BEFORE = [("p", "ACTIVE", "2026-10-01T09:00"), ("a", "APPROVED", "2026-10-05T10:00")]

# (period, history as (subject, to_status, New York time), active days, days label, cents)
TABLE = [
    pytest.param("2026-11", BEFORE, 30, "Nov 1–30, 2026", 100_000, id="whole-month"),
    pytest.param(
        "2026-11",
        [("p", "ACTIVE", "2026-11-10T09:00"), ("a", "APPROVED", "2026-11-14T10:00")],
        17,
        "Nov 14–30, 2026",
        56_667,
        id="joined-mid-month",
    ),
    pytest.param(
        "2026-11",
        [*BEFORE, ("p", "SUSPENDED", "2026-11-10T12:00"), ("p", "ACTIVE", "2026-11-20T08:00")],
        21,
        "Nov 1–10 and 20–30, 2026",
        70_000,
        id="provider-suspended-mid-month-and-reinstated",
    ),
    pytest.param(
        "2026-11",
        [*BEFORE, ("a", "SUSPENDED", "2026-11-05T15:00"), ("a", "APPROVED", "2026-11-25T09:00")],
        11,
        "Nov 1–5 and 25–30, 2026",
        36_667,
        id="agreement-suspended-mid-month-and-reinstated",
    ),
    pytest.param(
        "2026-11",
        [("p", "ACTIVE", "2026-11-02T09:00"), ("a", "APPROVED", "2026-11-30T16:00")],
        1,
        "Nov 30, 2026",
        3_333,
        id="approved-on-the-last-day",
    ),
    pytest.param(
        "2028-02",
        [("p", "ACTIVE", "2028-01-10T09:00"), ("a", "APPROVED", "2028-01-11T09:00")],
        29,
        "Feb 1–29, 2028",
        100_000,
        id="leap-february-whole",
    ),
    pytest.param(
        "2028-02",
        [("p", "ACTIVE", "2028-02-15T09:00"), ("a", "APPROVED", "2028-02-15T09:30")],
        15,
        "Feb 15–29, 2028",
        51_724,
        id="leap-february-from-the-15th",
    ),
    pytest.param(
        "2026-12",
        [("p", "ACTIVE", "2026-12-01T09:00"), ("a", "APPROVED", "2026-12-17T11:00")],
        15,
        "Dec 17–31, 2026",
        48_387,
        id="31-day-month",
    ),
    # 23:30 in New York is 04:30 UTC on December 1st: the New York day is what counts.
    pytest.param(
        "2026-11",
        [("p", "ACTIVE", "2026-11-30T23:00"), ("a", "APPROVED", "2026-11-30T23:30")],
        1,
        "Nov 30, 2026",
        3_333,
        id="timezone-boundary-november",
    ),
    pytest.param(
        "2026-12",
        [("p", "ACTIVE", "2026-11-30T23:00"), ("a", "APPROVED", "2026-11-30T23:30")],
        31,
        "Dec 1–31, 2026",
        100_000,
        id="timezone-boundary-december",
    ),
    pytest.param(
        "2026-11",
        [*BEFORE, ("a", "TERMINATED", "2026-11-12T10:00")],
        12,
        "Nov 1–12, 2026",
        40_000,
        id="agreement-terminated",
    ),
    pytest.param(
        "2026-11",
        [*BEFORE, ("p", "CLOSED", "2026-11-03T17:00")],
        3,
        "Nov 1–3, 2026",
        10_000,
        id="provider-closed",
    ),
    pytest.param(
        "2026-11",
        [*BEFORE, ("a", "SUPERSEDED", "2026-11-10T10:00"), ("b", "APPROVED", "2026-11-10T10:00")],
        30,
        "Nov 1–30, 2026",
        100_000,
        id="superseded-by-a-newer-agreement",
    ),
    pytest.param(
        "2026-11",
        [
            *BEFORE,
            ("a", "SUPERSEDED", "2026-11-10T10:00"),
            ("b", "APPROVED", "2026-11-10T10:00"),
            ("b", "TERMINATED", "2026-11-20T10:00"),
        ],
        20,
        "Nov 1–20, 2026",
        66_667,
        id="superseding-agreement-terminated-later",
    ),
    pytest.param(
        "2026-11",
        [*BEFORE, ("p", "SUSPENDED", "2026-11-11T00:00")],
        10,
        "Nov 1–10, 2026",
        33_333,
        id="suspended-at-midnight-does-not-pay-that-day",
    ),
    pytest.param(
        "2026-11",
        [*BEFORE, ("p", "SUSPENDED", "2026-11-10T09:00"), ("p", "ACTIVE", "2026-11-10T17:00")],
        30,
        "Nov 1–30, 2026",
        100_000,
        id="suspended-and-reinstated-the-same-day",
    ),
    pytest.param(
        "2026-11",
        [*BEFORE, ("p", "SUSPENDED", "2026-10-20T09:00"), ("p", "ACTIVE", "2026-12-02T09:00")],
        0,
        "no days",
        0,
        id="suspended-all-month",
    ),
    pytest.param(
        "2026-11", [("p", "ACTIVE", "2026-10-01T09:00")], 0, "no days", 0, id="never-approved"
    ),
    pytest.param(
        "2026-11",
        [("a", "APPROVED", "2026-10-05T10:00")],
        0,
        "no days",
        0,
        id="approved-but-provider-never-active",
    ),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("month", "history", "count", "label", "cents"), TABLE)
def test_proration_table(month, history, count, label, cents):
    provider = ProviderFactory()
    subjects = {
        "p": provider,
        "a": AgreementFactory(provider=provider, status=AgreementStatus.SUPERSEDED),
        "b": AgreementFactory(provider=provider),
    }
    for key, to_status, when in history:
        record(subjects[key], to_status, local(when))
    # Another provider's history, in the same table, never leaks into this one's.
    billable_since(local("2026-01-01T00:00"))
    period = date.fromisoformat(f"{month}-01")

    days = active_days(provider_id=provider.pk, period=period)
    amount, computation = prorate(
        monthly_fee_cents=FEE,
        active_days=days.count,
        days_in_month=days.days_in_month,
        days_label=days.label,
    )

    assert (days.count, days.label, amount) == (count, label, cents)
    assert (
        computation == f"$1,000.00 × {count}/{days.days_in_month} days ({label}) = {money(cents)}"
    )


@pytest.mark.django_db
def test_history_written_by_the_real_services_is_read_the_same_way():
    staff = StaffFactory()
    provider = ProviderFactory(status=ProviderStatus.PENDING_REVIEW)
    first = AgreementFactory(provider=provider, status=AgreementStatus.SUBMITTED)
    newer = AgreementFactory(provider=provider, status=AgreementStatus.SUBMITTED)
    steps = [
        ("2026-10-20T09:00", lambda: provider_approve(provider=provider, actor=staff)),
        ("2026-11-03T14:00", lambda: agreement_approve(agreement=first, actor=staff)),
        # Approving the newer signature supersedes the first: no gap in billing.
        ("2026-11-12T10:00", lambda: agreement_approve(agreement=newer, actor=staff)),
        (
            "2026-11-25T08:00",
            lambda: provider_suspend(
                provider=provider, actor=staff, reason="Checks.", cause="STAFF_ACTION"
            ),
        ),
    ]
    for when, step in steps:
        with mock.patch("django.utils.timezone.now", return_value=local(when)):
            step()
    first.refresh_from_db()
    assert first.status == AgreementStatus.SUPERSEDED

    days = active_days(provider_id=provider.pk, period=date(2026, 11, 1))

    assert (days.count, days.label) == (23, "Nov 3–25, 2026")


@pytest.mark.django_db
def test_the_billing_timezone_decides_which_day_a_change_falls_on(settings):
    # 21:00 in Los Angeles on November 30 is already December 1 in New York.
    provider = billable_since(datetime(2026, 11, 30, 21, 0, tzinfo=ZoneInfo("America/Los_Angeles")))

    assert active_days(provider_id=provider.pk, period=date(2026, 11, 1)).count == 0
    settings.BILLING_TIMEZONE = "America/Los_Angeles"
    assert active_days(provider_id=provider.pk, period=date(2026, 11, 1)).label == "Nov 30, 2026"


@pytest.mark.parametrize(
    ("fee", "active", "days", "cents"),
    [
        (75, 1, 30, 3),  # 2.5 cents: half up (half-even would give 2)
        (45, 1, 30, 2),  # 1.5
        (15, 1, 30, 1),  # 0.5
        (14, 1, 30, 0),  # 0.4667
        (100_000, 30, 30, 100_000),
        (100_000, 0, 30, 0),
        (99_999, 1, 29, 3_448),  # 3448.24...
    ],
)
def test_prorate_rounds_half_up_to_the_cent(fee, active, days, cents):
    assert prorate(monthly_fee_cents=fee, active_days=active, days_in_month=days)[0] == cents


@pytest.mark.parametrize(("fee", "active", "days"), [(-1, 1, 30), (100, 31, 30), (100, -1, 30)])
def test_prorate_refuses_impossible_inputs(fee, active, days):
    with pytest.raises(ValueError, match="Cannot prorate"):
        prorate(monthly_fee_cents=fee, active_days=active, days_in_month=days)


@given(
    fee=st.integers(min_value=0, max_value=2_000_000_000),
    days=st.integers(min_value=28, max_value=31),
    data=st.data(),
)
def test_prorated_cents_are_the_exact_share_within_half_a_cent(fee, days, data):
    active = data.draw(st.integers(min_value=0, max_value=days))
    cents, _ = prorate(monthly_fee_cents=fee, active_days=active, days_in_month=days)
    exact = Decimal(fee) * active / days
    assert abs(cents - exact) <= Decimal("0.5")
    assert 0 <= cents <= fee


def test_money_and_day_labels_read_as_on_an_invoice():
    assert money(123_456_789) == "$1,234,567.89"
    assert money(5) == "$0.05"
    assert money(100, "eur") == "1.00 EUR"
    days = [date(2026, 11, day) for day in (1, 2, 3, 5, 9, 10, 30)]
    assert describe_days(days) == "Nov 1–3, 5, 9–10 and 30, 2026"
    assert describe_days([]) == "no days"

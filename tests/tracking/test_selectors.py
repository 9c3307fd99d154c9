"""The portal's reads of the tracking app: a provider's apps, and its usage per day and per denial
reason from DailyUsage (zero-filled, one query each, only its own rows)."""

from datetime import UTC, date, datetime, timedelta

import pytest

from agreements.constants import ReasonCode
from tests.factories import ProviderFactory
from tracking import selectors
from tracking.constants import ApiAppStatus
from tracking.models import ApiApp, DailyUsage
from tracking.selectors import DayUsage, ReasonUsage
from tracking.services.apps import app_create, app_revoke

pytestmark = pytest.mark.django_db

TODAY = date(2026, 3, 31)


def new_app(provider, name="Warehouse sync") -> ApiApp:
    return app_create(provider=provider, name=name, actor=None).app


def usage(app, day, calls, reason=""):
    return DailyUsage.objects.create(
        provider_id=app.provider_id,
        app=app,
        day=day,
        allowed=not reason,
        reason_code=reason,
        calls=calls,
    )


@pytest.fixture
def app():
    return new_app(ProviderFactory())


# --- Apps --------------------------------------------------------------------------------------


def test_a_providers_apps_are_its_own_active_first_then_by_name():
    provider, other = ProviderFactory(), ProviderFactory()
    zulu = new_app(provider, "Zulu")
    alpha = new_app(provider, "Alpha")
    old = new_app(provider, "Aardvark")
    app_revoke(app=old, actor=None, reason="replaced")
    new_app(other, "Alpha")

    apps = list(selectors.api_apps_for_provider(provider_id=provider.pk))
    active = list(selectors.active_api_apps_for_provider(provider_id=provider.pk))

    assert [(a.name, a.status) for a in apps] == [
        ("Alpha", ApiAppStatus.ACTIVE),
        ("Zulu", ApiAppStatus.ACTIVE),
        ("Aardvark", ApiAppStatus.REVOKED),
    ]
    assert active == [alpha, zulu]


def test_listing_apps_with_their_client_ids_is_one_query(django_assert_num_queries):
    provider = ProviderFactory()
    for name in ("One", "Two", "Three"):
        new_app(provider, name)

    with django_assert_num_queries(1):
        client_ids = [a.client_id for a in selectors.api_apps_for_provider(provider_id=provider.pk)]

    assert len(set(client_ids)) == 3


# --- Usage per day -----------------------------------------------------------------------------


def test_usage_by_day_zero_fills_the_window_oldest_first(app):
    usage(app, TODAY, 7)
    usage(app, TODAY, 2, ReasonCode.MID_NOT_AUTHORIZED)
    usage(app, TODAY - timedelta(days=3), 4, ReasonCode.AGREEMENT_REQUIRED)

    days = selectors.usage_by_day(provider_id=app.provider_id, days=5, today=TODAY)

    assert days == [
        DayUsage(day=date(2026, 3, 27), allowed=0, denied=0),
        DayUsage(day=date(2026, 3, 28), allowed=0, denied=4),
        DayUsage(day=date(2026, 3, 29), allowed=0, denied=0),
        DayUsage(day=date(2026, 3, 30), allowed=0, denied=0),
        DayUsage(day=date(2026, 3, 31), allowed=7, denied=2),
    ]
    assert [d.total for d in days] == [0, 4, 0, 0, 9]


def test_usage_by_day_adds_up_every_app_and_reason_of_the_provider_only(app):
    second = new_app(app.provider, "Second")
    stranger = new_app(ProviderFactory(), "Stranger")
    usage(app, TODAY, 10)
    usage(second, TODAY, 5)
    usage(app, TODAY, 3, ReasonCode.MID_NOT_AUTHORIZED)
    usage(second, TODAY, 1, ReasonCode.NO_MID_IN_TRACKING_NUMBER)
    usage(stranger, TODAY, 1000)
    usage(stranger, TODAY, 500, ReasonCode.MID_NOT_AUTHORIZED)

    (today,) = selectors.usage_by_day(provider_id=app.provider_id, days=1, today=TODAY)

    assert (today.allowed, today.denied) == (15, 4)


def test_usage_outside_the_window_is_left_out(app):
    usage(app, TODAY - timedelta(days=30), 99)  # the 31st day back
    usage(app, TODAY + timedelta(days=1), 99)  # a day after "today"
    usage(app, TODAY - timedelta(days=29), 1)

    days = selectors.usage_by_day(provider_id=app.provider_id, today=TODAY)

    assert len(days) == 30
    assert days[0] == DayUsage(day=TODAY - timedelta(days=29), allowed=1, denied=0)
    assert sum(d.total for d in days) == 1


def test_usage_by_day_is_one_query_however_many_rows(app, django_assert_num_queries):
    for back in range(30):
        usage(app, TODAY - timedelta(days=back), back + 1)
        usage(app, TODAY - timedelta(days=back), 1, ReasonCode.MID_NOT_AUTHORIZED)

    with django_assert_num_queries(1):
        days = selectors.usage_by_day(provider_id=app.provider_id, today=TODAY)

    assert [d.allowed for d in days] == list(range(30, 0, -1))
    assert {d.denied for d in days} == {1}


def test_today_defaults_to_the_utc_date(app, monkeypatch):
    class Clock(datetime):
        @classmethod
        def now(cls, tz=None):
            # 23:30 in New York is already the next day in UTC, and DailyUsage days are UTC.
            return datetime(2026, 4, 1, 3, 30, tzinfo=UTC).astimezone(tz)

    monkeypatch.setattr(selectors, "datetime", Clock)
    usage(app, date(2026, 4, 1), 3)

    days = selectors.usage_by_day(provider_id=app.provider_id, days=2)

    assert days == [
        DayUsage(day=date(2026, 3, 31), allowed=0, denied=0),
        DayUsage(day=date(2026, 4, 1), allowed=3, denied=0),
    ]


# --- Denial reasons ----------------------------------------------------------------------------


def test_top_denial_reasons_are_summed_over_days_and_apps_most_frequent_first(app):
    second = new_app(app.provider, "Second")
    usage(app, TODAY, 5, ReasonCode.MID_NOT_AUTHORIZED)
    usage(second, TODAY - timedelta(days=2), 4, ReasonCode.MID_NOT_AUTHORIZED)
    usage(app, TODAY, 6, ReasonCode.NO_MID_IN_TRACKING_NUMBER)
    usage(app, TODAY, 2, ReasonCode.BILLING_HOLD)
    usage(app, TODAY, 500)  # allowed calls are no reason
    usage(new_app(ProviderFactory()), TODAY, 70, ReasonCode.AGREEMENT_REQUIRED)

    reasons = selectors.top_denial_reasons(provider_id=app.provider_id, today=TODAY)

    assert reasons == [
        ReasonUsage("MID_NOT_AUTHORIZED", ReasonCode.MID_NOT_AUTHORIZED.label, 9),
        ReasonUsage("NO_MID_IN_TRACKING_NUMBER", ReasonCode.NO_MID_IN_TRACKING_NUMBER.label, 6),
        ReasonUsage("BILLING_HOLD", ReasonCode.BILLING_HOLD.label, 2),
    ]


def test_top_denial_reasons_keep_the_limit_break_ties_by_code_and_skip_old_days(app):
    for code in (
        ReasonCode.INVALID_MID,
        ReasonCode.BILLING_HOLD,
        ReasonCode.DECISION_ERROR,
        ReasonCode.AGREEMENT_REQUIRED,
    ):
        usage(app, TODAY, 3, code)
    usage(app, TODAY - timedelta(days=40), 100, ReasonCode.PROVIDER_NOT_ACTIVE)

    reasons = selectors.top_denial_reasons(provider_id=app.provider_id, limit=3, today=TODAY)

    assert [r.code for r in reasons] == ["AGREEMENT_REQUIRED", "BILLING_HOLD", "DECISION_ERROR"]


def test_an_unknown_reason_code_reads_as_itself(app):
    usage(app, TODAY, 1, "SOMETHING_NEW")

    (reason,) = selectors.top_denial_reasons(provider_id=app.provider_id, today=TODAY)

    assert (reason.code, reason.label, reason.calls) == ("SOMETHING_NEW", "SOMETHING_NEW", 1)


def test_top_denial_reasons_is_one_query(app, django_assert_num_queries):
    for n, code in enumerate(ReasonCode.values):
        usage(app, TODAY - timedelta(days=n), n + 1, code)

    with django_assert_num_queries(1):
        reasons = selectors.top_denial_reasons(provider_id=app.provider_id, today=TODAY)

    most = len(ReasonCode.values)
    assert [r.calls for r in reasons] == [most, most - 1, most - 2, most - 3, most - 4]

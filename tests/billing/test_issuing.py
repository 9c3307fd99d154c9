"""Fee schedules and the monthly run: lines, overage, exactly once under repeats, concurrency
and crashes, catching up, the task and the command (billing/services/issuing.py)."""

import io
import threading
from datetime import UTC, date, datetime, timedelta

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.constants import ProviderStatus, ProviderType
from accounts.models import Provider
from billing.constants import InvoiceStatus, LineKind
from billing.models import FeeSchedule, Invoice, InvoiceLine
from billing.proration import billing_zone
from billing.services import invoices as invoice_services
from billing.services.issuing import catch_up, issue_invoices, last_closed_period
from billing.services.schedules import (
    fee_schedule_create,
    fee_schedule_for,
    fee_schedule_is_used,
)
from billing.tasks import issue_monthly_invoices
from core.errors import DomainError
from core.models import AuditEntry
from tests.billing.test_proration import billable_since, local, record
from tests.concurrency import race_past_the_precheck, run_together
from tests.factories import ProviderFactory, StaffFactory
from tracking.models import DailyUsage
from tracking.services.apps import app_create

NOV = date(2026, 11, 1)
# November 2026 has ended in New York and in UTC.
AFTER_NOVEMBER = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
SINCE_OCTOBER = "2026-10-01T09:00"


class Crash(BaseException):
    """The process dying (SIGKILL, a power cut): nothing in the run may catch it."""


@pytest.fixture(autouse=True)
def _settings(settings):
    settings.BILLING_TIMEZONE = "America/New_York"
    settings.BILLING_AUTO_APPROVE = False


@pytest.fixture
def schedule(db):
    """$1,000.00 a month, 100,000 calls included, $0.50 per 1,000 over."""
    return fee_schedule_create(
        provider_type=ProviderType.SERVICE_PROVIDER,
        effective_from=date(2026, 1, 1),
        monthly_fee_cents=100_000,
        included_calls=100_000,
        overage_cents_per_1000=50,
        actor=None,
    )


@pytest.fixture
def announced(monkeypatch):
    """The invoice ids passed to invoice_issued (finance's hook), in order."""
    seen: list[int] = []
    lock = threading.Lock()

    def invoice_issued(*, invoice):
        with lock:
            seen.append(invoice.pk)

    monkeypatch.setattr(invoice_services, "invoice_issued", invoice_issued)
    return seen


def providers(count: int, since: str = SINCE_OCTOBER) -> list:
    return [billable_since(local(since)) for _ in range(count)]


def run(period: date = NOV, **options):
    return issue_invoices(period=period, now=AFTER_NOVEMBER, **options)


def snapshot():
    return (
        list(Invoice.objects.order_by("pk").values()),
        list(InvoiceLine.objects.order_by("pk").values()),
        AuditEntry.objects.count(),
    )


# --- Fee schedules ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_schedule_is_added_audited_and_found_by_date():
    staff = StaffFactory()
    older = fee_schedule_create(
        provider_type=ProviderType.SERVICE_PROVIDER,
        effective_from=date(2026, 1, 1),
        monthly_fee_cents=100_000,
        actor=staff,
    )
    newer = fee_schedule_create(
        provider_type=ProviderType.SERVICE_PROVIDER,
        effective_from=date(2027, 1, 1),
        monthly_fee_cents=120_000,
        included_calls=0,
        overage_cents_per_1000=10,
        actor=staff,
    )

    entry = AuditEntry.objects.get(action="fee_schedule_create", subject_id=newer.pk)
    assert (entry.actor, entry.extra["monthly_fee"], entry.extra["included_calls"]) == (
        staff,
        "$1,200.00",
        0,
    )
    assert newer.created_by == staff
    on = {
        day: fee_schedule_for(provider_type=ProviderType.SERVICE_PROVIDER, on=day)
        for day in (date(2025, 12, 31), date(2026, 12, 31), date(2027, 1, 1))
    }
    assert on == {date(2025, 12, 31): None, date(2026, 12, 31): older, date(2027, 1, 1): newer}
    # Shippers and platforms have no row: free.
    assert fee_schedule_for(provider_type=ProviderType.SHIPPER, on=date(2027, 1, 1)) is None


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"effective_from": date(2026, 1, 15)}, "effective_from"),
        ({"effective_from": date(1999, 12, 1)}, "effective_from"),
        ({"effective_from": date(2090, 1, 1)}, "effective_from"),
        ({"monthly_fee_cents": -1}, "monthly_fee_cents"),
        ({"monthly_fee_cents": 10.5}, "monthly_fee_cents"),
        ({"monthly_fee_cents": True}, "monthly_fee_cents"),
        ({"monthly_fee_cents": 3_000_000_000}, "monthly_fee_cents"),
        ({"overage_cents_per_1000": 50}, "included_calls"),  # a price with no allowance
        ({"included_calls": -5}, "included_calls"),
        ({"provider_type": "BANK"}, "provider_type"),
        ({"currency": "xyz"}, "currency"),
    ],
)
def test_an_invalid_schedule_is_refused_and_nothing_is_written(changes, field):
    values = {
        "provider_type": ProviderType.SERVICE_PROVIDER,
        "effective_from": date(2026, 1, 1),
        "monthly_fee_cents": 100_000,
        "actor": None,
    }
    with pytest.raises(DomainError) as refused:
        fee_schedule_create(**(values | changes))

    assert field in refused.value.field_errors
    assert not FeeSchedule.objects.exists()
    assert not AuditEntry.objects.exists()


@pytest.mark.django_db
def test_a_schedule_cannot_rewrite_an_invoiced_month_or_a_taken_date(schedule, announced):
    providers(1)
    run()
    same_day = {
        "provider_type": ProviderType.SERVICE_PROVIDER,
        "monthly_fee_cents": 1,
        "actor": None,
    }

    with pytest.raises(DomainError, match="November 2026 is already invoiced"):
        fee_schedule_create(effective_from=date(2026, 11, 1), **same_day)
    # Another type's invoices do not constrain it, and December is still open.
    fee_schedule_create(**(same_day | {"provider_type": ProviderType.PLATFORM}), effective_from=NOV)
    fee_schedule_create(effective_from=date(2026, 12, 1), **same_day)
    with pytest.raises(DomainError, match="already has a schedule from 2026-12-01"):
        fee_schedule_create(effective_from=date(2026, 12, 1), **same_day)
    assert fee_schedule_is_used(schedule=schedule)
    assert not fee_schedule_is_used(schedule=FeeSchedule.objects.get(effective_from="2026-12-01"))


# --- What a run issues ------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_run_issues_one_draft_per_billable_provider_with_the_prorated_fee(
    schedule, announced, django_capture_on_commit_callbacks
):
    whole = billable_since(local(SINCE_OCTOBER))
    joined = billable_since(local("2026-11-14T10:00"))
    never_approved = ProviderFactory()
    Provider.objects.filter(pk=never_approved.pk).update(created_at=local(SINCE_OCTOBER))
    record(never_approved, ProviderStatus.ACTIVE, local(SINCE_OCTOBER))
    ProviderFactory(status=ProviderStatus.PENDING_REVIEW)
    billable_since(local(SINCE_OCTOBER), provider_type=ProviderType.SHIPPER)  # no schedule: free
    billable_since(local("2026-12-05T00:00"))  # formed after November

    with django_capture_on_commit_callbacks(execute=True):
        report = run()

    issued = {invoice.provider_id: invoice for invoice in Invoice.objects.all()}
    assert set(issued) == {whole.pk, joined.pk}
    assert (report.candidates, report.created, report.not_billable, report.already_issued) == (
        3,
        2,
        1,
        0,
    )
    assert report.totals_cents == {"usd": 156_667}
    for provider, total, computation in [
        (whole, 100_000, "$1,000.00 × 30/30 days (Nov 1–30, 2026) = $1,000.00"),
        (joined, 56_667, "$1,000.00 × 17/30 days (Nov 14–30, 2026) = $566.67"),
    ]:
        invoice = issued[provider.pk]
        assert (invoice.status, invoice.period, invoice.total_cents, invoice.number) == (
            InvoiceStatus.DRAFT,
            NOV,
            total,
            None,
        )
        line = invoice.lines.get()
        assert (line.kind, line.description, line.computation) == (
            LineKind.FEE,
            "Monthly access fee, November 2026",
            computation,
        )
        assert (line.amount_cents, line.fee_schedule) == (total, schedule)
    assert sorted(announced) == sorted(report.invoice_ids) == sorted(i.pk for i in issued.values())


@pytest.mark.django_db
def test_overage_counts_every_answered_call_of_the_months_utc_days(schedule, announced):
    heavy, light = providers(2)
    heavy_app = app_create(provider=heavy, name="Prod", actor=None).app
    light_app = app_create(provider=light, name="Prod", actor=None).app
    usage = [
        (heavy_app, date(2026, 11, 1), True, "", 60_000),
        (heavy_app, date(2026, 11, 30), False, "MID_NOT_AUTHORIZED", 52_345),  # denied: counted
        (heavy_app, date(2026, 10, 31), True, "", 999_999),  # October's
        (heavy_app, date(2026, 12, 1), True, "", 999_999),  # December's
        (light_app, date(2026, 11, 15), True, "", 100_000),  # exactly the included calls
    ]
    DailyUsage.objects.bulk_create(
        DailyUsage(provider=app.provider, app=app, day=day, allowed=ok, reason_code=code, calls=n)
        for app, day, ok, code, n in usage
    )

    run()

    overage = InvoiceLine.objects.get(kind=LineKind.OVERAGE)
    assert overage.invoice.provider == heavy
    # 12,345 × $0.50 / 1,000 = $6.1725, rounded half up.
    assert (overage.quantity, overage.amount_cents, overage.computation) == (
        12_345,
        617,
        "112,345 calls (Nov 1–30, 2026, UTC days) − 100,000 included = 12,345 calls × "
        "$0.50 per 1,000 = $6.17",
    )
    assert overage.description == "API calls over the 100,000 included, November 2026"
    assert Invoice.objects.get(provider=heavy).total_cents == 100_617
    assert Invoice.objects.get(provider=light).lines.count() == 1


@pytest.mark.django_db
def test_free_types_owe_only_what_their_schedule_charges(announced):
    fee_schedule_create(
        provider_type=ProviderType.SERVICE_PROVIDER,
        effective_from=date(2026, 1, 1),
        monthly_fee_cents=0,
        actor=None,
    )
    fee_schedule_create(
        provider_type=ProviderType.PLATFORM,
        effective_from=date(2026, 1, 1),
        monthly_fee_cents=25_000,
        actor=None,
    )
    fee_schedule_create(
        provider_type=ProviderType.SHIPPER,
        effective_from=date(2026, 1, 1),
        monthly_fee_cents=0,
        actor=None,
    )
    promoted = billable_since(local(SINCE_OCTOBER))
    platform = billable_since(local(SINCE_OCTOBER), provider_type=ProviderType.PLATFORM)
    billable_since(local(SINCE_OCTOBER), provider_type=ProviderType.SHIPPER)

    report = run()

    totals = dict(Invoice.objects.values_list("provider_id", "total_cents"))
    # A service provider's month is always invoiced, even at $0.00; a shipper's free one is not.
    assert totals == {promoted.pk: 0, platform.pk: 25_000}
    assert report.created == 2


@pytest.mark.django_db
def test_an_active_provider_without_a_schedule_is_reported_not_invoiced(announced):
    fee_schedule_create(
        provider_type=ProviderType.SERVICE_PROVIDER,
        effective_from=date(2026, 12, 1),  # too late for November
        monthly_fee_cents=100_000,
        actor=None,
    )
    providers(2)

    report = run()

    assert (report.created, report.no_schedule) == (0, 2)
    assert not Invoice.objects.exists()


# --- Exactly once -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_running_again_changes_nothing(schedule, announced, django_capture_on_commit_callbacks):
    providers(3)
    with django_capture_on_commit_callbacks(execute=True):
        first = run()
    before = snapshot()

    with django_capture_on_commit_callbacks(execute=True):
        again = run()

    assert snapshot() == before
    assert (first.created, again.created, again.already_issued, again.candidates) == (3, 0, 3, 0)
    assert len(announced) == 3


@pytest.mark.django_db
def test_a_dry_run_writes_nothing_and_predicts_the_real_run(
    schedule, announced, django_capture_on_commit_callbacks
):
    providers(2)
    billable_since(local("2026-11-14T10:00"))
    before = snapshot()

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        dry = run(dry_run=True)

    assert snapshot() == before
    assert (callbacks, announced) == ([], [])
    real = run()
    assert (dry.created, dry.totals_cents, dry.invoice_ids) == (3, real.totals_cents, [])
    assert real.created == 3


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_runs_issue_each_invoice_once(schedule, announced):
    issued = providers(12)

    outcomes = run_together(run, run)

    assert not [outcome for outcome in outcomes if isinstance(outcome, BaseException)]
    assert sum(report.created for report in outcomes) == 12
    assert sorted(Invoice.objects.values_list("provider_id", flat=True)) == [p.pk for p in issued]
    assert InvoiceLine.objects.count() == 12
    assert sorted(announced) == sorted(Invoice.objects.values_list("pk", flat=True))


@pytest.mark.django_db(transaction=True)
def test_a_run_racing_past_the_existence_check_is_stopped_by_the_constraint(schedule, announced):
    """The second run reads the candidates while the first has written every invoice but not
    committed, so it tries every insert, waits on the key and is refused by the constraint."""
    providers(4)

    first, second = race_past_the_precheck(run, run)

    assert (first.created, second.created, second.already_issued) == (4, 0, 4)
    assert Invoice.objects.count() == 4
    assert len(announced) == 4


@pytest.mark.django_db(transaction=True)
def test_a_crash_mid_run_keeps_finished_invoices_and_a_rerun_completes_the_set(
    schedule, announced, monkeypatch
):
    issued = providers(10)
    real_bulk_create = InvoiceLine.objects.bulk_create
    calls = []

    def dies_on_the_sixth(lines, **kwargs):
        calls.append(1)
        if len(calls) == 6:
            raise Crash  # after the 6th invoice's INSERT, before its commit
        return real_bulk_create(lines, **kwargs)

    monkeypatch.setattr(InvoiceLine.objects, "bulk_create", dies_on_the_sixth)
    with pytest.raises(Crash):
        run()
    monkeypatch.setattr(InvoiceLine.objects, "bulk_create", real_bulk_create)

    # Five whole invoices, none half-written: the sixth's row went with its transaction.
    assert Invoice.objects.count() == InvoiceLine.objects.count() == len(announced) == 5
    rerun = run()
    assert (rerun.created, rerun.already_issued) == (5, 5)
    assert sorted(Invoice.objects.values_list("provider_id", flat=True)) == [p.pk for p in issued]
    assert sorted(announced) == sorted(Invoice.objects.values_list("pk", flat=True))


@pytest.mark.django_db(transaction=True)
def test_a_crash_between_commit_and_hook_leaves_a_draft_and_no_duplicate(schedule, monkeypatch):
    providers(10)
    announced: list[int] = []

    def dies_on_the_sixth(*, invoice):
        if len(announced) == 5:
            raise Crash
        announced.append(invoice.pk)

    monkeypatch.setattr(invoice_services, "invoice_issued", dies_on_the_sixth)
    with pytest.raises(Crash):
        run()
    monkeypatch.setattr(
        invoice_services, "invoice_issued", lambda *, invoice: announced.append(invoice.pk)
    )
    rerun = run()

    assert (Invoice.objects.count(), rerun.created, rerun.already_issued) == (10, 4, 6)
    (unannounced,) = Invoice.objects.exclude(pk__in=announced)
    # Committed but never handed to finance's hook: it waits in the draft queue.
    assert unannounced.status == InvoiceStatus.DRAFT
    assert len(announced) == len(set(announced)) == 9


@pytest.mark.django_db
def test_a_failing_hook_or_provider_does_not_stop_the_run(
    schedule, monkeypatch, django_capture_on_commit_callbacks
):
    first, huge, last = providers(3)
    app = app_create(provider=huge, name="Flood", actor=None).app
    # 4 billion calls over: more than an invoice line's quantity can hold.
    DailyUsage.objects.bulk_create(
        DailyUsage(provider=huge, app=app, day=day, allowed=True, calls=2_000_000_000)
        for day in (date(2026, 11, 2), date(2026, 11, 3))
    )

    def refuses_the_first(*, invoice):
        if invoice.provider_id == first.pk:
            raise RuntimeError("mail server down")

    monkeypatch.setattr(invoice_services, "invoice_issued", refuses_the_first)
    with django_capture_on_commit_callbacks(execute=True):
        report = run()

    assert [provider_id for provider_id, _ in report.failed] == [huge.pk]
    assert "out of range" in report.failed[0][1]
    assert (report.created, report.announce_failed) == (2, 1)
    assert set(Invoice.objects.values_list("provider_id", flat=True)) == {first.pk, last.pk}


# --- Periods and catching up ------------------------------------------------------------------


@pytest.mark.django_db
def test_a_month_that_has_not_ended_everywhere_is_refused(schedule, settings):
    providers(1)
    with pytest.raises(DomainError, match="November 2026 has not ended yet"):
        issue_invoices(period=NOV, now=local("2026-11-30T23:59"))
    with pytest.raises(DomainError, match="give its first day"):
        issue_invoices(period=date(2026, 11, 2), now=AFTER_NOVEMBER)
    # In Tokyo, November ends nine hours before it does in UTC, whose days the usage counts.
    settings.BILLING_TIMEZONE = "Asia/Tokyo"
    tokyo_december = datetime(2026, 12, 1, 0, 30, tzinfo=billing_zone())
    with pytest.raises(DomainError, match="in Asia/Tokyo and in UTC"):
        issue_invoices(period=NOV, now=tokyo_december)
    assert last_closed_period(now=tokyo_december) == date(2026, 10, 1)
    assert last_closed_period(now=tokyo_december + timedelta(hours=9)) == NOV
    assert not Invoice.objects.exists()


@pytest.mark.django_db
def test_catch_up_issues_every_missed_month_once(schedule, announced):
    provider = billable_since(local("2026-08-20T09:00"))
    run(date(2026, 9, 1))

    reports = catch_up(today=date(2026, 12, 5))

    assert [(r.period, r.created, r.already_issued) for r in reports] == [
        (date(2026, 8, 1), 1, 0),
        (date(2026, 9, 1), 0, 1),
        (date(2026, 10, 1), 1, 0),
        (date(2026, 11, 1), 1, 0),
    ]
    periods = Invoice.objects.filter(provider=provider).values_list("period", flat=True)
    assert sorted(periods) == [date(2026, month, 1) for month in (8, 9, 10, 11)]
    assert sum(report.created for report in catch_up(today=date(2026, 12, 5))) == 0


@pytest.mark.django_db
def test_catch_up_starts_with_the_first_schedule_and_stops_before_an_open_month(announced):
    fee_schedule_create(
        provider_type=ProviderType.SERVICE_PROVIDER,
        effective_from=date(2026, 10, 1),
        monthly_fee_cents=100_000,
        actor=None,
    )
    billable_since(local("2026-03-02T09:00"))

    assert catch_up(today=date(2026, 1, 5)) == []  # before the first billable month
    # On December 1st in New York, November has ended (at 05:00 UTC already).
    periods = [report.period for report in catch_up(today=date(2026, 12, 1))]
    assert periods == [date(2026, 10, 1), date(2026, 11, 1)]


# --- Cost -------------------------------------------------------------------------------------

FIXED_QUERIES = 5  # schedules, candidates, issued count, their audit history, their usage
PER_PROVIDER = 4  # the invoice and its lines, in a savepoint here (a transaction in production)


@pytest.mark.django_db
def test_queries_per_provider_are_constant(schedule, announced):
    providers(5, since="2026-08-10T09:00")
    providers(15, since="2026-10-15T09:00")  # formed in October: not candidates for September

    counts = {}
    for period, billed in ((date(2026, 9, 1), 5), (date(2026, 10, 1), 20)):
        with CaptureQueriesContext(connection) as queries:
            report = run(period)
        assert report.created == billed
        counts[billed] = len(queries)

    assert counts == {n: FIXED_QUERIES + PER_PROVIDER * n for n in (5, 20)}


@pytest.mark.django_db
@pytest.mark.parametrize("count", [5, 20])
def test_a_dry_run_reads_in_a_fixed_number_of_queries(
    schedule, announced, count, django_assert_max_num_queries
):
    providers(count)
    with django_assert_max_num_queries(FIXED_QUERIES):
        assert run(dry_run=True).created == count


# --- The task and the command -----------------------------------------------------------------


def _last_month_with_a_billable_provider():
    period = last_closed_period()
    since = datetime.combine(period, datetime.min.time(), tzinfo=billing_zone())
    provider = billable_since(since + timedelta(hours=9))
    return period, provider


@pytest.mark.django_db
def test_the_beat_task_issues_the_ended_month_and_repeats_harmlessly(schedule, announced):
    period, provider = _last_month_with_a_billable_provider()

    first = issue_monthly_invoices()
    again = issue_monthly_invoices()

    assert first == {"periods": [f"{period:%Y-%m}"], "created": 1, "no_schedule": 0, "failed": 0}
    assert again == {"periods": [], "created": 0, "no_schedule": 0, "failed": 0}
    assert Invoice.objects.get().provider == provider


@pytest.mark.django_db
def test_the_command_shows_progress_and_a_summary(schedule, announced):
    period, _ = _last_month_with_a_billable_provider()
    out, err = io.StringIO(), io.StringIO()

    call_command("issue_invoices", "--period", f"{period:%Y-%m}", stdout=out, stderr=err)

    assert "100%" in err.getvalue()
    summary = out.getvalue()
    assert "Invoices created:  1\n" in summary
    assert "Total amount:      $1,000.00\n" in summary
    out = io.StringIO()
    call_command("issue_invoices", "--period", f"{period:%Y-%m}", "--no-progress", stdout=out)
    assert "Invoices created:  0\nAlready issued:    1\n" in out.getvalue()


@pytest.mark.django_db
def test_the_command_dry_run_writes_nothing(schedule, announced):
    period, _ = _last_month_with_a_billable_provider()
    out = io.StringIO()

    call_command(
        "issue_invoices", "--period", f"{period:%Y-%m}", "--dry-run", "--no-progress", stdout=out
    )

    assert "(dry run: nothing written)" in out.getvalue()
    assert "Invoices created:  1\n" in out.getvalue()
    assert not Invoice.objects.exists()


@pytest.mark.django_db
def test_the_command_refuses_a_bad_current_or_future_period(schedule):
    today = datetime.now(tz=billing_zone()).date()
    for text, message in [
        ("2026-13", "must be a month as YYYY-MM"),
        ("november", "must be a month as YYYY-MM"),
        ("2026-11-01", "must be a month as YYYY-MM"),
        (f"{today:%Y-%m}", "is the current month"),
        (f"{today.year + 1}-01", "is in the future"),
    ]:
        with pytest.raises(CommandError, match=message):
            call_command("issue_invoices", "--period", text, "--no-progress", stdout=io.StringIO())
    assert not Invoice.objects.exists()

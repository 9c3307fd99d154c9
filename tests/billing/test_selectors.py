"""Billing reads: finance's queues, the aging buckets and the totals per month on fixed dates,
the CSV rows, and the provider's own invoices (another tenant's or a draft: None)."""

import itertools
from datetime import date, timedelta

import pytest

from billing.constants import InvoiceStatus
from billing.models import Invoice
from billing.selectors import (
    CSV_HEADER,
    aging_report,
    invoice_csv_rows,
    invoice_queue,
    invoices_past_grace,
    overdue_invoices,
    provider_invoice,
    provider_invoices,
    totals_by_period,
)
from tests.factories import InvoiceFactory, ProviderFactory

pytestmark = pytest.mark.django_db

TODAY = date(2026, 11, 30)
MONTHS = [date(2026, m, 1) for m in range(1, 13)]
_serials = itertools.count(1)


def issued(provider=None, *, status=InvoiceStatus.OPEN, days_past_due=0, total=100_000, **kw):
    """An invoice as approval leaves it, due `days_past_due` days before TODAY (negative: not
    yet due). Set up directly: the lifecycle itself is tested through the services."""
    serial = next(_serials)
    due_on = TODAY - timedelta(days=days_past_due)
    fields = {
        "provider": provider or ProviderFactory(),
        "period": kw.pop("period", MONTHS[serial % 12]),
        "total_cents": total,
        "status": status,
        "number": f"TAP-2026-{serial:06d}",
        "issued_on": due_on - timedelta(days=30),
        "due_on": due_on,
        **kw,
    }
    return InvoiceFactory(**fields)


# --- Queues ---------------------------------------------------------------------------------


def test_the_queues_split_drafts_open_and_overdue():
    draft = InvoiceFactory()
    due_today = issued(days_past_due=0)
    late = issued(days_past_due=1)
    paid = issued(status=InvoiceStatus.PAID, days_past_due=50)

    def ids(status_filter):
        return set(
            invoice_queue(status_filter=status_filter, today=TODAY).values_list("pk", flat=True)
        )

    assert ids("draft") == {draft.pk}
    assert ids("open") == {due_today.pk, late.pk}
    assert ids("overdue") == {late.pk}
    assert ids(None) == {draft.pk, due_today.pk, late.pk, paid.pk}
    assert ids("<script>") == set()
    assert set(overdue_invoices(today=TODAY)) == {late}


def test_the_queue_annotates_the_amount_due():
    invoice = issued(total=100_000, credited_cents=10_000, paid_cents=25_000)

    (row,) = invoice_queue(status_filter="open", today=TODAY)

    assert row.amount_due == 65_000 == invoice.amount_due_cents


def test_past_the_grace_period_means_more_than_the_grace_days_past_due(settings):
    settings.BILLING_GRACE_DAYS = 15
    issued(days_past_due=15)
    sixteen = issued(days_past_due=16)
    written_off = issued(status=InvoiceStatus.UNCOLLECTIBLE, days_past_due=60)
    issued(status=InvoiceStatus.PAID, days_past_due=60)
    issued(status=InvoiceStatus.VOID, days_past_due=60)

    assert set(invoices_past_grace(today=TODAY)) == {sixteen, written_off}


# --- Aging ----------------------------------------------------------------------------------


def test_aging_puts_each_open_invoice_in_its_bucket_by_days_past_due():
    for days, total in [
        (-5, 1_000),  # not yet due
        (0, 2_000),  # due today: 0 days past due
        (30, 3_000),
        (31, 4_000),
        (60, 5_000),
        (61, 6_000),
        (90, 7_000),
        (91, 8_000),
        (400, 9_000),
    ]:
        issued(days_past_due=days, total=total)
    issued(days_past_due=45, total=50_000, credited_cents=20_000, paid_cents=10_000)
    issued(status=InvoiceStatus.PAID, days_past_due=45, total=99_999)
    issued(status=InvoiceStatus.UNCOLLECTIBLE, days_past_due=200, total=99_999)
    InvoiceFactory(total_cents=99_999)  # a draft

    (usd,) = aging_report(today=TODAY)

    assert usd.currency == "usd"
    assert [(b.label, b.count, b.amount_cents) for b in usd.buckets] == [
        ("0–30 days", 2, 5_000),
        ("31–60 days", 3, 29_000),
        ("61–90 days", 2, 13_000),
        ("Over 90 days", 2, 17_000),
    ]
    assert (usd.not_yet_due.count, usd.not_yet_due.amount_cents) == (1, 1_000)
    assert (usd.past_due_count, usd.past_due_cents) == (9, 64_000)


def test_aging_of_nothing_open_is_empty():
    issued(status=InvoiceStatus.PAID)

    assert aging_report(today=TODAY) == []


# --- Totals per period ----------------------------------------------------------------------


def test_totals_per_billed_month():
    october, november = date(2026, 10, 1), date(2026, 11, 1)
    issued(period=october, total=100_000, paid_cents=100_000, status=InvoiceStatus.PAID)
    issued(period=october, total=50_000, credited_cents=5_000, paid_cents=20_000)
    issued(period=october, total=30_000, status=InvoiceStatus.UNCOLLECTIBLE)
    issued(period=october, total=70_000, status=InvoiceStatus.VOID)
    InvoiceFactory(period=october, total_cents=10_000)  # a draft
    issued(period=november, total=40_000)

    rows = {row.period: row for row in totals_by_period()}

    assert list(rows) == [november, october]
    oct_row = rows[october]
    assert (oct_row.invoices, oct_row.drafts) == (3, 1)
    assert (oct_row.issued_cents, oct_row.credited_cents, oct_row.paid_cents) == (
        180_000,
        5_000,
        120_000,
    )
    assert (oct_row.outstanding_cents, oct_row.written_off_cents) == (25_000, 30_000)
    assert (rows[november].issued_cents, rows[november].outstanding_cents) == (40_000, 40_000)


# --- CSV ------------------------------------------------------------------------------------


def test_csv_rows_have_amounts_in_dollars_and_neutralise_formulas():
    provider = ProviderFactory(legal_name='=HYPERLINK("http://evil")')
    invoice = issued(
        provider,
        period=date(2026, 10, 1),
        total=123_456,
        credited_cents=456,
        paid_cents=3_000,
        days_past_due=12,
    )
    draft = InvoiceFactory(provider=provider, period=date(2026, 11, 1), total_cents=5)

    header, first, second = invoice_csv_rows(Invoice.objects.all(), today=TODAY)

    assert header == CSV_HEADER
    assert first == [
        invoice.number,
        provider.pk,
        '\'=HYPERLINK("http://evil")',
        "2026-10",
        "OPEN",
        "USD",
        "1234.56",
        "4.56",
        "30.00",
        "1200.00",
        "2026-10-19",
        "2026-11-18",
        12,
    ]
    assert second[0] == "" and second[3:5] == ["2026-11", "DRAFT"]
    assert second[-3:] == ["", "", ""]
    assert draft.pk


# --- The provider's own invoices -----------------------------------------------------------


def test_a_provider_sees_its_issued_invoices_only():
    mine, theirs = ProviderFactory(), ProviderFactory()
    newer = issued(mine, period=date(2026, 10, 1))
    older = issued(mine, period=date(2026, 9, 1), status=InvoiceStatus.PAID)
    voided = issued(mine, period=date(2026, 8, 1), status=InvoiceStatus.VOID)
    InvoiceFactory(provider=mine, period=date(2026, 11, 1))  # a draft
    InvoiceFactory(provider=mine, period=date(2026, 7, 1), status=InvoiceStatus.VOID)  # never sent
    issued(theirs, period=date(2026, 10, 1))

    assert list(provider_invoices(provider=mine)) == [newer, older, voided]


def test_one_invoice_by_id_is_none_for_another_tenant_a_draft_or_a_junk_id():
    mine, theirs = ProviderFactory(), ProviderFactory()
    invoice = issued(mine)
    draft = InvoiceFactory(provider=mine, period=date(2026, 12, 1))
    foreign = issued(theirs)

    found = provider_invoice(provider=mine, invoice_id=invoice.pk)

    assert found == invoice
    assert [line.kind for line in found.lines.all()] == ["FEE"]
    assert provider_invoice(provider=mine, invoice_id=str(invoice.pk)) == invoice
    for junk in (foreign.pk, draft.pk, "abc", "", None, -1, 0, 2**63, "1.5"):
        assert provider_invoice(provider=mine, invoice_id=junk) is None, junk


def test_one_invoice_loads_in_a_bounded_number_of_queries(django_assert_max_num_queries):
    provider = ProviderFactory()
    invoice = issued(provider)

    with django_assert_max_num_queries(4):
        found = provider_invoice(provider=provider, invoice_id=invoice.pk)
        list(found.lines.all()), list(found.credit_notes.all()), list(found.payments.all())

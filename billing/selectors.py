"""Billing reads: finance's queues and reports, and the invoices a provider may see.

Dates are days of BILLING_TIMEZONE (`billing_today`), the calendar invoices are issued and fall
due in. Amounts are integer cents per currency; nothing here converts or adds currencies.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Count, F, IntegerField, Min, Prefetch, Q, QuerySet, Sum, Value
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone

from accounts.constants import MembershipRole
from accounts.models import Membership, Provider
from accounts.selectors import PendingCount, pending_count
from billing.constants import InvoiceStatus
from billing.models import CreditNote, Invoice, Payment

# What is still owed on an invoice, computed by the database (Invoice.amount_due_cents in SQL).
AMOUNT_DUE = Greatest(
    F("total_cents") - F("credited_cents") - F("paid_cents"),
    Value(0),
    output_field=IntegerField(),
)


# Money is still owed on these (an uncollectible invoice was written off, not forgiven).
OWED = (InvoiceStatus.OPEN, InvoiceStatus.UNCOLLECTIBLE)


def billing_today() -> date:
    """Today in BILLING_TIMEZONE."""
    return timezone.now().astimezone(ZoneInfo(settings.BILLING_TIMEZONE)).date()


# --- Finance's queue ------------------------------------------------------------------------

QUEUES = {
    "draft": "Drafts to approve",
    "open": "Open",
    "overdue": "Overdue (open, past the due date)",
}


def overdue_invoices(*, today: date | None = None) -> QuerySet[Invoice]:
    """Open invoices whose due date has passed (due yesterday or earlier)."""
    return Invoice.objects.filter(queue_condition(status_filter="overdue", today=today))


def invoices_past_grace(*, today: date | None = None) -> QuerySet[Invoice]:
    """Invoices still owed more than BILLING_GRACE_DAYS past their due date: what puts a
    provider on billing hold, and what must be gone before the hold is lifted.

    Owed: OPEN, or written off (UNCOLLECTIBLE), which stops the charges but not the debt; a
    write-off restores no access. Finance settles, credits or voids to end a hold."""
    today = today or billing_today()
    last_due = today - timedelta(days=settings.BILLING_GRACE_DAYS + 1)
    return Invoice.objects.filter(status__in=OWED, due_on__lte=last_due)


def queue_condition(*, status_filter: str, today: date | None = None) -> Q:
    """The condition of one of finance's queues (QUEUES); an unknown name matches nothing."""
    if status_filter == "draft":
        return Q(status=InvoiceStatus.DRAFT)
    if status_filter == "open":
        return Q(status=InvoiceStatus.OPEN)
    if status_filter == "overdue":
        return Q(status=InvoiceStatus.OPEN, due_on__lt=today or billing_today())
    return Q(pk__in=[])


def invoice_queue(*, status_filter: str | None, today: date | None = None) -> QuerySet[Invoice]:
    """Finance's invoice list: "draft", "open" or "overdue" (QUEUES), or every invoice for
    None/"", with the amount due annotated."""
    queryset = Invoice.objects.select_related("provider").annotate(amount_due=AMOUNT_DUE)
    if not status_filter:
        return queryset
    return queryset.filter(queue_condition(status_filter=status_filter, today=today))


def drafts_pending() -> PendingCount:
    """Drafts waiting for finance's approval, waiting since the run created them."""
    return pending_count(Invoice.objects.filter(status=InvoiceStatus.DRAFT), since="created_at")


def overdue_pending(*, today: date | None = None) -> PendingCount:
    """Overdue invoices, the oldest counted from its due date."""
    row = overdue_invoices(today=today).aggregate(count=Count("pk"), oldest=Min("due_on"))
    if row["oldest"] is None:
        return PendingCount(count=row["count"], oldest=None)
    zone = ZoneInfo(settings.BILLING_TIMEZONE)
    return PendingCount(count=row["count"], oldest=datetime.combine(row["oldest"], time.min, zone))


# --- Aging ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AgingBucket:
    key: str
    label: str
    count: int
    amount_cents: int


@dataclass(frozen=True, slots=True)
class AgingRow:
    """One currency's open invoices by days past due."""

    currency: str
    buckets: list[AgingBucket]
    not_yet_due: AgingBucket
    past_due_count: int = 0
    past_due_cents: int = 0


def aging_buckets(today: date) -> list[tuple[str, str, Q]]:
    """(key, label, condition) of each bucket, by days past due = today - due date.

    An invoice due today is 0 days past due (first bucket); one due tomorrow is not past due
    at all and is counted apart, as "not yet due"."""
    day = timedelta(days=1)
    return [
        ("d0_30", "0–30 days", Q(due_on__gte=today - 30 * day, due_on__lte=today)),
        ("d31_60", "31–60 days", Q(due_on__gte=today - 60 * day, due_on__lte=today - 31 * day)),
        ("d61_90", "61–90 days", Q(due_on__gte=today - 90 * day, due_on__lte=today - 61 * day)),
        ("over90", "Over 90 days", Q(due_on__lt=today - 90 * day)),
    ]


def aging_report(*, today: date | None = None) -> list[AgingRow]:
    """Amount due and count of OPEN invoices per currency in each aging bucket, in one query.

    Paid, void and uncollectible (written-off) invoices owe nothing collectable: not counted.
    """
    today = today or billing_today()
    buckets = [*aging_buckets(today), ("current", "Not yet due", Q(due_on__gt=today))]
    aggregates = {}
    for key, _, condition in buckets:
        aggregates[f"{key}_count"] = Count("pk", filter=condition)
        aggregates[f"{key}_cents"] = Coalesce(Sum(AMOUNT_DUE, filter=condition), 0)
    rows = (
        Invoice.objects.filter(status=InvoiceStatus.OPEN)
        .values("currency")
        .annotate(**aggregates)
        .order_by("currency")
    )
    report = []
    for row in rows:
        made = [
            AgingBucket(key, label, row[f"{key}_count"], row[f"{key}_cents"])
            for key, label, _ in buckets
        ]
        past_due = made[:-1]
        report.append(
            AgingRow(
                currency=row["currency"],
                buckets=past_due,
                not_yet_due=made[-1],
                past_due_count=sum(bucket.count for bucket in past_due),
                past_due_cents=sum(bucket.amount_cents for bucket in past_due),
            )
        )
    return report


# --- Totals per period ---------------------------------------------------------------------

ISSUED = (InvoiceStatus.OPEN, InvoiceStatus.PAID, InvoiceStatus.UNCOLLECTIBLE)


@dataclass(frozen=True, slots=True)
class PeriodTotals:
    """A billed month's invoices in one currency. Issued: every invoice finance opened (paid,
    open or written off; drafts and voided invoices were never owed)."""

    period: date
    currency: str
    invoices: int
    issued_cents: int
    credited_cents: int
    paid_cents: int
    outstanding_cents: int  # still due on open invoices
    written_off_cents: int  # still due on uncollectible invoices
    drafts: int = 0


def totals_by_period() -> list[PeriodTotals]:
    """Issued, credited, paid and outstanding per billed month and currency, newest first."""
    issued = Q(status__in=ISSUED)
    # Named apart from the model's fields: an annotation named credited_cents would stand in
    # for the column inside AMOUNT_DUE.
    sums = {
        "issued": Sum("total_cents", filter=issued),
        "credited": Sum("credited_cents", filter=issued),
        "paid": Sum("paid_cents", filter=issued),
        "outstanding": Sum(AMOUNT_DUE, filter=Q(status=InvoiceStatus.OPEN)),
        "written_off": Sum(AMOUNT_DUE, filter=Q(status=InvoiceStatus.UNCOLLECTIBLE)),
    }
    rows = (
        Invoice.objects.values("period", "currency")
        .annotate(
            invoices=Count("pk", filter=issued),
            drafts=Count("pk", filter=Q(status=InvoiceStatus.DRAFT)),
            **{f"sum_{name}": Coalesce(total, 0) for name, total in sums.items()},
        )
        .order_by("-period", "currency")
    )
    return [
        PeriodTotals(
            period=row["period"],
            currency=row["currency"],
            invoices=row["invoices"],
            drafts=row["drafts"],
            **{f"{name}_cents": row[f"sum_{name}"] for name in sums},
        )
        for row in rows
    ]


# --- CSV export -----------------------------------------------------------------------------

CSV_HEADER = [
    "number",
    "provider_id",
    "provider",
    "period",
    "status",
    "currency",
    "total",
    "credited",
    "paid",
    "amount_due",
    "issued_on",
    "due_on",
    "days_past_due",
]


def units(cents: int) -> str:
    """Cents as currency units with two decimals ("1234.50"), exact."""
    return str((Decimal(cents) / 100).quantize(Decimal("0.01")))


def _cell(text: str) -> str:
    # A spreadsheet runs a cell that starts like a formula; provider names are typed by
    # providers, so such a name is prefixed with a quote to stay text.
    if text[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + text
    return text


def invoice_csv_rows(queryset: QuerySet[Invoice], *, today: date | None = None) -> Iterator[list]:
    """The header, then one row per invoice of `queryset`, amounts in currency units."""
    today = today or billing_today()
    yield CSV_HEADER
    for invoice in queryset.select_related("provider").order_by("period", "number", "pk"):
        past_due = ""
        if invoice.status == InvoiceStatus.OPEN and invoice.due_on and invoice.due_on < today:
            past_due = (today - invoice.due_on).days
        yield [
            invoice.number or "",
            invoice.provider_id,
            _cell(invoice.provider.legal_name),
            f"{invoice.period:%Y-%m}",
            invoice.status,
            invoice.currency.upper(),
            units(invoice.total_cents),
            units(invoice.credited_cents),
            units(invoice.paid_cents),
            units(invoice.amount_due_cents),
            invoice.issued_on.isoformat() if invoice.issued_on else "",
            invoice.due_on.isoformat() if invoice.due_on else "",
            past_due,
        ]


# --- The provider's own invoices (portal) --------------------------------------------------


def provider_invoices(*, provider: Provider) -> QuerySet[Invoice]:
    """The invoices `provider` has been sent, newest period first. Drafts (and drafts voided
    before approval) were never issued, so the provider never sees them."""
    return (
        Invoice.objects.filter(provider=provider, number__isnull=False)
        .annotate(amount_due=AMOUNT_DUE)
        .order_by("-period", "-pk")
    )


def provider_invoice(*, provider: Provider, invoice_id: int | str) -> Invoice | None:
    """One of `provider`'s issued invoices with its lines, credit notes and payments; None for
    another tenant's id, a draft, or an id that is no id at all (the view answers 404)."""
    try:
        pk = int(invoice_id)
    except (TypeError, ValueError):
        return None
    if not 0 < pk < 2**63:
        return None
    return (
        provider_invoices(provider=provider)
        .prefetch_related(
            "lines",
            Prefetch("credit_notes", queryset=CreditNote.objects.order_by("created_at", "pk")),
            Prefetch("payments", queryset=Payment.objects.order_by("created_at", "pk")),
        )
        .filter(pk=pk)
        .first()
    )


def billing_recipients(*, provider_id: int) -> list[str]:
    """Who receives a provider's invoices: its BILLING and OWNER members."""
    roles = (MembershipRole.BILLING, MembershipRole.OWNER)
    return sorted(
        set(
            Membership.objects.filter(provider_id=provider_id, role__in=roles).values_list(
                "user__email", flat=True
            )
        )
    )

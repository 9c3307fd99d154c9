"""Finance's invoice queue: filters, the invoice's lines, credit notes and payments, the
decisions (approve, void, write off, credit, record a wire or check, resend), the CSV export and
the aging report with totals per billed month."""

import csv
from decimal import Decimal

from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import HttpResponse
from django.template.response import TemplateResponse
from django.urls import path

from accounts.admin import ReviewQueueMixin, offered_from, pending_first
from accounts.admin_decisions import decision_action
from agreements.admin.common import DECISION_FIELDS, PROVIDER_SEARCH
from billing import selectors
from billing.admin.forms import (
    CreditNoteForm,
    FinanceReasonForm,
    NoReasonForm,
    OfflinePaymentForm,
    to_cents,
)
from billing.constants import INVOICE_TRANSITIONS, InvoiceStatus
from billing.models import CreditNote, Invoice, InvoiceLine, Payment
from billing.proration import money
from billing.services import invoices as services
from core.admin import ReadOnlyAdminMixin, SafeChangeListMixin


def _approve(invoice: Invoice, *, actor, reason: str) -> Invoice:
    return services.invoice_approve(invoice=invoice, actor=actor, reason=reason)


def _void(invoice: Invoice, *, actor, reason: str) -> Invoice:
    return services.invoice_void(invoice=invoice, actor=actor, reason=reason)


def _write_off(invoice: Invoice, *, actor, reason: str) -> Invoice:
    return services.invoice_mark_uncollectible(invoice=invoice, actor=actor, reason=reason)


def _credit(invoice: Invoice, *, actor, reason: str, amount: Decimal):
    return services.credit_note_create(
        invoice=invoice, amount_cents=to_cents(amount), reason=reason, actor=actor
    )


def _record_payment(invoice: Invoice, *, actor, reason: str, method, amount, reference):
    return services.payment_record_offline(
        invoice=invoice,
        amount_cents=to_cents(amount),
        method=method,
        reference=reference,
        actor=actor,
    )


def _resend(invoice: Invoice, *, actor, reason: str) -> Invoice:
    return services.invoice_resend(invoice=invoice, actor=actor)


# --- Invoices -----------------------------------------------------------------------------------


class QueueFilter(admin.SimpleListFilter):
    title = "queue"
    parameter_name = "queue"

    def lookups(self, request, model_admin):
        return list(selectors.QUEUES.items())

    def queryset(self, request, queryset):
        value = self.value()
        return queryset.filter(selectors.queue_condition(status_filter=value)) if value else None


class InvoiceLineInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = InvoiceLine
    fields = ("kind", "description", "computation", "quantity", "amount", "fee_schedule")
    readonly_fields = fields
    extra = 0

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("invoice", "fee_schedule")

    @admin.display(description="amount")
    def amount(self, line: InvoiceLine) -> str:
        return money(line.amount_cents, line.invoice.currency)


class CreditNoteInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = CreditNote
    fields = ("created_at", "amount", "reason", "created_by")
    readonly_fields = fields
    ordering = ("created_at", "pk")
    extra = 0

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("invoice", "created_by")

    @admin.display(description="amount")
    def amount(self, note: CreditNote) -> str:
        return money(note.amount_cents, note.invoice.currency)


class PaymentInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = Payment
    fields = (
        "created_at",
        "method",
        "status",
        "amount",
        "attempt",
        "reference",
        "stripe_payment_intent_id",
        "failure_message",
        "recorded_by",
        "settled_at",
    )
    readonly_fields = fields
    ordering = ("created_at", "pk")
    extra = 0
    show_change_link = True

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("invoice", "recorded_by")

    @admin.display(description="amount")
    def amount(self, payment: Payment) -> str:
        return money(payment.amount_cents, payment.currency)


@admin.register(Invoice)
class InvoiceAdmin(ReviewQueueMixin, SafeChangeListMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    """Finance's invoice queue. Fields stay read-only: an invoice changes only through the
    actions (services), each audited."""

    review_permission = "billing.change_invoice"
    change_list_template = "admin/billing/invoice/change_list.html"
    list_display = (
        "number_or_draft",
        "provider",
        "billed_month",
        "status",
        "total",
        "due_on",
        "amount_due",
    )
    list_filter = (QueueFilter, "status", "currency")
    search_fields = ("number", *PROVIDER_SEARCH)
    list_select_related = ("provider",)
    date_hierarchy = "period"
    # Drafts first, the one waiting longest at the top; then the newest billed month.
    ordering = pending_first(
        pending=Q(status=InvoiceStatus.DRAFT), since="created_at", then=("-period", "-pk")
    )
    inlines = (InvoiceLineInline, CreditNoteInline, PaymentInline)
    actions = (
        "approve_invoices",
        "void_invoices",
        "write_off_invoices",
        "credit_invoice",
        "record_offline_payment",
        "resend_invoices",
        "export_csv",
    )
    decision_links = {
        "approve_invoices": (
            "Approve…",
            offered_from(INVOICE_TRANSITIONS, InvoiceStatus.OPEN),
        ),
        "credit_invoice": ("Issue a credit note…", frozenset({InvoiceStatus.OPEN})),
        "record_offline_payment": ("Record a wire or check…", frozenset(services.PAYABLE)),
        "resend_invoices": (
            "Resend the e-mail…",
            frozenset({InvoiceStatus.OPEN, InvoiceStatus.PAID, InvoiceStatus.UNCOLLECTIBLE}),
        ),
        "write_off_invoices": (
            "Mark uncollectible…",
            offered_from(INVOICE_TRANSITIONS, InvoiceStatus.UNCOLLECTIBLE),
        ),
        "void_invoices": ("Void…", offered_from(INVOICE_TRANSITIONS, InvoiceStatus.VOID)),
    }
    fieldsets = (
        (None, {"fields": ("provider", "billed_month", "status", "number")}),
        (
            "Amounts",
            {"fields": ("currency", "total", "credited", "paid", "amount_due")},
        ),
        ("Dates", {"fields": ("issued_on", "due_on", "created_at", "updated_at")}),
        ("Card collection", {"fields": ("charge_attempts", "next_charge_at")}),
        ("Decision", {"fields": DECISION_FIELDS}),
    )
    readonly_fields = ("billed_month", "total", "credited", "paid", "amount_due")

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(amount_due=selectors.AMOUNT_DUE)

    def get_urls(self):
        aging = path(
            "aging/",
            self.admin_site.admin_view(self.aging_view),
            name="billing_invoice_aging",
        )
        return [aging, *super().get_urls()]

    def review_summaries(self, request) -> list[tuple[str, str]]:
        drafts = selectors.drafts_pending()
        overdue = selectors.overdue_pending()
        lines = [
            (
                f"{drafts.count} draft{'s' if drafts.count != 1 else ''} to approve."
                if drafts.count
                else "No draft to approve.",
                "?queue=draft" if drafts.count else "",
            )
        ]
        if overdue.count:
            lines.append(
                (
                    f"{overdue.count} overdue, the oldest due since {overdue.oldest:%Y-%m-%d}.",
                    "?queue=overdue",
                )
            )
        return lines

    # --- Decisions -----------------------------------------------------------------------------

    def _one_only(self, request, queryset) -> bool:
        if queryset.count() == 1:
            return True
        self.message_user(
            request,
            "Choose exactly one invoice for this action. Nothing was changed.",
            messages.ERROR,
        )
        return False

    @decision_action("Approve the selected drafts (number, send, charge)", permission="review")
    def approve_invoices(self, request, queryset):
        return self.run_decision(
            request,
            queryset,
            title="Approve invoices",
            decide=_approve,
            form_class=FinanceReasonForm,
            reason_required=False,
            notify=False,
        )

    @decision_action("Void the selected invoices (final)", permission="review")
    def void_invoices(self, request, queryset):
        return self.run_decision(
            request,
            queryset,
            title="Void invoices",
            decide=_void,
            form_class=FinanceReasonForm,
            notify=False,
        )

    @decision_action("Mark the selected invoices uncollectible (write off)", permission="review")
    def write_off_invoices(self, request, queryset):
        return self.run_decision(
            request,
            queryset,
            title="Mark invoices uncollectible",
            decide=_write_off,
            form_class=FinanceReasonForm,
            notify=False,
        )

    @decision_action("Issue a credit note on the selected invoice", permission="review")
    def credit_invoice(self, request, queryset):
        if not self._one_only(request, queryset):
            return None
        return self.run_decision(
            request,
            queryset,
            title="Issue a credit note",
            decide=_credit,
            form_class=CreditNoteForm,
            notify=False,
        )

    @decision_action("Record a wire or check for the selected invoice", permission="review")
    def record_offline_payment(self, request, queryset):
        if not self._one_only(request, queryset):
            return None
        return self.run_decision(
            request,
            queryset,
            title="Record an offline payment",
            decide=_record_payment,
            form_class=OfflinePaymentForm,
            reason_required=False,
            notify=False,
        )

    @decision_action("Resend the selected invoices by e-mail", permission="review")
    def resend_invoices(self, request, queryset):
        return self.run_decision(
            request,
            queryset,
            title="Resend invoices",
            decide=_resend,
            form_class=NoReasonForm,
            reason_required=False,
            notify=False,
        )

    # Gated like the decisions: the export is finance's (every action of a review queue is).
    @admin.action(description="Export the selected invoices as CSV", permissions=["review"])
    def export_csv(self, request, queryset):
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="invoices.csv"'
        csv.writer(response).writerows(selectors.invoice_csv_rows(queryset))
        return response

    # --- The aging report ----------------------------------------------------------------------

    def aging_view(self, request):
        if not self.has_view_permission(request):
            raise PermissionDenied
        today = selectors.billing_today()
        aging = selectors.aging_report(today=today)
        chart = {
            "labels": [label for _, label, _ in selectors.aging_buckets(today)],
            "datasets": [
                {
                    "label": row.currency.upper(),
                    "data": [str(Decimal(b.amount_cents) / 100) for b in row.buckets],
                }
                for row in aging
            ],
        }
        context = {
            **self.admin_site.each_context(request),
            "title": "Accounts receivable aging",
            "opts": self.opts,
            "today": today,
            "aging": [_aging_display(row) for row in aging],
            "periods": [_period_display(row) for row in selectors.totals_by_period()],
            "chart": chart,
            "grace_days": settings.BILLING_GRACE_DAYS,
        }
        return TemplateResponse(request, "admin/billing/invoice/aging_report.html", context)

    # --- Columns --------------------------------------------------------------------------------

    @admin.display(description="number", ordering="number")
    def number_or_draft(self, obj: Invoice) -> str:
        return obj.number or f"(draft #{obj.pk})"

    @admin.display(description="month", ordering="period")
    def billed_month(self, obj: Invoice) -> str:
        return f"{obj.period:%Y-%m}"

    @admin.display(description="total", ordering="total_cents")
    def total(self, obj: Invoice) -> str:
        return money(obj.total_cents, obj.currency)

    @admin.display(description="credited")
    def credited(self, obj: Invoice) -> str:
        return money(obj.credited_cents, obj.currency)

    @admin.display(description="paid")
    def paid(self, obj: Invoice) -> str:
        return money(obj.paid_cents, obj.currency)

    @admin.display(description="amount due", ordering="amount_due")
    def amount_due(self, obj: Invoice) -> str:
        return money(obj.amount_due_cents, obj.currency)


def _aging_display(row: selectors.AgingRow) -> dict:
    return {
        "currency": row.currency.upper(),
        "buckets": [(b.label, b.count, money(b.amount_cents, row.currency)) for b in row.buckets],
        "past_due": (row.past_due_count, money(row.past_due_cents, row.currency)),
        "not_yet_due": (row.not_yet_due.count, money(row.not_yet_due.amount_cents, row.currency)),
    }


def _period_display(row: selectors.PeriodTotals) -> dict:
    return {
        "period": f"{row.period:%Y-%m}",
        "currency": row.currency.upper(),
        "invoices": row.invoices,
        "drafts": row.drafts,
        **{
            name: money(getattr(row, f"{name}_cents"), row.currency)
            for name in ("issued", "credited", "paid", "outstanding", "written_off")
        },
    }

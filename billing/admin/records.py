"""The rest of billing's admin: fee schedules (added, never changed), the reconciliation queue
(resolved with a note), and payments, credit notes, Stripe customers and webhook events
(read-only)."""

import json

from django.contrib import admin, messages
from django.db.models import Exists, F, OuterRef, Q
from django.http import HttpResponseRedirect
from django.utils.html import format_html

from accounts.admin import ReviewQueueMixin, pending_first
from accounts.admin_decisions import decision_action
from agreements.admin.common import PROVIDER_SEARCH
from billing.admin.forms import FeeScheduleForm, ResolutionForm, to_cents
from billing.constants import ReconciliationStatus
from billing.models import (
    BillingAccount,
    CreditNote,
    FeeSchedule,
    InvoiceLine,
    Payment,
    ReconciliationIssue,
    StripeEvent,
)
from billing.proration import money
from billing.services.reconciliation import reconciliation_resolve
from billing.services.schedules import fee_schedule_create
from core.admin import ReadOnlyAdminMixin, SafeChangeListMixin
from core.errors import DomainError

# --- Payments, credit notes, Stripe customers and events: read-only -------------------------


@admin.register(Payment)
class PaymentAdmin(SafeChangeListMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "created_at",
        "invoice",
        "provider",
        "method",
        "status",
        "amount",
        "attempt",
        "reference",
        "settled_at",
    )
    list_filter = ("method", "status")
    search_fields = (
        "invoice__number",
        "reference",
        "=stripe_payment_intent_id",
        *(f"invoice__{field}" for field in PROVIDER_SEARCH),
    )
    list_select_related = ("invoice__provider",)
    date_hierarchy = "created_at"
    ordering = ("-created_at", "-pk")
    fields = (
        "invoice",
        "method",
        "status",
        "amount",
        "currency",
        "attempt",
        "idempotency_key",
        "stripe_payment_intent_id",
        "reference",
        "failure_message",
        "recorded_by",
        "created_at",
        "settled_at",
    )
    readonly_fields = ("amount",)

    @admin.display(description="provider", ordering="invoice__provider__legal_name")
    def provider(self, obj: Payment):
        return obj.invoice.provider

    @admin.display(description="amount", ordering="amount_cents")
    def amount(self, obj: Payment) -> str:
        return money(obj.amount_cents, obj.currency)


@admin.register(CreditNote)
class CreditNoteAdmin(SafeChangeListMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("created_at", "invoice", "provider", "amount", "created_by")
    search_fields = (
        "invoice__number",
        "reason",
        *(f"invoice__{field}" for field in PROVIDER_SEARCH),
    )
    list_select_related = ("invoice__provider", "created_by")
    date_hierarchy = "created_at"
    ordering = ("-created_at", "-pk")
    fields = ("invoice", "amount", "reason", "created_by", "created_at")
    readonly_fields = ("amount",)

    @admin.display(description="provider", ordering="invoice__provider__legal_name")
    def provider(self, obj: CreditNote):
        return obj.invoice.provider

    @admin.display(description="amount", ordering="amount_cents")
    def amount(self, obj: CreditNote) -> str:
        return money(obj.amount_cents, obj.invoice.currency)


@admin.register(BillingAccount)
class BillingAccountAdmin(SafeChangeListMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    """Providers' Stripe customers and the card on file (brand and last four digits only)."""

    list_display = ("provider", "stripe_customer_id", "card", "updated_at")
    search_fields = ("=stripe_customer_id", *PROVIDER_SEARCH)
    list_select_related = ("provider",)
    ordering = ("provider__legal_name", "pk")
    fields = (
        "provider",
        "stripe_customer_id",
        "default_payment_method_id",
        "card",
        "created_at",
        "updated_at",
    )
    readonly_fields = ("card",)

    @admin.display(description="card on file")
    def card(self, obj: BillingAccount) -> str:
        if not obj.card_last4:
            return "none"
        expiry = (
            f", expires {obj.card_exp_month:02d}/{obj.card_exp_year}" if obj.card_exp_year else ""
        )
        return f"{obj.card_brand or 'card'} ending {obj.card_last4}{expiry}"


@admin.register(StripeEvent)
class StripeEventAdmin(SafeChangeListMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("received_at", "type", "event_id", "status", "processed_at")
    list_filter = ("status",)
    search_fields = ("=event_id", "type")
    date_hierarchy = "received_at"
    ordering = ("-received_at", "-pk")
    fields = (
        "event_id",
        "type",
        "status",
        "received_at",
        "processed_at",
        "error",
        "pretty_payload",
    )
    readonly_fields = ("pretty_payload",)

    @admin.display(description="payload")
    def pretty_payload(self, obj: StripeEvent):
        return format_html("<pre>{}</pre>", json.dumps(obj.payload, indent=2, sort_keys=True))


# --- Reconciliation -------------------------------------------------------------------------


def _resolve(issue: ReconciliationIssue, *, actor, reason: str):
    return reconciliation_resolve(issue=issue, actor=actor, resolution=reason)


@admin.register(ReconciliationIssue)
class ReconciliationIssueAdmin(
    ReviewQueueMixin, SafeChangeListMixin, ReadOnlyAdminMixin, admin.ModelAdmin
):
    """Differences between our records and Stripe's, found by the nightly reconciliation.
    Money is never changed here: finance investigates, acts through the invoice's actions (a
    credit note, a recorded payment) or in Stripe, then resolves the finding with a note."""

    review_permission = "billing.change_reconciliationissue"
    list_display = (
        "found_at",
        "kind",
        "invoice",
        "stripe_payment_intent_id",
        "status",
        "resolved_by",
        "resolved_at",
    )
    list_filter = ("status", "kind")
    search_fields = ("=stripe_payment_intent_id", "invoice__number", "detail")
    list_select_related = ("invoice", "resolved_by")
    date_hierarchy = "found_at"
    ordering = pending_first(
        pending=Q(status=ReconciliationStatus.OPEN),
        since="found_at",
        then=(F("resolved_at").desc(nulls_last=True), "-pk"),
    )
    actions = ("resolve_issues",)
    decision_links = {
        "resolve_issues": ("Resolve…", frozenset({ReconciliationStatus.OPEN})),
    }
    fields = (
        "kind",
        "invoice",
        "stripe_payment_intent_id",
        "detail",
        "status",
        "found_at",
        "resolved_by",
        "resolved_at",
        "resolution",
    )

    def review_summaries(self, request) -> list[tuple[str, str]]:
        pending = ReconciliationIssue.objects.filter(status=ReconciliationStatus.OPEN).count()
        if not pending:
            return [("No open finding.", "")]
        return [(f"{pending} open finding{'s' if pending != 1 else ''}.", "?status__exact=OPEN")]

    @decision_action("Resolve the selected findings", permission="review")
    def resolve_issues(self, request, queryset):
        return self.run_decision(
            request,
            queryset,
            title="Resolve reconciliation findings",
            decide=_resolve,
            form_class=ResolutionForm,
            notify=False,
        )


# --- Fee schedules ------------------------------------------------------------------------------


@admin.register(FeeSchedule)
class FeeScheduleAdmin(SafeChangeListMixin, admin.ModelAdmin):
    """Effective-dated fees per provider type. Rows are only ever added: a used row is never
    edited (a new row with a later effective date replaces it), and nothing is deleted."""

    form = FeeScheduleForm
    list_display = (
        "provider_type",
        "effective_from",
        "fee",
        "included_calls",
        "overage",
        "used",
        "created_by",
        "created_at",
    )
    list_filter = ("provider_type", "currency")
    list_select_related = ("created_by",)
    ordering = ("provider_type", "-effective_from")
    readonly_fields = ("fee", "overage", "used", "created_by", "created_at")

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def get_queryset(self, request):
        lines = InvoiceLine.objects.filter(fee_schedule=OuterRef("pk"))
        return super().get_queryset(request).annotate(used=Exists(lines))

    def get_fields(self, request, obj=None):
        if obj is None:
            return (
                "provider_type",
                "effective_from",
                "currency",
                "monthly_fee",
                "included_calls",
                "overage_per_1000",
            )
        return (
            "provider_type",
            "effective_from",
            "fee",
            "included_calls",
            "overage",
            "used",
            "created_by",
            "created_at",
        )

    def get_readonly_fields(self, request, obj=None):
        return () if obj is None else super().get_readonly_fields(request, obj)

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        # The admin's transaction is rolled back; the message says why the service refused.
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except DomainError as exc:
            self.message_user(request, exc.message, messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        saved = fee_schedule_create(
            provider_type=data["provider_type"],
            effective_from=data["effective_from"],
            monthly_fee_cents=to_cents(data["monthly_fee"]),
            currency=data["currency"],
            included_calls=data["included_calls"],
            overage_cents_per_1000=to_cents(data["overage_per_1000"]),
            actor=request.user,
        )
        # The admin goes on with `obj` (its log entry, the redirect): make it the saved row.
        for field in FeeSchedule._meta.concrete_fields:
            setattr(obj, field.attname, getattr(saved, field.attname))
        obj._state.adding, obj._state.db = False, saved._state.db

    @admin.display(description="used by invoices", boolean=True, ordering="used")
    def used(self, obj: FeeSchedule) -> bool:
        return obj.used

    @admin.display(description="monthly fee", ordering="monthly_fee_cents")
    def fee(self, obj: FeeSchedule) -> str:
        return money(obj.monthly_fee_cents, obj.currency)

    @admin.display(description="overage per 1,000 calls", ordering="overage_cents_per_1000")
    def overage(self, obj: FeeSchedule) -> str:
        return money(obj.overage_cents_per_1000, obj.currency)

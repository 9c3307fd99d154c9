"""Fee schedules, invoices (exactly one per provider and month), their lines, credit notes,
payments, Stripe customers and events, and reconciliation findings. Money is integer cents
plus an ISO 4217 currency code, everywhere."""

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from accounts.constants import ProviderType
from accounts.models import Provider
from billing.constants import (
    InvoiceStatus,
    LineKind,
    PaymentMethodKind,
    PaymentStatus,
    ReconciliationStatus,
    StripeEventStatus,
)

CURRENCY_CHOICES = [("usd", "US dollar")]


class FeeSchedule(models.Model):
    """The monthly fee of a provider type from a date on. Never edited once an invoice used it:
    a new row with a later effective date replaces it."""

    provider_type = models.CharField(max_length=20, choices=ProviderType.choices)
    effective_from = models.DateField()
    monthly_fee_cents = models.PositiveIntegerField()
    currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES, default="usd")
    included_calls = models.PositiveIntegerField(
        null=True, blank=True, help_text="Calls per month included in the fee; empty: no overage."
    )
    overage_cents_per_1000 = models.PositiveIntegerField(default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["provider_type", "-effective_from"]
        constraints = [
            models.UniqueConstraint(
                fields=["provider_type", "effective_from"], name="billing_fee_one_per_day"
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_provider_type_display()} from {self.effective_from}"


class BillingAccount(models.Model):
    """A provider's Stripe customer and its default card (shown, never stored in full)."""

    provider = models.OneToOneField(
        Provider, on_delete=models.PROTECT, related_name="billing_account"
    )
    stripe_customer_id = models.CharField(max_length=255, unique=True)
    default_payment_method_id = models.CharField(max_length=255, blank=True)
    card_brand = models.CharField(max_length=20, blank=True)
    card_last4 = models.CharField(max_length=4, blank=True)
    card_exp_month = models.PositiveSmallIntegerField(null=True, blank=True)
    card_exp_year = models.PositiveSmallIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.provider} ({self.stripe_customer_id})"


class InvoiceNumberSequence(models.Model):
    """The last invoice number of a year. Locked by the transaction that opens an invoice, so
    numbers are gapless: a rolled-back opening also rolls back its number."""

    year = models.PositiveSmallIntegerField(primary_key=True)
    last_number = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.year}: {self.last_number}"


class Invoice(models.Model):
    provider = models.ForeignKey(Provider, on_delete=models.PROTECT, related_name="invoices")
    # The billed month, as its first day.
    period = models.DateField()
    status = models.CharField(
        max_length=20, choices=InvoiceStatus.choices, default=InvoiceStatus.DRAFT
    )
    currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES, default="usd")
    total_cents = models.PositiveIntegerField(default=0)  # sum of the lines
    credited_cents = models.PositiveIntegerField(default=0)  # sum of the credit notes
    paid_cents = models.PositiveIntegerField(default=0)  # sum of succeeded payments
    number = models.CharField(max_length=20, unique=True, null=True, blank=True)
    issued_on = models.DateField(null=True, blank=True)
    due_on = models.DateField(null=True, blank=True)
    # Collection by card: set when a charge failed, cleared when paid.
    next_charge_at = models.DateTimeField(null=True, blank=True)
    charge_attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-period", "provider_id"]
        constraints = [
            # The exactly-once guarantee of the monthly run.
            models.UniqueConstraint(fields=["provider", "period"], name="billing_invoice_once"),
            models.CheckConstraint(
                condition=Q(period__day=1), name="billing_invoice_period_first_day"
            ),
            models.CheckConstraint(
                condition=Q(status=InvoiceStatus.DRAFT)
                | Q(status=InvoiceStatus.VOID)
                | (Q(number__isnull=False) & Q(issued_on__isnull=False) & Q(due_on__isnull=False)),
                name="billing_invoice_open_has_number",
            ),
            models.CheckConstraint(
                condition=Q(credited_cents__lte=F("total_cents")),
                name="billing_invoice_credit_within_total",
            ),
        ]
        indexes = [models.Index(fields=["status", "due_on"], name="billing_invoice_queue")]

    def __str__(self) -> str:
        return self.number or f"Draft {self.period:%Y-%m} #{self.pk}"

    @property
    def amount_due_cents(self) -> int:
        return max(self.total_cents - self.credited_cents - self.paid_cents, 0)


class InvoiceLine(models.Model):
    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="lines")
    kind = models.CharField(max_length=20, choices=LineKind.choices)
    description = models.CharField(max_length=300)
    # How the amount was computed, in words and numbers, shown to finance and the provider.
    computation = models.TextField()
    quantity = models.PositiveIntegerField(default=1)
    amount_cents = models.PositiveIntegerField()
    fee_schedule = models.ForeignKey(
        FeeSchedule, on_delete=models.PROTECT, null=True, blank=True, related_name="lines"
    )

    class Meta:
        ordering = ["invoice_id", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["invoice", "kind"], name="billing_line_one_per_kind")
        ]

    def __str__(self) -> str:
        return self.description


class CreditNote(models.Model):
    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="credit_notes")
    amount_cents = models.PositiveIntegerField()
    reason = models.TextField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(amount_cents__gt=0), name="billing_credit_positive")
        ]

    def __str__(self) -> str:
        return f"Credit {self.amount_cents} on {self.invoice}"


class Payment(models.Model):
    """A card charge attempt (one PaymentIntent) or an offline payment recorded by finance."""

    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="payments")
    method = models.CharField(max_length=10, choices=PaymentMethodKind.choices)
    status = models.CharField(
        max_length=10, choices=PaymentStatus.choices, default=PaymentStatus.PENDING
    )
    amount_cents = models.PositiveIntegerField()
    currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES, default="usd")
    # Card attempts are numbered per invoice; the idempotency key derives from (invoice, attempt).
    attempt = models.PositiveSmallIntegerField(null=True, blank=True)
    idempotency_key = models.CharField(max_length=100, unique=True, null=True, blank=True)
    stripe_payment_intent_id = models.CharField(max_length=255, unique=True, null=True, blank=True)
    reference = models.CharField(max_length=200, blank=True)  # wire/check reference
    failure_message = models.CharField(max_length=500, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    settled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["invoice_id", "created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["invoice", "attempt"],
                condition=Q(attempt__isnull=False),
                name="billing_payment_attempt_once",
            ),
            models.CheckConstraint(
                condition=Q(amount_cents__gt=0), name="billing_payment_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_method_display()} {self.amount_cents} ({self.status})"


class StripeEvent(models.Model):
    """A webhook event, stored under Stripe's unique id before it is processed."""

    event_id = models.CharField(max_length=255, unique=True)
    type = models.CharField(max_length=100)
    payload = models.JSONField()
    status = models.CharField(
        max_length=10, choices=StripeEventStatus.choices, default=StripeEventStatus.RECEIVED
    )
    error = models.TextField(blank=True)
    received_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at"]

    def __str__(self) -> str:
        return f"{self.type} {self.event_id}"


class ReconciliationIssue(models.Model):
    """A difference between our records and Stripe's, for finance to resolve by hand."""

    kind = models.CharField(max_length=40)
    invoice = models.ForeignKey(
        Invoice, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    stripe_payment_intent_id = models.CharField(max_length=255, blank=True)
    detail = models.TextField()
    status = models.CharField(
        max_length=10, choices=ReconciliationStatus.choices, default=ReconciliationStatus.OPEN
    )
    found_at = models.DateTimeField(auto_now_add=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolution = models.TextField(blank=True)

    class Meta:
        ordering = ["status", "-found_at"]
        constraints = [
            # The nightly job may find the same difference again: it is recorded once.
            models.UniqueConstraint(
                fields=["kind", "stripe_payment_intent_id", "invoice"],
                name="billing_reconciliation_once",
                nulls_distinct=False,
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind}: {self.detail[:60]}"

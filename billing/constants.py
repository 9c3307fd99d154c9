"""Billing vocabularies and the invoice state machine."""

from django.db import models


class InvoiceStatus(models.TextChoices):
    DRAFT = "DRAFT", "Draft"
    OPEN = "OPEN", "Open"
    PAID = "PAID", "Paid"
    VOID = "VOID", "Void"
    UNCOLLECTIBLE = "UNCOLLECTIBLE", "Uncollectible"


INVOICE_TRANSITIONS: dict[str, frozenset[str]] = {
    # Finance approves a draft (it opens, gets its number) or voids it.
    InvoiceStatus.DRAFT: frozenset({InvoiceStatus.OPEN, InvoiceStatus.VOID}),
    InvoiceStatus.OPEN: frozenset(
        {InvoiceStatus.PAID, InvoiceStatus.VOID, InvoiceStatus.UNCOLLECTIBLE}
    ),
    # Written off, then paid after all (a late wire): the money is recorded, not refused.
    InvoiceStatus.UNCOLLECTIBLE: frozenset({InvoiceStatus.PAID}),
    InvoiceStatus.PAID: frozenset(),
    InvoiceStatus.VOID: frozenset(),
}


class LineKind(models.TextChoices):
    FEE = "FEE", "Monthly access fee"
    OVERAGE = "OVERAGE", "API usage over the included calls"


class PaymentMethodKind(models.TextChoices):
    CARD = "CARD", "Card (Stripe)"
    WIRE = "WIRE", "Wire transfer"
    CHECK = "CHECK", "Check"


class PaymentStatus(models.TextChoices):
    PENDING = "PENDING", "Pending"
    SUCCEEDED = "SUCCEEDED", "Succeeded"
    FAILED = "FAILED", "Failed"


class StripeEventStatus(models.TextChoices):
    RECEIVED = "RECEIVED", "Received"
    PROCESSED = "PROCESSED", "Processed"
    IGNORED = "IGNORED", "Ignored (type not handled)"
    FAILED = "FAILED", "Failed"


class ReconciliationStatus(models.TextChoices):
    OPEN = "OPEN", "Open"
    RESOLVED = "RESOLVED", "Resolved"

"""The forms of finance's admin pages: the reason pages of the decisions and a fee schedule
row, amounts typed in dollars and handed to the services in cents."""

from decimal import Decimal

from django import forms

from accounts.admin_decisions import REASON_MAX_LENGTH, DecisionForm
from billing.models import FeeSchedule
from billing.services.invoices import OFFLINE_METHODS, REFERENCE_MAX_LENGTH

CENT = Decimal("0.01")
MAX_AMOUNT = Decimal("21474836.47")  # the most a PositiveIntegerField of cents holds


def to_cents(amount: Decimal) -> int:
    return int((amount * 100).to_integral_value())


def amount_field(label: str, help_text: str) -> forms.DecimalField:
    return forms.DecimalField(
        label=label,
        min_value=CENT,
        max_value=MAX_AMOUNT,
        decimal_places=2,
        help_text=help_text,
        widget=forms.NumberInput(attrs={"step": "0.01", "inputmode": "decimal"}),
    )


# --- Reason pages -------------------------------------------------------------------------------


class NoReasonForm(DecisionForm):
    """A confirmation page without a reason (the service takes none)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        del self.fields["reason"]


class FinanceReasonForm(DecisionForm):
    reason = forms.CharField(
        label="Reason",
        widget=forms.Textarea(attrs={"rows": 3, "cols": 80}),
        max_length=REASON_MAX_LENGTH,
        help_text="Recorded on the invoice and in the audit log.",
    )


class CreditNoteForm(FinanceReasonForm):
    amount = amount_field(
        "Amount (USD)", "At most what is still due on the invoice; a credit of it all settles it."
    )
    field_order = ["amount", "reason"]


class OfflinePaymentForm(NoReasonForm):
    method = forms.ChoiceField(
        label="Received by",
        choices=[(kind.value, kind.label) for kind in OFFLINE_METHODS],
    )
    amount = amount_field("Amount (USD)", "What arrived, at most the amount still due.")
    reference = forms.CharField(
        label="Reference",
        max_length=REFERENCE_MAX_LENGTH,
        help_text="The wire's bank reference or the check number.",
    )


class ResolutionForm(DecisionForm):
    reason = forms.CharField(
        label="Resolution",
        widget=forms.Textarea(attrs={"rows": 3, "cols": 80}),
        max_length=REASON_MAX_LENGTH,
        help_text="What was found and done (a refund, a payment recorded, nothing to do). "
        "Recorded on the finding and in the audit log.",
    )


class FeeScheduleForm(forms.ModelForm):
    """A new fee schedule row, in dollars; saved through fee_schedule_create (audited)."""

    monthly_fee = forms.DecimalField(
        label="Monthly fee (USD)",
        min_value=Decimal(0),
        max_value=MAX_AMOUNT,
        decimal_places=2,
        help_text="0 for a free provider type. Prorated by active days.",
    )
    overage_per_1000 = forms.DecimalField(
        label="Overage per 1,000 calls (USD)",
        min_value=Decimal(0),
        max_value=MAX_AMOUNT,
        decimal_places=2,
        initial=Decimal(0),
        help_text="Charged for the calls beyond the included ones.",
    )

    class Meta:
        model = FeeSchedule
        fields = ("provider_type", "effective_from", "currency", "included_calls")

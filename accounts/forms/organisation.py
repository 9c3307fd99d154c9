"""The organisation form. It validates shapes; the service (provider_create) decides."""

from django import forms

from accounts.constants import ProviderType
from accounts.forms.uswds import UswdsForm

PROVIDER_TYPE_HELP = {
    ProviderType.SHIPPER: (
        "You mail parcels under your own Mailer IDs and read their tracking data. Free."
    ),
    ProviderType.PLATFORM: (
        "You print labels or consolidate for shippers and read the Mailer IDs they authorize. Free."
    ),
    ProviderType.SERVICE_PROVIDER: (
        "You analyse tracking data for others (analytics, visibility, claims). Requires the "
        "signed IP agreement and a monthly access fee."
    ),
}


class ProviderTypeSelect(forms.RadioSelect):
    option_template_name = "accounts/widgets/provider_type_option.html"


class OrganisationForm(UswdsForm):
    legal_name = forms.CharField(label="Legal name", max_length=200)
    dba_name = forms.CharField(label="Doing business as (optional)", max_length=200, required=False)
    crid = forms.CharField(
        label="USPS CRID (optional)",
        max_length=18,
        required=False,
        help_text="Your Customer Registration ID: 2 to 18 digits, from the USPS Business Portal.",
    )
    provider_type = forms.ChoiceField(
        label="What kind of organisation are you?",
        choices=ProviderType.choices,
        widget=ProviderTypeSelect,
    )
    address_line1 = forms.CharField(label="Street address", max_length=200)
    address_line2 = forms.CharField(
        label="Address line 2 (optional)", max_length=200, required=False
    )
    city = forms.CharField(max_length=100)
    state = forms.CharField(label="State", max_length=2, help_text="Two letters, e.g. DC.")
    zip_code = forms.CharField(
        label="ZIP code", max_length=10, help_text="e.g. 20260 or 20260-0004."
    )
    contact_email = forms.EmailField(label="Contact e-mail")
    contact_phone = forms.CharField(label="Contact phone", max_length=32)
    submission = forms.CharField(widget=forms.HiddenInput)

"""The portal's extract request form. It checks the shape of each field; the service checks
the rules (clean_request) and the access decision, and its refusals land on these fields."""

from django import forms
from django.conf import settings

from accounts.forms.uswds import UswdsForm
from tracking.constants import ExtractFormat

DATE_WIDGET = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class ExtractRequestForm(UswdsForm):
    mids = forms.MultipleChoiceField(
        label="Mailer IDs you may read",
        choices=(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    other_mids = forms.CharField(
        label="Other MIDs",
        required=False,
        max_length=2000,
        help_text="Separated by commas or spaces. Each is checked against your access, as the "
        "ones above are.",
    )
    start_date = forms.DateField(
        label="First day (UTC)", widget=DATE_WIDGET, help_text="Included: scans from 00:00 UTC."
    )
    end_date = forms.DateField(
        label="Last day (UTC)",
        widget=DATE_WIDGET,
    )
    file_format = forms.ChoiceField(
        label="Format", choices=ExtractFormat.choices, initial=ExtractFormat.NDJSON
    )
    submission = forms.CharField(widget=forms.HiddenInput)

    def __init__(self, *args, mids: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["mids"].choices = [(mid, mid) for mid in mids]
        self.fields["end_date"].help_text = (
            f"Included. Today at the latest; a range covers at most {settings.EXTRACT_MAX_DAYS} "
            "days."
        )

    def chosen_mids(self) -> list[str]:
        typed = self.cleaned_data.get("other_mids", "").replace(",", " ").split()
        return [*self.cleaned_data.get("mids", []), *typed]

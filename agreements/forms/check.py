from django import forms

from accounts.forms.uswds import UswdsForm


class TrackingNumberCheckForm(UswdsForm):
    number = forms.CharField(
        label="Tracking number",
        max_length=64,
        help_text="As printed on the label or scanned, e.g. 9400 1000 0000 0000 0000 00.",
    )

"""Forms of the portal's API page: create an app, revoke one, rotate a secret, try the API."""

from django import forms

from accounts.forms.uswds import UswdsForm
from tracking.constants import DEFAULT_APP_SCOPES, SCOPES
from tracking.models import ApiApp

EXPAND_CHOICES = [("SUMMARY", "Summary"), ("DETAIL", "Detail (every scan event)")]


class AppCreateForm(UswdsForm):
    name = forms.CharField(
        label="App name",
        max_length=100,
        help_text="For your team: for example the system that will call the API.",
    )
    scopes = forms.MultipleChoiceField(
        label="What the app may do",
        choices=list(SCOPES.items()),
        initial=list(DEFAULT_APP_SCOPES),
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text="With none chosen the app gets the tracking scope.",
    )
    submission = forms.CharField(widget=forms.HiddenInput)

    def clean_scopes(self) -> tuple[str, ...]:
        return tuple(self.cleaned_data["scopes"]) or DEFAULT_APP_SCOPES


class OneTimeForm(UswdsForm):
    """A confirmation with nothing to fill in but the one-time token against double submits."""

    submission = forms.CharField(widget=forms.HiddenInput)


class AppRevokeForm(UswdsForm):
    # No one-time token: revoking twice is refused by the app's status, never done twice.
    reason = forms.CharField(
        label="Reason",
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Kept in the audit log: for example “replaced by a new app” or “key leaked”.",
    )


class TryItForm(UswdsForm):
    """Choices come from the provider's own active apps (passed in), so an app id of another
    provider is just an invalid choice."""

    app = forms.ChoiceField(label="App", choices=())
    tracking_number = forms.CharField(
        label="Tracking number",
        max_length=64,
        help_text="The tracking number (PIC), or the whole barcode with its 420 + ZIP prefix.",
    )
    expand = forms.ChoiceField(label="Answer", choices=EXPAND_CHOICES, initial="DETAIL")

    def __init__(self, *args, apps: list[ApiApp], **kwargs):
        super().__init__(*args, **kwargs)
        self.apps = {str(app.pk): app for app in apps}
        self.fields["app"].choices = [(pk, app.name) for pk, app in self.apps.items()]

    def clean_app(self) -> ApiApp:
        return self.apps[self.cleaned_data["app"]]

    def clean_tracking_number(self) -> str:
        return self.cleaned_data["tracking_number"].strip()

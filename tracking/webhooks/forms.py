"""Portal forms of the webhooks pages. They check the form's shape only; the services check
the meaning (MID, URL and SSRF, secret, access decision) and their refusals land on these
fields (PortalView.form_error), named as the services name them."""

from django import forms

from accounts.forms.uswds import UswdsForm
from tracking.constants import SubscriptionStatus, TrackingEventType
from tracking.webhooks.inputs import MAX_ADMIN_EMAILS


class SubscriptionCreateForm(UswdsForm):
    mid = forms.CharField(
        label="Mailer ID (MID)",
        required=False,
        max_length=9,
        help_text="Every package of this MID: 6 or 9 digits. Or give one tracking number below.",
    )
    tracking_number = forms.CharField(
        label="Tracking number",
        required=False,
        max_length=64,
        help_text="One package only. Leave empty when you give a MID.",
    )
    event_types = forms.MultipleChoiceField(
        label="Which updates",
        choices=TrackingEventType.choices,
        initial=[TrackingEventType.ALL_UPDATES],
        widget=forms.CheckboxSelectMultiple,
    )
    listener_url = forms.CharField(
        label="Listener URL",
        max_length=2000,  # the service says exactly what is wrong beyond 200
        help_text="Your https endpoint; it must answer 2xx to a POST.",
    )
    secret = forms.CharField(
        label="Secret (optional)",
        required=False,
        max_length=200,
        strip=False,
        help_text="Exactly 32 characters, used to sign each notification (X-HMAC). Leave it "
        "empty and we generate one and show it once.",
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
    )
    admin_emails = forms.CharField(
        label="Notice e-mails",
        max_length=200,
        help_text=f"1 to {MAX_ADMIN_EMAILS} addresses, separated by commas, told when the "
        "subscription is suspended.",
    )
    submission = forms.CharField(widget=forms.HiddenInput)

    def clean_admin_emails(self) -> list[str]:
        return [
            part.strip() for part in self.cleaned_data["admin_emails"].split(",") if part.strip()
        ]


class SubscriptionStatusForm(UswdsForm):
    status = forms.ChoiceField(
        choices=[
            (SubscriptionStatus.ENABLED, "Enable"),
            (SubscriptionStatus.DISABLED, "Disable"),
        ]
    )


class OneTimeForm(UswdsForm):
    submission = forms.CharField(widget=forms.HiddenInput)

"""Forms of the billing pages: saving the card Stripe.js confirmed, and "pay now"."""

import re

from django import forms

from accounts.forms.uswds import UswdsForm

# Stripe ids: a prefix, an underscore and letters, digits or underscores.
PAYMENT_METHOD_ID = re.compile(r"^pm_\w{1,200}$", re.ASCII)


class CardSavedForm(UswdsForm):
    """Posted by billing/static/billing/card-setup.js once Stripe.js confirmed the SetupIntent:
    the payment method it created. The card number itself never reaches this server."""

    payment_method_id = forms.CharField(widget=forms.HiddenInput, max_length=255)
    submission = forms.CharField(widget=forms.HiddenInput)

    def clean_payment_method_id(self) -> str:
        value = self.cleaned_data["payment_method_id"].strip()
        if not PAYMENT_METHOD_ID.match(value):
            raise forms.ValidationError("The card form sent no card. Enter the card again.")
        return value


class PayNowForm(UswdsForm):
    """A confirmation with nothing to fill in but the one-time token: a second click must not
    start a second charge attempt."""

    submission = forms.CharField(widget=forms.HiddenInput)

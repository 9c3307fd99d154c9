"""Forms of the "Who can read my MIDs" page: grant access (and confirm it), and the reason for a
decision."""

from django import forms

from accounts.forms.uswds import UswdsForm


class ConsentGrantForm(UswdsForm):
    grantee = forms.CharField(
        label="Provider's CRID or exact legal name",
        max_length=200,
        help_text="Ask the provider for the CRID or legal name it registered with on this portal.",
    )
    mid = forms.ChoiceField(label="Mailer ID it may read", choices=())
    submission = forms.CharField(widget=forms.HiddenInput)

    def __init__(self, *args, mids: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["mid"].choices = [(mid, mid) for mid in mids]


class ConsentGrantConfirmForm(ConsentGrantForm):
    """What the confirmation page posts: the grant form's fields, as the user typed them (to show
    them again should the grant be refused), and the id of the provider it showed. That id is
    checked by agreements.selectors.mids.consent_grantee_get, never trusted."""

    grantee_id = forms.CharField(widget=forms.HiddenInput, required=False)


class ConsentReasonForm(UswdsForm):
    reason = forms.CharField(
        label="Reason",
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="The provider sees this reason on its Mailer IDs page.",
    )

"""The MID claim form. It checks shapes and keeps what was typed; mid_link_request decides
(including what the letter really is: the form only passes the file on)."""

from django import forms

from accounts.forms.uswds import UswdsForm
from agreements.constants import MidRelation
from core.tracking_numbers import is_valid_mid

MID_HELP = (
    "6 digits starting with 0 to 8 (USPS gives these to high-volume mailers), or 9 digits "
    "starting with 9. Find it in the USPS Business Customer Gateway, or in your tracking "
    "numbers right after their first 5 digits."
)

RELATION_HELP = {
    MidRelation.OWNED: (
        "USPS assigned this MID to your organisation. Postal staff check it against the USPS "
        "Business Customer Gateway record."
    ),
    MidRelation.AUTHORIZED_BY_OWNER: (
        "Another company owns the MID and lets you read its tracking data. If that owner has "
        "verified the MID on this portal, send no letter: your request goes to them to approve. "
        "Otherwise give the owner's name and CRID and upload their signed letter of "
        "authorization for postal staff to check."
    ),
}


class RelationSelect(forms.RadioSelect):
    option_template_name = "agreements/widgets/relation_option.html"

    def create_option(self, name, value, label, selected, index, subindex=None, attrs=None):
        option = super().create_option(name, value, label, selected, index, subindex, attrs)
        option["description"] = RELATION_HELP.get(value, "")
        return option


class MidClaimForm(UswdsForm):
    mid = forms.CharField(
        label="Mailer ID (MID)",
        max_length=20,
        help_text=MID_HELP,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )
    relation = forms.ChoiceField(
        label="How may your organisation read this MID?",
        choices=MidRelation.choices,
        widget=RelationSelect,
        initial=MidRelation.OWNED,
    )
    owner_name = forms.CharField(
        label="Owner's name (authorized MIDs)",
        max_length=200,
        required=False,
        help_text="The company the MID belongs to, as on its letter of authorization.",
    )
    owner_crid = forms.CharField(
        label="Owner's CRID (authorized MIDs)",
        max_length=18,
        required=False,
        help_text="The owner's USPS Customer Registration ID: 2 to 18 digits.",
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )
    evidence = forms.FileField(
        label="Letter of authorization (authorized MIDs)",
        required=False,
        help_text=(
            "PDF, PNG or JPEG, at most 5 MB, signed by the owner. If the form comes back with an "
            "error, choose the file again."
        ),
        widget=forms.FileInput(attrs={"accept": ".pdf,.png,.jpg,.jpeg"}),
    )
    submission = forms.CharField(widget=forms.HiddenInput)

    def clean_mid(self) -> str:
        mid = "".join(self.cleaned_data["mid"].split())  # "901 234 567" is fine
        if not is_valid_mid(mid):
            raise forms.ValidationError(
                "A Mailer ID is 6 digits starting with 0 to 8, or 9 digits starting with 9."
            )
        return mid

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("relation") == MidRelation.OWNED:
            # Owner details belong to authorized claims only.
            cleaned.update(owner_name="", owner_crid="", evidence=None)
        return cleaned

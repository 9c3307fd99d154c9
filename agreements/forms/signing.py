"""Signing the IP agreement. The form checks shapes and says which schedule line is wrong;
`agreement_sign` decides (and re-checks everything)."""

from django import forms

from accounts.forms.uswds import UswdsForm
from accounts.models import Provider
from agreements.services.signatures import MAX_JUSTIFICATION_LENGTH, MAX_SCHEDULE_LINES
from core.tracking_numbers import is_valid_mid


def parse_schedule(text: str) -> tuple[list[tuple[str, str]], list[str]]:
    """`MID, justification` per line (blank lines ignored) -> (lines, errors naming the line)."""
    lines: list[tuple[str, str]] = []
    errors: list[str] = []
    seen: dict[str, int] = {}
    numbered = [(n, raw.strip()) for n, raw in enumerate(text.splitlines(), start=1)]
    numbered = [(n, raw) for n, raw in numbered if raw]
    if len(numbered) > MAX_SCHEDULE_LINES:
        return [], [f"At most {MAX_SCHEDULE_LINES} schedule lines can be sent with one signature."]
    for number, raw in numbered:
        mid, comma, justification = (part.strip() for part in raw.partition(","))
        if not is_valid_mid(mid):
            errors.append(
                f"Line {number}: “{mid[:20]}” is not a Mailer ID. Use 6 digits starting 0-8, or 9 "
                "digits starting with 9, then a comma and the justification."
            )
            continue
        if mid in seen:
            errors.append(f"Line {number}: MID {mid} is already on line {seen[mid]}.")
            continue
        seen[mid] = number
        if not comma or not justification:
            errors.append(
                f"Line {number}: say why you need MID {mid}, after a comma "
                f"(for example “{mid}, claims analytics for its owner”)."
            )
            continue
        if len(justification) > MAX_JUSTIFICATION_LENGTH:
            errors.append(
                f"Line {number}: keep the justification under {MAX_JUSTIFICATION_LENGTH} "
                f"characters (it has {len(justification)})."
            )
            continue
        lines.append((mid, justification))
    return lines, errors


class AgreementSigningForm(UswdsForm):
    signer_name = forms.CharField(
        label="Your full name",
        max_length=200,
        error_messages={"required": "Type your full name as it should appear on the agreement."},
    )
    signer_title = forms.CharField(
        label="Your title",
        max_length=200,
        help_text="Your position in the organisation, for example Chief Executive Officer.",
        error_messages={"required": "Type your title, for example Chief Executive Officer."},
    )
    attested_authority = forms.BooleanField(required=True)
    schedule = forms.CharField(
        label="Schedule lines (optional)",
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=(
            "Mailer IDs of third parties that you neither own nor hold an authorization for, "
            "one per line: the MID, a comma, then why you need it. Postal staff review each "
            "line. Example: 901234567, claims analytics for Acme Shipping Co."
        ),
    )
    # The SHA-256 of the exact text shown on the page; agreement_sign refuses a mismatch.
    text_sha256 = forms.CharField(widget=forms.HiddenInput, required=False)
    submission = forms.CharField(widget=forms.HiddenInput, max_length=64)

    def __init__(self, *args, provider: Provider, **kwargs):
        super().__init__(*args, **kwargs)
        field = self.fields["attested_authority"]
        field.label = f"I am authorized to bind {provider.legal_name} to this agreement"
        field.error_messages["required"] = (
            f"Tick this box to confirm you are authorized to bind {provider.legal_name}."
        )

    def clean_schedule(self) -> list[tuple[str, str]]:
        lines, errors = parse_schedule(self.cleaned_data["schedule"])
        if errors:
            raise forms.ValidationError(errors)
        return lines

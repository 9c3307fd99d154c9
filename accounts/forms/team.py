"""Team forms. They validate shapes; the services (invitation_create, membership_change_role)
decide who may do what."""

from django import forms

from accounts.constants import MembershipRole
from accounts.forms.uswds import UswdsForm

ROLE_HELP = {
    MembershipRole.OWNER: "everything, including managing other owners",
    MembershipRole.ADMIN: "manages members, signs agreements, claims Mailer IDs",
    MembershipRole.BILLING: "sees invoices and manages payment methods",
    MembershipRole.DEVELOPER: "manages API credentials",
}


def _role_choices(roles: list[str]) -> list[tuple[str, str]]:
    return [(role, MembershipRole(role).label) for role in roles]


class InviteForm(UswdsForm):
    email = forms.EmailField(
        label="E-mail address",
        max_length=254,
        help_text="They accept with a link sent to this address, signed in with it.",
    )
    role = forms.ChoiceField(label="Role")
    submission = forms.CharField(widget=forms.HiddenInput)

    def __init__(self, *args, roles: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["role"].choices = _role_choices(roles)
        role = self.fields["role"]
        role.help_text = "; ".join(f"{MembershipRole(r).label}: {ROLE_HELP[r]}" for r in roles)
        # Set after the USWDS mixin ran, so point the select at the hint here (portal/field.html
        # renders it as id_role-hint; Django's own default id would point at nothing).
        if self.auto_id:
            role.widget.attrs["aria-describedby"] = f"{self.auto_id % 'role'}-hint"


class RoleChangeForm(UswdsForm):
    role = forms.ChoiceField(label="New role")

    def __init__(self, *args, roles: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["role"].choices = _role_choices(roles)

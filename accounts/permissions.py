"""What each membership role may do in the portal: the one table every view asks.

Views never compare roles themselves; they name a Permission and `role_can` answers.
"""

from django.db import models

from accounts.constants import MembershipRole


class Permission(models.TextChoices):
    VIEW = "VIEW", "see the provider's pages"
    MANAGE_MEMBERS = "MANAGE_MEMBERS", "invite people, change roles and remove members"
    SIGN_AGREEMENTS = "SIGN_AGREEMENTS", "sign the IP agreement"
    CLAIM_MIDS = "CLAIM_MIDS", "claim Mailer IDs"
    MANAGE_CONSENTS = "MANAGE_CONSENTS", "decide who may read the provider's Mailer IDs"
    VIEW_BILLING = "VIEW_BILLING", "see invoices"
    MANAGE_PAYMENT_METHODS = "MANAGE_PAYMENT_METHODS", "add and remove payment methods"
    MANAGE_API_CREDENTIALS = "MANAGE_API_CREDENTIALS", "create and revoke API credentials"
    REQUEST_EXTRACTS = "REQUEST_EXTRACTS", "request and download scan event extracts"


_ADMINISTRATION = frozenset(
    {
        Permission.VIEW,
        Permission.MANAGE_MEMBERS,
        Permission.SIGN_AGREEMENTS,
        Permission.CLAIM_MIDS,
        Permission.MANAGE_CONSENTS,
        Permission.VIEW_BILLING,
        Permission.MANAGE_PAYMENT_METHODS,
        Permission.MANAGE_API_CREDENTIALS,
        Permission.REQUEST_EXTRACTS,
    }
)

ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    MembershipRole.OWNER: _ADMINISTRATION,
    MembershipRole.ADMIN: _ADMINISTRATION,
    MembershipRole.BILLING: frozenset(
        {Permission.VIEW, Permission.VIEW_BILLING, Permission.MANAGE_PAYMENT_METHODS}
    ),
    MembershipRole.DEVELOPER: frozenset(
        {Permission.VIEW, Permission.MANAGE_API_CREDENTIALS, Permission.REQUEST_EXTRACTS}
    ),
}


def role_can(role: str, permission: str) -> bool:
    """True when a member with `role` holds `permission`. Unknown roles hold nothing."""
    return permission in ROLE_PERMISSIONS.get(role, frozenset())


def role_can_manage_role(actor_role: str, role: str) -> bool:
    """True when a member with `actor_role` may grant `role`, or change or remove a member who
    holds it: managing members is needed, and only an OWNER deals with OWNERs."""
    if not role_can(actor_role, Permission.MANAGE_MEMBERS):
        return False
    return role != MembershipRole.OWNER or actor_role == MembershipRole.OWNER


def roles_grantable_by(actor_role: str) -> list[str]:
    """The roles a member with `actor_role` may invite people with or give to members."""
    return [role for role in MembershipRole.values if role_can_manage_role(actor_role, role)]

"""Writes for users, providers, memberships and invitations. Every status change is a transition
(core.transitions): locked, checked against its table, saved, audited."""

from accounts.services.providers import (
    provider_approve,
    provider_billing_hold_release,
    provider_billing_hold_set,
    provider_close,
    provider_create,
    provider_reinstate,
    provider_suspend,
)
from accounts.services.team import (
    invitation_accept,
    invitation_create,
    invitation_expire,
    invitation_revoke,
    membership_add,
    membership_change_role,
    membership_remove,
)

__all__ = [
    "invitation_accept",
    "invitation_create",
    "invitation_expire",
    "invitation_revoke",
    "membership_add",
    "membership_change_role",
    "membership_remove",
    "provider_approve",
    "provider_billing_hold_release",
    "provider_billing_hold_set",
    "provider_close",
    "provider_create",
    "provider_reinstate",
    "provider_suspend",
]

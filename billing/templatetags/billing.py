"""Template helpers of the billing pages: money in currency units, and whether the active
member may see billing (the side navigation's "Billing" link)."""

from django import template

from accounts.permissions import Permission
from billing.proration import money as money_text

register = template.Library()


# The template filter and Python code share billing.proration.money.
format_money = money_text


@register.filter
def money(cents, currency: str = "usd") -> str:
    if cents is None or cents == "":
        return ""
    return money_text(int(cents), currency or "usd")


@register.filter
def sees_billing(portal) -> bool:
    """True when the active membership's role holds VIEW_BILLING (request.portal.can)."""
    return bool(portal) and portal.can(Permission.VIEW_BILLING)

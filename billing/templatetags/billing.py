"""Template helpers of the billing pages: money in currency units, and whether the active
member may see billing (the side navigation's "Billing" link)."""

from decimal import Decimal

from django import template

from accounts.permissions import Permission

register = template.Library()


def format_money(cents: int, currency: str = "usd") -> str:
    """Integer cents as "$1,234.50" (US dollars), "-$10.00" or "1,234.50 EUR": exact, never
    a float."""
    sign = "-" if cents < 0 else ""
    units = f"{Decimal(abs(cents)) / 100:,.2f}"
    if currency.lower() == "usd":
        return f"{sign}${units}"
    return f"{sign}{units} {currency.upper()}"


@register.filter
def money(cents, currency: str = "usd") -> str:
    if cents is None or cents == "":
        return ""
    return format_money(int(cents), currency or "usd")


@register.filter
def sees_billing(portal) -> bool:
    """True when the active membership's role holds VIEW_BILLING (request.portal.can)."""
    return bool(portal) and portal.can(Permission.VIEW_BILLING)

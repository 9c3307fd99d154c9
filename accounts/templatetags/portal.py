"""Template helpers for portal pages: USWDS form fields and plain-language labels."""

from django import template

from accounts.forms.organisation import PROVIDER_TYPE_HELP

register = template.Library()


@register.filter
def provider_type_help(value: str) -> str:
    return PROVIDER_TYPE_HELP.get(value, "")


@register.inclusion_tag("portal/field.html")
def field(bound_field, hint: str = ""):
    """One form field the USWDS way: label, hint, error message, input with error styling."""
    return {"field": bound_field, "hint": hint or bound_field.help_text}

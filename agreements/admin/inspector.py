"""The access inspector: a staff page asking the access decision for a provider and a tracking
number or a Mailer ID, and showing the answer with its reasons and the record that grants it.

It asks `agreements.decision.decide` / `decide_for_number`, the functions the tracking API
calls, so staff see exactly what the API would answer now (a cached answer included). It shows
the present only: past access is in the audit log (docs/access-decision.md).

Mounted by config/urls.py at /admin/inspector/ through `admin.site.admin_view`, so it asks for
what the admin asks (active staff, a verified second factor); it also needs
`agreements.view_midlink` (403 otherwise).
"""

import json
import re

from django import forms
from django.contrib import admin
from django.contrib.admin.widgets import AutocompleteSelect
from django.core.exceptions import ObjectDoesNotExist, PermissionDenied, ValidationError
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, reverse
from django.views import View

from accounts.models import Provider
from agreements.decision import Decision, decide, decide_for_number
from agreements.models import MidLink
from agreements.selectors import decision_basis_record

INSPECTOR_PERMISSION = "agreements.view_midlink"
FIELDS = ("provider", "tracking_number", "mid")
# What a tracking number or MID can be typed with: ASCII letters (S10 numbers), digits, spaces
# and hyphens. Anything else is refused on the form; what is left is for the decision to judge
# (a wrong check digit or an ambiguous barcode is its answer to show, as the API would).
TYPED_NUMBER = re.compile(r"[A-Za-z0-9 \-]+")
TYPED_MID = re.compile(r"[0-9 ]+")
MAX_NUMBER_LENGTH = 64  # core.tracking_numbers.MAX_RAW_LENGTH: the parser refuses longer input


class ProviderAutocomplete(AutocompleteSelect):
    """The admin's provider autocomplete (ProviderAdmin's search: name, DBA, CRID, exact MID).

    Re-rendering a refused choice must not query with it: Django filters `pk__in=[value]`, and a
    value that is no id at all ("abc") would raise there.
    """

    def optgroups(self, name, value, attr=None):
        pk = Provider._meta.pk
        ids = []
        for item in value:
            try:
                pk.run_validators(pk.to_python(item))
            except ValidationError:
                continue
            ids.append(item)
        return super().optgroups(name, ids, attr)


class InspectorForm(forms.Form):
    provider = forms.ModelChoiceField(
        queryset=Provider.objects.all(),
        error_messages={
            "required": "Choose the provider whose access you want to check.",
            "invalid_choice": "No provider has this id.",
        },
        help_text="Search by legal name, DBA name, CRID or an exact MID.",
    )
    tracking_number = forms.CharField(
        required=False,
        max_length=MAX_NUMBER_LENGTH,
        widget=forms.TextInput(attrs={"class": "vTextField", "autocomplete": "off"}),
        help_text="As the API would receive it: IMpb (with or without 420 + ZIP), legacy or S10.",
    )
    mid = forms.CharField(
        label="Or a Mailer ID",
        required=False,
        max_length=20,
        widget=forms.TextInput(attrs={"autocomplete": "off", "inputmode": "numeric"}),
        help_text="6 digits starting 0-8, or 9 digits starting 9.",
    )

    def __init__(self, *args, admin_site, **kwargs):
        super().__init__(*args, **kwargs)
        choice = self.fields["provider"]
        widget = ProviderAutocomplete(
            MidLink._meta.get_field("provider"), admin_site, attrs={"style": "width: 32em"}
        )
        widget.choices, widget.is_required = choice.choices, choice.required
        choice.widget = widget

    def clean_tracking_number(self) -> str:
        value = self.cleaned_data["tracking_number"]
        if value and not TYPED_NUMBER.fullmatch(value):
            raise ValidationError(
                "A tracking number has only letters, digits, spaces and hyphens.", code="junk"
            )
        return value

    def clean_mid(self) -> str:
        value = self.cleaned_data["mid"]
        if value and not TYPED_MID.fullmatch(value):
            raise ValidationError("A Mailer ID has only digits.", code="junk")
        return value.replace(" ", "")

    def clean(self):
        cleaned = super().clean()
        number, mid = cleaned.get("tracking_number"), cleaned.get("mid")
        if "tracking_number" in self.errors or "mid" in self.errors:
            return cleaned
        if number and mid:
            raise ValidationError("Give a tracking number or a Mailer ID, not both.")
        if not number and not mid:
            raise ValidationError("Give a tracking number or a Mailer ID.")
        return cleaned


def _admin_url(record, user) -> str | None:
    """The record's admin page, when the user may open it."""
    opts = record._meta
    if not user.has_perm(f"{opts.app_label}.view_{opts.model_name}"):
        return None
    try:
        return reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[record.pk])
    except NoReverseMatch:
        return None


class AccessInspectorView(View):
    template_name = "admin/portal/inspector.html"
    admin_site = admin.site

    def get(self, request):
        if not request.user.has_perm(INSPECTOR_PERMISSION):
            raise PermissionDenied("The access inspector needs the permission to view MID links.")
        bound = any(name in request.GET for name in FIELDS)
        form = InspectorForm(request.GET if bound else None, admin_site=self.admin_site)
        context = {
            **self.admin_site.each_context(request),
            "title": "Access inspector",
            "form": form,
            "media": form.media,
        }
        if bound and form.is_valid():
            context |= self._inspect(request, **form.cleaned_data)
        return TemplateResponse(request, self.template_name, context)

    def _inspect(self, request, *, provider: Provider, tracking_number: str, mid: str) -> dict:
        if tracking_number:
            decision = decide_for_number(provider=provider, tracking_number=tracking_number)
        else:
            decision = decide(provider=provider, mid=mid)
        return {
            "provider": provider,
            "provider_url": _admin_url(provider, request.user),
            "asked": tracking_number or mid,
            "asked_kind": "tracking number" if tracking_number else "Mailer ID",
            "decision": decision,
            **self._basis(request, decision),
            "as_json": json.dumps(decision.as_dict(), indent=2),
        }

    @staticmethod
    def _basis(request, decision: Decision) -> dict:
        if decision.basis is None:
            return {}
        try:
            record = decision_basis_record(decision=decision)
        except ObjectDoesNotExist:
            return {"basis_missing": True}
        return {"basis_record": record, "basis_url": _admin_url(record, request.user)}

"""Admin for Mailer ID links: verification, evidence, conflicts."""

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from agreements.admin.common import DECISION_FIELDS, PROVIDER_SEARCH
from agreements.models import (
    MidLink,
)
from core.admin import ReadOnlyAdminMixin, SafeChangeListMixin


@admin.register(MidLink)
class MidLinkAdmin(SafeChangeListMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "mid",
        "provider",
        "relation",
        "status",
        "valid_from",
        "valid_until",
        "owner_name",
        "has_evidence",
        "requested_at",
    )
    list_filter = ("status", "relation")
    search_fields = ("mid", *PROVIDER_SEARCH, "owner_name", "owner_crid", "requested_by__email")
    list_select_related = ("provider",)
    autocomplete_fields = ("provider", "requested_by")
    date_hierarchy = "requested_at"
    ordering = ("provider__legal_name", "mid", "-pk")
    fieldsets = (
        (None, {"fields": ("provider", "mid", "relation", "status")}),
        ("Validity", {"fields": ("valid_from", "valid_until")}),
        ("Owner", {"fields": ("owner_name", "owner_crid", "evidence_link")}),
        ("Owner consent", {"fields": ("owner_provider", "consented_by", "consented_at")}),
        ("Request", {"fields": ("requested_by", "requested_at")}),
        ("Verification", {"fields": ("verified_by", "verified_at")}),
        ("Decision", {"fields": DECISION_FIELDS}),
    )
    readonly_fields = ("requested_at", "evidence_link")

    @admin.display(boolean=True, description="evidence")
    def has_evidence(self, obj: MidLink) -> bool:
        return bool(obj.evidence)

    @admin.display(description="evidence")
    def evidence_link(self, obj: MidLink):
        # Private storage has no URL: staff download through the permission-checked view.
        if not obj.evidence:
            return "No file uploaded."
        return format_html(
            '<a href="{}">Download {}</a> ({})',
            reverse("agreements:mid_evidence", args=[obj.pk]),
            obj.evidence_name or "the letter",
            obj.get_evidence_content_type_display() or "type not recorded",
        )

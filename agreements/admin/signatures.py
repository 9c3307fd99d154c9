"""Admin for signed agreements and their schedule lines: the staff review queues."""

from django.contrib import admin

from agreements.admin.common import DECISION_FIELDS, PROVIDER_SEARCH
from agreements.models import (
    Agreement,
    AgreementScheduleLine,
)
from core.admin import ReadOnlyAdminMixin, SafeChangeListMixin


class ScheduleLineInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = AgreementScheduleLine
    fields = ("mid", "status", "justification", *DECISION_FIELDS)
    readonly_fields = fields
    ordering = ("mid",)
    extra = 0
    show_change_link = True

    # The tabular inline prints each row's __str__, which reads the agreement's provider and
    # version.
    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("agreement__provider", "agreement__version", "decided_by")
        )


@admin.register(Agreement)
class AgreementAdmin(SafeChangeListMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "provider",
        "version",
        "status",
        "signer_name",
        "signed_at",
        "decided_by",
        "decided_at",
    )
    list_filter = ("status", "version", "provider__provider_type")
    search_fields = (
        *PROVIDER_SEARCH,
        "signer__email",
        "signer_name",
        "version__label",
        "=schedule_lines__mid",
    )
    list_select_related = ("provider", "version", "decided_by")
    autocomplete_fields = ("provider", "version", "signer")
    date_hierarchy = "signed_at"
    ordering = ("-signed_at", "-pk")
    inlines = (ScheduleLineInline,)
    fieldsets = (
        (None, {"fields": ("provider", "version", "status")}),
        (
            "Signature",
            {
                "fields": (
                    "signer",
                    "signer_name",
                    "signer_title",
                    "attested_authority",
                    "signed_at",
                    "signed_text_sha256",
                    "ip_address",
                    "user_agent",
                )
            },
        ),
        ("Decision", {"fields": DECISION_FIELDS}),
    )


@admin.register(AgreementScheduleLine)
class AgreementScheduleLineAdmin(SafeChangeListMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("mid", "provider", "agreement", "status", "decided_by", "decided_at")
    list_filter = ("status", "agreement__status")
    search_fields = ("mid", *(f"agreement__{field}" for field in PROVIDER_SEARCH))
    # The agreement's __str__ reads its provider and version.
    list_select_related = ("agreement__provider", "agreement__version", "decided_by")
    autocomplete_fields = ("agreement",)
    ordering = ("mid", "pk")
    fields = ("agreement", "mid", "status", "justification", *DECISION_FIELDS)

    @admin.display(description="provider", ordering="agreement__provider__legal_name")
    def provider(self, obj: AgreementScheduleLine):
        return obj.agreement.provider

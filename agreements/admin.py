from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from accounts.constants import ProviderType
from agreements.models import (
    Agreement,
    AgreementScheduleLine,
    AgreementVersion,
    MidLink,
)
from core.admin import ReadOnlyAdminMixin, SafeChangeListMixin

PROVIDER_SEARCH = ("provider__legal_name", "provider__dba_name", "provider__crid")
DECISION_FIELDS = ("decided_by", "decided_at", "decision_reason")


@admin.register(AgreementVersion)
class AgreementVersionAdmin(SafeChangeListMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "label",
        "effective_at",
        "is_published",
        "published_at",
        "reacceptance_days",
        "provider_types",
        "created_at",
    )
    list_filter = (("published_at", admin.EmptyFieldListFilter),)
    search_fields = ("label",)
    date_hierarchy = "effective_at"
    ordering = ("-effective_at", "-pk")
    fields = (
        "label",
        "effective_at",
        "reacceptance_days",
        "applies_to",
        "published_at",
        "text_sha256",
        "created_at",
        "text",
    )
    readonly_fields = ("created_at",)

    @admin.display(boolean=True, description="published")
    def is_published(self, obj: AgreementVersion) -> bool:
        return obj.is_published

    @admin.display(description="applies to")
    def provider_types(self, obj: AgreementVersion) -> str:
        return ", ".join(ProviderType(value).label for value in obj.applies_to)


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

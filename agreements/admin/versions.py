"""Admin for IP agreement versions: drafting and publishing."""

from django.contrib import admin

from accounts.constants import ProviderType
from agreements.models import (
    AgreementVersion,
)
from core.admin import ReadOnlyAdminMixin, SafeChangeListMixin


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

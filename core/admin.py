"""Admin for the audit log, and the read-only mixin every app's admin builds on."""

from django.contrib import admin
from django.utils.text import Truncator

from core.models import AuditEntry


class ReadOnlyAdminMixin:
    """View-only admin: status changes must go through the services, which write the audit log.

    Staff review workflows (admin actions calling those services) come later.
    """

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "created_at",
        "actor",
        "provider",
        "action",
        "subject_ref",
        "from_status",
        "to_status",
        "short_reason",
    )
    # Only content types that actually appear in the log, not every model in the project.
    list_filter = ("action", ("subject_type", admin.RelatedOnlyFieldListFilter))
    search_fields = ("reason", "actor__email", "provider__legal_name", "provider__dba_name")
    list_select_related = ("actor", "provider", "subject_type")
    date_hierarchy = "created_at"
    ordering = ("-created_at", "-pk")
    fields = (
        "created_at",
        "actor",
        "provider",
        "subject_ref",
        "action",
        "from_status",
        "to_status",
        "reason",
        "extra",
    )
    readonly_fields = ("created_at", "subject_ref")

    # Type and id only: resolving the GenericForeignKey would cost a query per row.
    @admin.display(description="subject", ordering="subject_type")
    def subject_ref(self, obj: AuditEntry) -> str:
        return f"{obj.subject_type.model} #{obj.subject_id}"

    @admin.display(description="reason")
    def short_reason(self, obj: AuditEntry) -> str:
        return Truncator(obj.reason).chars(80)

"""Staff admin of scan event extracts: the approval queue (service providers' extracts wait
for staff, EXTRACT_APPROVAL_REQUIRED_TYPES), approve and reject through the services (audited,
the provider e-mailed), every field read-only, and each extract's downloads."""

from django.contrib import admin

from accounts.admin import ReviewQueueMixin, offered_from, pending_summary
from accounts.selectors import pending_count
from agreements.admin.common import DECISION_FIELDS, PROVIDER_SEARCH
from core.admin import ReadOnlyAdminMixin, SafeChangeListMixin
from core.tracking_numbers import is_valid_mid
from tracking.constants import EXTRACT_TRANSITIONS, ExtractStatus
from tracking.extracts.services import extract_approve, extract_reject
from tracking.models import Extract, ExtractDownload

# "Agreement reviewers" hold it (tracking/migrations/0005); "Support" only views extracts.
REVIEW_PERMISSION = "tracking.change_extract"


def _approve(extract: Extract, *, actor, reason: str) -> Extract:
    return extract_approve(extract=extract, actor=actor, reason=reason)


def _reject(extract: Extract, *, actor, reason: str) -> Extract:
    return extract_reject(extract=extract, actor=actor, reason=reason)


class DownloadInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = ExtractDownload
    fields = ("downloaded_at", "user", "app", "ip_address")
    readonly_fields = fields
    ordering = ("-downloaded_at", "-pk")
    extra = 0
    max_num = 0
    can_delete = False
    verbose_name_plural = "downloads (each one is also in the audit log)"


@admin.register(Extract)
class ExtractAdmin(ReviewQueueMixin, SafeChangeListMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    review_permission = REVIEW_PERMISSION
    decision_links = {
        "approve_extracts": (
            "Approve…",
            offered_from(
                EXTRACT_TRANSITIONS, ExtractStatus.QUEUED, {ExtractStatus.PENDING_APPROVAL}
            ),
        ),
        "reject_extracts": ("Reject…", offered_from(EXTRACT_TRANSITIONS, ExtractStatus.REJECTED)),
    }
    list_display = (
        "public_id",
        "provider",
        "mid_list",
        "start_date",
        "end_date",
        "file_format",
        "source",
        "status",
        "row_count",
        "created_at",
    )
    list_filter = ("status", "file_format", "source")
    search_fields = ("=public_id", *PROVIDER_SEARCH, "requested_by__email")
    list_select_related = ("provider",)
    date_hierarchy = "created_at"
    ordering = ("-created_at", "-pk")
    actions = ("approve_extracts", "reject_extracts")
    inlines = (DownloadInline,)
    fieldsets = (
        (
            None,
            {"fields": ("public_id", "provider", "requested_by", "app", "source", "created_at")},
        ),
        ("What", {"fields": ("mids", "start_date", "end_date", "file_format")}),
        ("Status", {"fields": ("status", "status_reason", *DECISION_FIELDS)}),
        (
            "File",
            {
                "fields": (
                    "file",
                    "row_count",
                    "byte_count",
                    "sha256",
                    "build_started_at",
                    "build_attempts",
                    "built_at",
                    "expires_at",
                )
            },
        ),
    )

    @admin.display(description="MIDs")
    def mid_list(self, obj: Extract) -> str:
        return ", ".join(obj.mids)

    def get_search_results(self, request, queryset, search_term):
        # A MID finds the extracts that include it (the array column has no "=" lookup).
        term = search_term.strip()
        if is_valid_mid(term):
            return queryset.filter(mids__contains=[term]), False
        return super().get_search_results(request, queryset, search_term)

    def review_summaries(self, request) -> list[tuple[str, str]]:
        waiting = pending_count(
            Extract.objects.filter(status=ExtractStatus.PENDING_APPROVAL), since="created_at"
        )
        return [
            (
                pending_summary(
                    waiting,
                    what="extracts waiting for approval",
                    what_one="extract waiting for approval",
                ),
                f"?status__exact={ExtractStatus.PENDING_APPROVAL}",
            )
        ]

    @admin.action(
        description="Approve the selected extracts (they are built at once)", permissions=["review"]
    )
    def approve_extracts(self, request, queryset):
        return self.run_decision(
            request,
            queryset,
            title="Approve scan event extracts",
            decide=_approve,
            reason_required=False,
        )

    @admin.action(
        description="Reject the selected extracts (a reason is required)", permissions=["review"]
    )
    def reject_extracts(self, request, queryset):
        return self.run_decision(
            request, queryset, title="Reject scan event extracts", decide=_reject
        )

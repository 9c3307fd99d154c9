from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.utils import timezone
from django.utils.dateformat import format as date_format
from django.utils.html import format_html, format_html_join

from accounts.forms.admin import UserChangeForm, UserCreationForm
from accounts.models import Invitation, Membership, Provider, User
from core.admin import ReadOnlyAdminMixin, SafeChangeListMixin
from core.selectors import provider_audit_timeline

AUDIT_TIMELINE_LIMIT = 50


@admin.register(User)
class UserAdmin(SafeChangeListMixin, DjangoUserAdmin):
    form = UserChangeForm
    add_form = UserCreationForm
    ordering = ("email",)
    list_display = ("email", "first_name", "last_name", "is_staff", "is_active", "date_joined")
    search_fields = ("email", "first_name", "last_name")
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Personal info", {"fields": ("first_name", "last_name")}),
        (
            "Permissions",
            {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")},
        ),
        ("Important dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "password1", "password2")}),)


class MembershipInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = Membership
    fields = ("user", "role", "created_at")
    readonly_fields = fields
    ordering = ("user__email",)
    extra = 0
    show_change_link = True

    # The tabular inline prints each row's __str__, which reads the user and the provider.
    def get_queryset(self, request):
        return super().get_queryset(request).select_related("user", "provider")


@admin.register(Provider)
class ProviderAdmin(SafeChangeListMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "legal_name",
        "dba_name",
        "crid",
        "provider_type",
        "status",
        "suspension_cause",
        "billing_hold",
        "created_at",
    )
    list_filter = ("status", "provider_type", "suspension_cause", "billing_hold")
    # "=" keeps MID search exact: a partial MID matches unrelated mailers.
    search_fields = ("legal_name", "dba_name", "crid", "contact_email", "=mid_links__mid")
    date_hierarchy = "created_at"
    ordering = ("legal_name", "pk")
    inlines = (MembershipInline,)
    fieldsets = (
        (None, {"fields": ("legal_name", "dba_name", "crid", "provider_type")}),
        (
            "Address",
            {"fields": ("address_line1", "address_line2", "city", "state", "zip_code")},
        ),
        ("Contact", {"fields": ("contact_email", "contact_phone")}),
        (
            "Status",
            {
                "fields": (
                    "status",
                    "suspension_cause",
                    "billing_hold",
                    "billing_hold_reason",
                    "billing_hold_at",
                    "created_at",
                    "updated_at",
                )
            },
        ),
        ("Audit timeline", {"fields": ("audit_timeline",)}),
    )
    readonly_fields = ("created_at", "updated_at", "audit_timeline")

    @admin.display(description=f"latest {AUDIT_TIMELINE_LIMIT} entries")
    def audit_timeline(self, obj: Provider):
        entries = provider_audit_timeline(provider_id=obj.pk, limit=AUDIT_TIMELINE_LIMIT)
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{} &rarr; {}</td><td>{}</td></tr>",
            (
                (
                    date_format(timezone.localtime(entry.created_at), "Y-m-d H:i:s"),
                    entry.actor.email if entry.actor else "system",
                    entry.action,
                    entry.from_status or "-",
                    entry.to_status or "-",
                    entry.reason,
                )
                for entry in entries
            ),
        )
        if not rows:
            return "No audit entries yet."
        return format_html(
            "<table><thead><tr><th>When</th><th>Actor</th><th>Action</th><th>Status</th>"
            "<th>Reason</th></tr></thead><tbody>{}</tbody></table>",
            rows,
        )


@admin.register(Membership)
class MembershipAdmin(SafeChangeListMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("user", "provider", "role", "created_at")
    list_filter = ("role", "provider__status")
    search_fields = ("user__email", "provider__legal_name", "provider__dba_name", "provider__crid")
    list_select_related = ("user", "provider")
    autocomplete_fields = ("user", "provider")
    date_hierarchy = "created_at"
    ordering = ("provider__legal_name", "user__email")
    fields = ("user", "provider", "role", "created_at")
    readonly_fields = ("created_at",)


@admin.register(Invitation)
class InvitationAdmin(SafeChangeListMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("email", "provider", "role", "status", "invited_by", "created_at", "expires_at")
    list_filter = ("status", "role")
    search_fields = ("email", "provider__legal_name", "provider__dba_name", "invited_by__email")
    list_select_related = ("provider", "invited_by")
    date_hierarchy = "created_at"
    ordering = ("-created_at", "-pk")
    fields = (
        "provider",
        "email",
        "role",
        "status",
        "invited_by",
        "created_at",
        "expires_at",
        "accepted_by",
        "accepted_at",
        "decided_by",
        "decided_at",
        "decision_reason",
    )
    readonly_fields = fields

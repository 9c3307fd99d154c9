"""Staff admin of the webhooks, read-only: subscriptions (never their secret) with their
newest deliveries, and each delivery with its attempt log. Changes are the customer's, through
the portal or the API, and go through the services, which audit them."""

from django.contrib import admin
from django.db.models import QuerySet
from django.forms.models import BaseInlineFormSet
from django.urls import reverse
from django.utils.html import format_html

from agreements.admin.common import PROVIDER_SEARCH
from core.admin import ReadOnlyAdminMixin, SafeChangeListMixin
from tracking.models import DeliveryAttempt, Subscription, WebhookDelivery

NEWEST_DELIVERIES_SHOWN = 50


class NewestDeliveriesFormSet(BaseInlineFormSet):
    def get_queryset(self) -> QuerySet:
        if not hasattr(self, "_newest"):
            self._newest = super().get_queryset()[:NEWEST_DELIVERIES_SHOWN]
        return self._newest


class DeliveryInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = WebhookDelivery
    formset = NewestDeliveriesFormSet
    verbose_name_plural = f"deliveries (newest first, at most {NEWEST_DELIVERIES_SHOWN})"
    fields = ("link", "piece", "event_type", "status", "attempts", "last_status_code", "last_error")
    readonly_fields = fields
    ordering = ("-created_at", "-pk")
    extra = 0
    max_num = 0
    can_delete = False

    @admin.display(description="delivery")
    def link(self, obj: WebhookDelivery):
        url = reverse("admin:tracking_webhookdelivery_change", args=[obj.pk])
        return format_html('<a href="{}">{}</a>', url, obj.public_id)


@admin.register(Subscription)
class SubscriptionAdmin(SafeChangeListMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "public_id",
        "provider",
        "filter_kind",
        "mid",
        "tracking_number",
        "status",
        "consecutive_failures",
        "last_delivery_at",
        "created_at",
        "deleted_at",
    )
    list_filter = ("status", "filter_kind")
    search_fields = ("=public_id", "=mid", "=tracking_number", *PROVIDER_SEARCH)
    list_select_related = ("provider",)
    date_hierarchy = "created_at"
    ordering = ("-created_at", "-pk")
    inlines = (DeliveryInline,)
    # Never secret_encrypted: even encrypted, a secret has no business on a staff page.
    fieldsets = (
        (None, {"fields": ("public_id", "provider", "app", "created_by", "created_at")}),
        ("Filter", {"fields": ("filter_kind", "mid", "tracking_number", "event_types")}),
        ("Listener", {"fields": ("listener_url", "secret", "admin_emails")}),
        (
            "Status",
            {
                "fields": (
                    "status",
                    "status_reason",
                    "status_changed_at",
                    "consecutive_failures",
                    "last_delivery_at",
                    "version",
                    "deleted_at",
                )
            },
        ),
    )
    readonly_fields = ("public_id", "secret", "created_at")

    @admin.display(description="secret")
    def secret(self, obj: Subscription) -> str:
        return "set (encrypted; never shown)"


class AttemptInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = DeliveryAttempt
    fields = (
        "number",
        "attempted_at",
        "status_code",
        "error",
        "duration_ms",
        "replay",
        "requested_by",
        "basis",
    )
    readonly_fields = fields
    ordering = ("-number",)
    extra = 0
    max_num = 0
    can_delete = False


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(SafeChangeListMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "public_id",
        "subscription",
        "piece",
        "event_type",
        "status",
        "attempts",
        "last_status_code",
        "next_attempt_at",
        "created_at",
    )
    list_filter = ("status", "event_type")
    search_fields = ("=public_id", "=subscription__public_id", "=piece__tracking_number")
    list_select_related = ("subscription", "piece")
    date_hierarchy = "created_at"
    ordering = ("-created_at", "-pk")
    show_full_result_count = False
    inlines = (AttemptInline,)
    fields = (
        "public_id",
        "subscription",
        "piece",
        "last_event",
        "event_type",
        "status",
        "attempts",
        "next_attempt_at",
        "last_status_code",
        "last_error",
        "delivered_at",
        "created_at",
        "updated_at",
    )
    readonly_fields = ("public_id", "created_at", "updated_at")

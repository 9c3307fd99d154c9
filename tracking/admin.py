"""Staff admin for the tracking API: API apps (revoke), hourly quotas per provider, the tracking
store (mail pieces and their scans), the disclosure audit and the daily usage.

Writes go through the services (tracking.services.apps, tracking.services.quotas), which audit
them; everything else is read-only. No page shows a client secret or its hash, nor a token.
"""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.widgets import AutocompleteSelect
from django.core.exceptions import ValidationError
from django.db.models import F, Q
from django.forms.models import BaseInlineFormSet
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html
from django.utils.http import urlencode
from oauth2_provider import admin as oauth2_provider_admin  # noqa: F401 - registers first
from oauth2_provider.models import (
    get_access_token_model,
    get_application_model,
    get_grant_model,
    get_id_token_model,
    get_refresh_token_model,
)

from accounts.admin import ReviewQueueMixin, offered_from
from accounts.admin_decisions import (
    REASON_MAX_LENGTH,
    DecisionActionsMixin,
    DecisionForm,
    decision_action,
)
from agreements.admin.common import PROVIDER_SEARCH
from agreements.constants import ReasonCode
from core.admin import ReadOnlyAdminMixin, SafeChangeListMixin
from core.errors import DomainError
from core.tracking_numbers import InvalidTrackingNumber, is_valid_mid, parse
from tracking.constants import API_APP_TRANSITIONS, ApiAppStatus
from tracking.models import (
    ApiApp,
    DailyUsage,
    Disclosure,
    MailPiece,
    ProviderApiQuota,
    TrackingEvent,
)
from tracking.services.apps import app_revoke
from tracking.services.quotas import (
    MAX_CALLS_PER_HOUR,
    MIN_CALLS_PER_HOUR,
    default_quota_per_hour,
    effective_quota_per_hour,
    quota_set,
)

# django-oauth-toolkit's own admins edit OAuth clients and tokens behind the services' back: a
# client's secret, grant type or redirect changed unaudited, tokens minted for any client with
# any scope and expiry, tokens deleted while the token cache still serves them. API apps are
# managed through ApiApp below (and the portal); tokens only through the token endpoint.
for _model in (
    get_application_model(),
    get_access_token_model(),
    get_refresh_token_model(),
    get_grant_model(),
    get_id_token_model(),
):
    if admin.site.is_registered(_model):
        admin.site.unregister(_model)

# The API answers at most this many events per piece, and so does the admin.
MAX_EVENTS_SHOWN = 99


def _search_terms(search_term: str) -> list[str]:
    # Identifiers are searched by equality, so that the column's index answers (a partial or
    # case-insensitive match scans a table that grows by millions of rows a day).
    term = "".join(search_term.split())
    return [term, term.upper()] if term else []


class ReasonFilter(admin.SimpleListFilter):
    """The decision's reason codes, listed without scanning the table for its values."""

    title = "reason"
    parameter_name = "reason"

    def lookups(self, request, model_admin):
        return [(code, code) for code in ReasonCode.values]

    def queryset(self, request, queryset):
        value = self.value()
        return queryset.filter(reason_code=value) if value else queryset


# --- API apps ----------------------------------------------------------------------------------


def _revoke(app: ApiApp, *, actor, reason: str) -> ApiApp:
    return app_revoke(app=app, actor=actor, reason=reason)


@admin.register(ApiApp)
class ApiAppAdmin(ReviewQueueMixin, SafeChangeListMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    """Providers' OAuth clients. Staff read them and may revoke one (a leaked secret, an abusive
    client); creating and rotating secrets are the provider's, in the portal."""

    # No staff group holds it: revoking is for superusers.
    review_permission = "tracking.change_apiapp"
    decision_links = {
        "revoke_apps": ("Revoke…", offered_from(API_APP_TRANSITIONS, ApiAppStatus.REVOKED))
    }
    list_display = (
        "name",
        "provider",
        "client_id",
        "status",
        "scope",
        "created_at",
        "last_used_at",
    )
    list_filter = ("status", "scope")
    search_fields = ("name", "=application__client_id", *PROVIDER_SEARCH)
    list_select_related = ("provider", "application")
    date_hierarchy = "created_at"
    ordering = ("provider__legal_name", "name", "pk")
    actions = ("revoke_apps",)
    # Never previous_secret: it is a hash of a secret that may still work.
    fieldsets = (
        (None, {"fields": ("provider", "name", "client_id", "scope", "status")}),
        ("Use", {"fields": ("created_by", "created_at", "last_used_at", "quota", "usage")}),
        ("Secret", {"fields": ("secret_rotated_at", "previous_secret_expires_at")}),
        ("Revocation", {"fields": ("revoked_at",)}),
    )
    readonly_fields = ("client_id", "quota", "usage")

    @admin.display(description="client ID", ordering="application__client_id")
    def client_id(self, obj: ApiApp) -> str:
        return obj.application.client_id

    @admin.display(description="quota (calls per hour)")
    def quota(self, obj: ApiApp) -> str:
        calls = effective_quota_per_hour(provider_id=obj.provider_id)
        default = " (the default)" if calls == default_quota_per_hour() else ""
        return f"{calls:,}{default}, for each of the provider's apps"

    @admin.display(description="daily usage")
    def usage(self, obj: ApiApp):
        url = reverse("admin:tracking_dailyusage_changelist")
        query = urlencode({"q": obj.application.client_id})
        return format_html('<a href="{}?{}">Calls per day of this app</a>', url, query)

    @decision_action("Revoke the selected apps (their tokens stop at once)", permission="review")
    def revoke_apps(self, request, queryset):
        return self.run_decision(request, queryset, title="Revoke API apps", decide=_revoke)


# --- Quotas ------------------------------------------------------------------------------------


class QuotaForm(forms.ModelForm):
    """A provider's quota, saved through quota_set (audited), never by the form."""

    calls_per_hour = forms.IntegerField(
        label="Calls per hour",
        min_value=MIN_CALLS_PER_HOUR,
        max_value=MAX_CALLS_PER_HOUR,
    )
    reason = forms.CharField(
        label="Reason",
        required=False,
        max_length=REASON_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 80}),
        help_text="Recorded in the audit log with the old and the new quota.",
    )

    class Meta:
        model = ProviderApiQuota
        fields = ("provider", "calls_per_hour")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["calls_per_hour"].help_text = (
            f"For each of the provider's API apps, {MIN_CALLS_PER_HOUR:,} to "
            f"{MAX_CALLS_PER_HOUR:,}. Providers without a quota here get the default, "
            f"{default_quota_per_hour():,} calls per hour. Applies from the apps' next call."
        )


class QuotaResetForm(DecisionForm):
    reason = forms.CharField(
        label="Reason",
        widget=forms.Textarea(attrs={"rows": 3, "cols": 80}),
        required=False,
        max_length=REASON_MAX_LENGTH,
        help_text="Recorded in the audit log.",
    )


class SafeAutocompleteSelect(AutocompleteSelect):
    """Django looks a posted choice up again to show it with the form's errors, without checking
    it first: a provider id of "abc" was a 500 instead of "Select a valid choice"."""

    def optgroups(self, name, value, attr=None):
        target = self.field.target_field

        def readable(choice) -> bool:
            try:
                target.to_python(choice)
            except ValidationError:
                return False
            return True

        return super().optgroups(name, [choice for choice in value if readable(choice)], attr)


def _reset(quota: ProviderApiQuota, *, actor, reason: str) -> None:
    quota_set(provider=quota.provider, calls_per_hour=None, actor=actor, reason=reason)


@admin.register(ProviderApiQuota)
class ProviderApiQuotaAdmin(DecisionActionsMixin, SafeChangeListMixin, admin.ModelAdmin):
    """Hourly quotas set by staff, one per provider; a provider without one gets the default.
    Adding, changing, deleting and resetting all go through quota_set."""

    form = QuotaForm
    change_list_template = "admin/tracking/providerapiquota/change_list.html"
    list_display = ("provider", "calls_per_hour", "updated_at", "updated_by")
    search_fields = PROVIDER_SEARCH
    list_select_related = ("provider", "updated_by")
    autocomplete_fields = ("provider",)
    ordering = ("provider__legal_name", "pk")
    actions = ("reset_to_default",)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name in self.get_autocomplete_fields(request):
            kwargs["widget"] = SafeAutocompleteSelect(
                db_field, self.admin_site, using=kwargs.get("using")
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_fields(self, request, obj=None):
        if obj is None:
            return ("provider", "calls_per_hour", "reason")
        if not self.has_change_permission(request, obj):
            return ("provider", "calls_per_hour", "updated_at", "updated_by")
        return ("provider", "calls_per_hour", "reason", "updated_at", "updated_by")

    def get_readonly_fields(self, request, obj=None):
        return () if obj is None else ("provider", "updated_at", "updated_by")

    def get_actions(self, request):
        actions = super().get_actions(request)
        # Deleting is resetting, through the service: one action for both.
        actions.pop("delete_selected", None)
        return actions

    def changelist_view(self, request, extra_context=None):
        context = {"default_quota_per_hour": default_quota_per_hour(), **(extra_context or {})}
        return super().changelist_view(request, context)

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        # The form checks the bounds, so the service refuses only what changed under the form;
        # the admin's transaction is rolled back and the message says why.
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except DomainError as exc:
            self.message_user(request, exc.message, messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    def save_model(self, request, obj, form, change):
        saved = quota_set(
            provider=obj.provider,
            calls_per_hour=form.cleaned_data["calls_per_hour"],
            actor=request.user,
            reason=form.cleaned_data.get("reason", ""),
        )
        # The admin goes on with `obj` (its log entry, the redirect): make it the saved row.
        for field in ProviderApiQuota._meta.concrete_fields:
            setattr(obj, field.attname, getattr(saved, field.attname))
        obj._state.adding, obj._state.db = False, saved._state.db

    def delete_model(self, request, obj):
        quota_set(provider=obj.provider, calls_per_hour=None, actor=request.user)

    def delete_queryset(self, request, queryset):
        for quota in queryset.select_related("provider"):
            quota_set(provider=quota.provider, calls_per_hour=None, actor=request.user)

    @decision_action("Reset the selected providers to the default quota", permission="change")
    def reset_to_default(self, request, queryset):
        return self.run_decision(
            request,
            queryset.select_related("provider"),
            title="Reset to the default quota",
            decide=_reset,
            reason_required=False,
            form_class=QuotaResetForm,
            notify=False,
        )


# --- The tracking store ------------------------------------------------------------------------


class NewestEventsFormSet(BaseInlineFormSet):
    """The piece's newest events only: a piece scanned in a loop must not render thousands."""

    def get_queryset(self):
        if not hasattr(self, "_newest"):
            self._newest = super().get_queryset()[:MAX_EVENTS_SHOWN]
        return self._newest


class TrackingEventInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = TrackingEvent
    formset = NewestEventsFormSet
    verbose_name_plural = f"events (newest first, at most {MAX_EVENTS_SHOWN})"
    fields = (
        "event_timestamp",
        "gmt_offset",
        "event_code",
        "event_type",
        "city",
        "state",
        "zip_code",
        "country",
        "firm",
        "recipient_name",
        "action_code",
        "reason_code",
        "gmt_timestamp",
    )
    readonly_fields = fields
    # The order the API answers in (the tracking_event_piece_newest index).
    ordering = (F("gmt_timestamp").desc(nulls_last=True), "-event_timestamp", "-pk")
    extra = 0
    max_num = 0
    can_delete = False


@admin.register(MailPiece)
class MailPieceAdmin(SafeChangeListMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    """Support's view of a package: search a tracking number (with or without its 420+ZIP
    routing prefix) or a MID, and read its scans as the API serves them."""

    list_display = (
        "tracking_number",
        "mailing_date",
        "mid",
        "mail_class",
        "status_category",
        "destination",
        "expected_delivery",
    )
    search_fields = ("tracking_number", "mid")  # exact: see get_search_results
    search_help_text = "A tracking number (exact; a 420+ZIP prefix is removed) or a 6/9-digit MID."
    ordering = ("-pk",)
    show_full_result_count = False
    inlines = (TrackingEventInline,)
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "tracking_number",
                    "mailing_date",
                    "mid",
                    "unique_mail_piece_id",
                    "lookups",
                )
            },
        ),
        (
            "Service",
            {"fields": ("service_type_code", "mail_class", "mail_class_code", "mail_type")},
        ),
        ("Origin", {"fields": ("origin_city", "origin_state", "origin_zip")}),
        ("Destination", {"fields": ("destination_city", "destination_state", "destination_zip")}),
        (
            "Status",
            {
                "fields": (
                    "status",
                    "status_category",
                    "status_summary",
                    "expected_delivery",
                    "event_count",
                    "updated_at",
                )
            },
        ),
    )
    readonly_fields = ("lookups", "event_count", "updated_at")

    def get_search_results(self, request, queryset, search_term):
        terms = _search_terms(search_term)
        if not terms:
            return queryset, False
        numbers = set(terms)
        try:
            numbers.add(parse(terms[0]).pic)
        except InvalidTrackingNumber:
            pass
        query = Q(tracking_number__in=numbers)
        if is_valid_mid(terms[0]):
            query |= Q(mid=terms[0])
        return queryset.filter(query), False

    @admin.display(description="destination")
    def destination(self, obj: MailPiece) -> str:
        parts = (obj.destination_city, obj.destination_state, obj.destination_zip)
        return " ".join(part for part in parts if part)

    @admin.display(description="scans")
    def event_count(self, obj: MailPiece) -> str:
        count = obj.events.count()
        if count > MAX_EVENTS_SHOWN:
            return f"{count:,}; the newest {MAX_EVENTS_SHOWN} are listed below, as the API answers."
        return f"{count:,}"

    @admin.display(description="API lookups")
    def lookups(self, obj: MailPiece):
        url = reverse("admin:tracking_disclosure_changelist")
        query = urlencode({"q": obj.tracking_number})
        return format_html('<a href="{}?{}">Who looked this number up</a>', url, query)

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if request.user.has_perm("tracking.view_disclosure"):
            return fieldsets
        first, *rest = fieldsets
        fields = tuple(f for f in first[1]["fields"] if f != "lookups")
        return [(first[0], {**first[1], "fields": fields}), *rest]


# --- Disclosures and usage ---------------------------------------------------------------------


@admin.register(Disclosure)
class DisclosureAdmin(SafeChangeListMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    """Every tracking number looked up through the API and what the access decision said.
    Append-only: nobody adds, changes or deletes a record here."""

    list_display = (
        "occurred_at",
        "provider",
        "app",
        "tracking_number",
        "mid",
        "allowed",
        "reason_code",
        "http_status",
        "request_id",
    )
    list_filter = ("allowed", ReasonFilter, "provider")
    search_fields = ("tracking_number", "mid", "request_id")  # exact: see get_search_results
    search_help_text = "A tracking number, a MID or a request id, exactly."
    list_select_related = ("provider", "app")
    date_hierarchy = "occurred_at"
    ordering = ("-occurred_at", "-pk")
    show_full_result_count = False
    fields = (
        "occurred_at",
        "provider",
        "app",
        "tracking_number",
        "mid",
        "allowed",
        "reason_code",
        "http_status",
        "basis",
        "request_id",
        "record_id",
    )

    def get_search_results(self, request, queryset, search_term):
        terms = _search_terms(search_term)
        if not terms:
            return queryset, False
        query = Q(tracking_number__in=terms) | Q(mid=terms[0]) | Q(request_id=terms[0])
        return queryset.filter(query), False


@admin.register(DailyUsage)
class DailyUsageAdmin(SafeChangeListMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    """Calls per provider, app, UTC day and outcome: what the portal charts and billing counts."""

    list_display = ("day", "provider", "app", "allowed", "reason_code", "calls")
    list_filter = ("allowed", ReasonFilter, "provider")
    search_fields = ("app__name", "=app__application__client_id", *PROVIDER_SEARCH)
    list_select_related = ("provider", "app")
    date_hierarchy = "day"
    ordering = ("-day", "provider__legal_name", "app__name", "-allowed", "reason_code")
    fields = ("day", "provider", "app", "allowed", "reason_code", "calls")


# Extracts and webhooks keep their admin beside their code; importing registers them.
from tracking.extracts import admin as _extracts_admin  # noqa: E402,F401
from tracking.webhooks import admin as _webhooks_admin  # noqa: E402,F401

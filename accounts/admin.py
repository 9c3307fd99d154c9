"""Admin for users, providers, memberships and invitations, and the review-queue mixin every
staff queue builds on (providers here; agreements, schedule lines and versions in agreements).

Staff decisions are admin actions with a reason page (accounts.admin_decisions) that call one
service per item; reads come from selectors. Nothing here decides anything.
"""

from collections.abc import Collection, Mapping

from django import forms
from django.contrib import admin
from django.contrib.admin.utils import quote, unquote
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.core.exceptions import PermissionDenied
from django.db.models import Case, F, IntegerField, Q, When
from django.http import HttpResponseRedirect
from django.urls import path, reverse
from django.utils import timezone
from django.utils.dateformat import format as date_format
from django.utils.html import format_html, format_html_join
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.timesince import timesince

from accounts import services
from accounts.admin_decisions import DecisionActionsMixin, DecisionForm, decision_action
from accounts.constants import PROVIDER_TRANSITIONS, ProviderStatus, SuspensionCause
from accounts.forms.admin import UserChangeForm, UserCreationForm
from accounts.models import Invitation, Membership, Provider, User
from accounts.selectors import PendingCount, providers_pending_review
from core.admin import ReadOnlyAdminMixin, SafeChangeListMixin
from core.selectors import provider_audit_timeline

AUDIT_TIMELINE_LIMIT = 50


# --- The review queues ------------------------------------------------------------------------


def offered_from(
    table: Mapping[str, Collection[str]], to_status: str, only_from: Collection[str] = ()
) -> frozenset[str]:
    """The statuses from which the transition table allows a move to `to_status` (narrowed to
    `only_from`, as the service narrows it): where a decision's button is shown. The service
    still decides; a button shown on a stale page is refused with its message."""
    return frozenset(
        status
        for status, targets in table.items()
        if to_status in targets and (not only_from or status in only_from)
    )


def pending_first(*, pending: Q, since: str, then: tuple = ("-pk",)) -> tuple:
    """A queue's ordering: the items matching `pending` first, the one waiting longest
    (earliest `since`) at the top; then every other item in the order `then`."""
    return (
        Case(When(pending, then=0), default=1, output_field=IntegerField()).asc(),
        Case(When(pending, then=F(since))).asc(nulls_last=True),
        *then,
    )


def pending_summary(pending: PendingCount, *, what: str, what_one: str = "") -> str:
    """ "3 pending review, the oldest waiting for 5 days." (`what_one` when there is one.)"""
    if not pending.count:
        return f"Nothing {what}."
    text = f"{pending.count} {what_one if pending.count == 1 and what_one else what}"
    if pending.oldest is not None:
        text += f", the oldest waiting for {timesince(pending.oldest, depth=1)}"
    return text + "."


class ReviewQueueMixin(DecisionActionsMixin):
    """A staff review queue: pending counts above the list, and on each item's page links to the
    decisions its status allows. Decisions are the admin actions (`decision_action`), gated on
    `review_permission`; each link opens the same reason page as the action does from the list,
    for that one item (`<pk>/decide/<action>/`), and comes back to the page it was opened from.
    """

    change_list_template = "admin/portal/review_change_list.html"
    change_form_template = "admin/portal/review_change_form.html"
    # "<app>.change_<model>": the "Agreement reviewers" group has it; "Support" only views.
    review_permission = ""
    # action name -> (its link's label on the item's page, the statuses it is offered in)
    decision_links: Mapping[str, tuple[str, Collection[str]]] = {}

    def has_review_permission(self, request) -> bool:
        return request.user.has_perm(self.review_permission)

    def review_summaries(self, request) -> list[tuple[str, str]]:
        """(text, link) lines shown above the list: what waits in this queue."""
        return []

    def changelist_view(self, request, extra_context=None):
        summaries = self.review_summaries(request)
        extra_context = {"review_summaries": summaries, **(extra_context or {})}
        return super().changelist_view(request, extra_context)

    def get_urls(self):
        name = f"{self.opts.app_label}_{self.opts.model_name}_decide"
        decide = path(
            "<path:object_id>/decide/<str:action>/",
            self.admin_site.admin_view(self.decide_view),
            name=name,
        )
        return [decide, *super().get_urls()]

    def decide_url(self, obj, action: str, *, next_url: str = "") -> str:
        url = reverse(
            f"admin:{self.opts.app_label}_{self.opts.model_name}_decide",
            args=[quote(obj.pk), action],
        )
        return f"{url}?{urlencode({'next': next_url})}" if next_url else url

    def decide_view(self, request, object_id: str, action: str):
        """The reason page of one decision on one item (GET), and the decision (POST)."""
        actions = self.get_actions(request)  # only those the user's permissions allow
        if action not in self.decision_links or action not in actions:
            raise PermissionDenied
        obj = self.get_object(request, unquote(object_id))
        if obj is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        func = actions[action][0]
        response = func(self, request, self.get_queryset(request).filter(pk=obj.pk))
        if response is not None:
            return response  # the reason page, first shown or shown again with its errors
        back = request.GET.get("next", "")
        if not url_has_allowed_host_and_scheme(
            back, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        ):
            back = reverse(
                f"admin:{self.opts.app_label}_{self.opts.model_name}_change",
                args=[quote(obj.pk)],
            )
        return HttpResponseRedirect(back)

    def item_decisions(self, request, obj) -> list[tuple[str, str]]:
        """(label, url) of the decisions the user may take on `obj` in its current status."""
        if obj is None or obj.pk is None:
            return []
        actions = self.get_actions(request)
        return [
            (label, self.decide_url(obj, name))
            for name, (label, statuses) in self.decision_links.items()
            if name in actions and obj.status in statuses
        ]

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        context["item_decisions"] = self.item_decisions(request, obj)
        return super().render_change_form(request, context, add, change, form_url, obj)


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


class SuspendForm(DecisionForm):
    """The reason page of "suspend": why, and what caused it."""

    cause = forms.ChoiceField(
        label="Cause",
        choices=SuspensionCause.choices,
        initial=SuspensionCause.STAFF_ACTION,
        help_text="Non-payment suspensions are lifted by billing once the balance is paid.",
    )
    field_order = ["cause", "reason"]


def _approve(provider: Provider, *, actor: User, reason: str) -> Provider:
    return services.provider_approve(provider=provider, actor=actor, reason=reason)


def _suspend(provider: Provider, *, actor: User, reason: str, cause: str) -> Provider:
    return services.provider_suspend(provider=provider, actor=actor, reason=reason, cause=cause)


def _reactivate(provider: Provider, *, actor: User, reason: str) -> Provider:
    return services.provider_reinstate(provider=provider, actor=actor, reason=reason)


def _close(provider: Provider, *, actor: User, reason: str) -> Provider:
    return services.provider_close(provider=provider, actor=actor, reason=reason)


@admin.register(Provider)
class ProviderAdmin(ReviewQueueMixin, SafeChangeListMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    """The provider queue: approve organisations pending review; suspend, reactivate, close.

    Fields stay read-only: a status changes only through the decisions (services)."""

    review_permission = "accounts.change_provider"
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
    # "=" keeps MIDs exact: a partial MID matches unrelated mailers. A provider is found by
    # the MIDs it claims or holds, those its agreements schedule, and who signed for it.
    search_fields = (
        "legal_name",
        "dba_name",
        "crid",
        "contact_email",
        "=mid_links__mid",
        "=agreements__schedule_lines__mid",
        "agreements__signer_name",
        "agreements__signer__email",
    )
    # Searching by MID or signer would tell who holds a MID or signed: only for staff who may
    # see MID links or agreements (Finance may not).
    SEARCH_NEEDS = {
        "=mid_links__mid": "agreements.view_midlink",
        "=agreements__schedule_lines__mid": "agreements.view_agreementscheduleline",
        "agreements__signer_name": "agreements.view_agreement",
        "agreements__signer__email": "agreements.view_agreement",
    }
    date_hierarchy = "created_at"
    # Pending review first, the organisation waiting longest at the top; then by name.
    ordering = pending_first(
        pending=Q(status=ProviderStatus.PENDING_REVIEW),
        since="created_at",
        then=("legal_name", "pk"),
    )
    inlines = (MembershipInline,)
    actions = ("approve_providers", "suspend_providers", "reactivate_providers", "close_providers")
    decision_links = {
        "approve_providers": (
            "Approve…",
            offered_from(
                PROVIDER_TRANSITIONS, ProviderStatus.ACTIVE, {ProviderStatus.PENDING_REVIEW}
            ),
        ),
        "suspend_providers": (
            "Suspend…",
            offered_from(PROVIDER_TRANSITIONS, ProviderStatus.SUSPENDED),
        ),
        "reactivate_providers": (
            "Reactivate…",
            offered_from(PROVIDER_TRANSITIONS, ProviderStatus.ACTIVE, {ProviderStatus.SUSPENDED}),
        ),
        "close_providers": ("Close…", offered_from(PROVIDER_TRANSITIONS, ProviderStatus.CLOSED)),
    }
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
        ("Access", {"fields": ("access_inspector",)}),
        ("Audit timeline", {"fields": ("audit_timeline",)}),
    )
    readonly_fields = ("created_at", "updated_at", "access_inspector", "audit_timeline")

    def get_search_fields(self, request):
        return tuple(
            field
            for field in super().get_search_fields(request)
            if request.user.has_perm(self.SEARCH_NEEDS.get(field, "accounts.view_provider"))
        )

    def get_fieldsets(self, request, obj=None):
        # The timeline holds agreement and MID decisions and their reasons: only for staff
        # who may read the audit log; the inspector only for those who may see MID links.
        hidden = set()
        if not request.user.has_perm("core.view_auditentry"):
            hidden.add("Audit timeline")
        if not request.user.has_perm("agreements.view_midlink"):
            hidden.add("Access")
        return [fs for fs in super().get_fieldsets(request, obj) if fs[0] not in hidden]

    @admin.display(description="access inspector")
    def access_inspector(self, obj: Provider):
        url = reverse("access_inspector") + f"?provider={obj.pk}"
        return format_html(
            '<a href="{}">Check what {} may read: a MID or a tracking number</a>', url, obj
        )

    def review_summaries(self, request) -> list[tuple[str, str]]:
        pending = providers_pending_review()
        return [
            (
                pending_summary(pending, what="pending review"),
                f"?status__exact={ProviderStatus.PENDING_REVIEW}",
            )
        ]

    # --- Decisions: each opens the reason page, then calls one service per selected provider

    @decision_action("Approve the selected pending providers", permission="review")
    def approve_providers(self, request, queryset):
        return self.run_decision(request, queryset, title="Approve providers", decide=_approve)

    @decision_action("Suspend the selected providers", permission="review")
    def suspend_providers(self, request, queryset):
        return self.run_decision(
            request, queryset, title="Suspend providers", decide=_suspend, form_class=SuspendForm
        )

    @decision_action("Reactivate the selected suspended providers", permission="review")
    def reactivate_providers(self, request, queryset):
        return self.run_decision(
            request, queryset, title="Reactivate providers", decide=_reactivate
        )

    @decision_action("Close the selected providers (final)", permission="review")
    def close_providers(self, request, queryset):
        return self.run_decision(request, queryset, title="Close providers", decide=_close)

    @admin.display(description=f"latest {AUDIT_TIMELINE_LIMIT} entries")
    def audit_timeline(self, obj: Provider):
        entries = provider_audit_timeline(provider_id=obj.pk, limit=AUDIT_TIMELINE_LIMIT)
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{} #{}</td><td>{} &rarr; {}</td>"
            "<td>{}</td></tr>",
            (
                (
                    date_format(timezone.localtime(entry.created_at), "Y-m-d H:i:s"),
                    entry.actor.email if entry.actor else "system",
                    entry.action,
                    entry.subject_type.model,
                    entry.subject_id,
                    entry.from_status or "-",
                    entry.to_status or "-",
                    entry.reason,
                )
                for entry in entries
            ),
        )
        if not rows:
            return "No audit entries yet."
        every_entry = reverse("admin:core_auditentry_changelist") + f"?provider__id__exact={obj.pk}"
        return format_html(
            "<table><thead><tr><th>When</th><th>Actor</th><th>Action</th><th>Subject</th>"
            "<th>Status</th><th>Reason</th></tr></thead><tbody>{}</tbody></table>"
            '<p>The latest {} entries. <a href="{}">Every entry about this provider</a></p>',
            rows,
            AUDIT_TIMELINE_LIMIT,
            every_entry,
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

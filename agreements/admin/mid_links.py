"""Admin for Mailer ID links: the staff review queue (verify with a validity window, reject,
revoke), the evidence preview and the conflicts on the MID.

A review queue like the others (accounts.admin.ReviewQueueMixin): every decision is an action
with a reason page (accounts.admin_decisions) calling a service, from the list or from the
link's page; the reads are selectors (agreements.selectors.review_mids). Nothing here decides
anything.
"""

from datetime import UTC, datetime

from django import forms
from django.contrib import admin
from django.db.models import F, Q
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from accounts.admin import ReviewQueueMixin, offered_from, pending_first, pending_summary
from accounts.admin_decisions import DecisionForm, decision_action
from agreements import services
from agreements.admin.common import DECISION_FIELDS, PROVIDER_SEARCH
from agreements.constants import MID_LINK_TRANSITIONS, MidLinkStatus
from agreements.models import MidLink
from agreements.selectors.review_mids import (
    mid_link_conflicts,
    mid_links_for_review,
    mid_links_pending_review,
)
from agreements.services.review import mid_link_verify_with_window
from agreements.views.mids import INLINE_PREVIEW_TYPES
from core.admin import ReadOnlyAdminMixin, SafeChangeListMixin

# Decisions need the change permission on MID links ("Agreement reviewers"); viewing ("Support")
# shows the queue, the evidence and the conflicts, and offers no action.
REVIEW_PERMISSION = "agreements.change_midlink"
DATETIME_LOCAL = "%Y-%m-%dT%H:%M"
# The validity window a reviewer may set: it starts no earlier than 2000-01-01 and no later
# than a year from now, and if it has an end, that end is still to come.
EARLIEST_VALID_FROM = datetime(2000, 1, 1, tzinfo=UTC)


def _a_year_from_now() -> datetime:
    now = timezone.now()
    try:
        return now.replace(year=now.year + 1)
    except ValueError:  # 29 February
        return now.replace(year=now.year + 1, day=28)


def _datetime_input() -> forms.DateTimeInput:
    return forms.DateTimeInput(attrs={"type": "datetime-local"}, format=DATETIME_LOCAL)


class VerifyForm(DecisionForm):
    """The reason page of "verify": the window in which the link grants access, and why."""

    valid_from = forms.DateTimeField(
        label="Valid from",
        required=False,
        initial=timezone.now,
        widget=_datetime_input(),
        help_text="Access starts at this moment (time zone: %(tz)s). Empty: now.",
    )
    valid_until = forms.DateTimeField(
        label="Valid until",
        required=False,
        widget=_datetime_input(),
        help_text="Access ends at this moment (excluded). Empty: no end.",
    )
    field_order = ["valid_from", "valid_until", "reason"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        zone = timezone.get_current_timezone_name()
        self.fields["valid_from"].help_text %= {"tz": zone}

    def clean_valid_from(self):
        start = self.cleaned_data["valid_from"]
        if start is None:
            return start
        if start < EARLIEST_VALID_FROM:
            raise forms.ValidationError("The start cannot be before 2000-01-01.", code="too_early")
        if start > _a_year_from_now():
            raise forms.ValidationError(
                "The start must be within a year from now; verify the link closer to the date.",
                code="too_late",
            )
        return start

    def clean_valid_until(self):
        end = self.cleaned_data["valid_until"]
        if end is not None and end <= timezone.now():
            raise forms.ValidationError(
                "The end must be in the future: a window that has already ended grants nothing.",
                code="ended",
            )
        return end

    def clean(self):
        cleaned = super().clean()
        if self.has_error("valid_from") or self.has_error("valid_until"):
            return cleaned
        start, end = cleaned.get("valid_from"), cleaned.get("valid_until")
        if end is not None and end <= (start or timezone.now()):
            self.add_error("valid_until", "The end must be after the start.")
        return cleaned


def _verify(link: MidLink, *, actor, reason: str, valid_from=None, valid_until=None) -> MidLink:
    return mid_link_verify_with_window(
        link=link, actor=actor, reason=reason, valid_from=valid_from, valid_until=valid_until
    )


def _reject(link: MidLink, *, actor, reason: str) -> MidLink:
    return services.mid_link_reject(link=link, actor=actor, reason=reason)


def _revoke(link: MidLink, *, actor, reason: str) -> MidLink:
    return services.mid_link_revoke(link=link, actor=actor, reason=reason)


# action name -> (its link's label on the link's page, the statuses it is offered in)
DECISIONS = {
    "verify_links": ("Verify…", offered_from(MID_LINK_TRANSITIONS, MidLinkStatus.VERIFIED)),
    "reject_links": ("Reject…", offered_from(MID_LINK_TRANSITIONS, MidLinkStatus.REJECTED)),
    "revoke_links": ("Revoke…", offered_from(MID_LINK_TRANSITIONS, MidLinkStatus.REVOKED)),
}


class WaitingForFilter(admin.SimpleListFilter):
    title = "waiting for"
    parameter_name = "waiting_for"

    def lookups(self, request, model_admin):
        return (("staff", "Staff (pending)"), ("owner", "Owner's consent (pending)"))

    def queryset(self, request, queryset):
        pending = queryset.filter(status=MidLinkStatus.REQUESTED)
        if self.value() == "staff":
            return pending.filter(owner_provider__isnull=True)
        if self.value() == "owner":
            return pending.filter(owner_provider__isnull=False)
        return queryset


def _change_url(link: MidLink) -> str:
    return reverse("admin:agreements_midlink_change", args=[link.pk])


@admin.register(MidLink)
class MidLinkAdmin(ReviewQueueMixin, SafeChangeListMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    """The MID claim queue: look at the letter and at who else holds or claims the MID, then
    verify (setting the validity window), reject, or later revoke. Fields stay read-only."""

    review_permission = REVIEW_PERMISSION
    decision_links = DECISIONS
    list_display = (
        "mid",
        "provider",
        "relation",
        "status",
        "waiting_for",
        "valid_from",
        "valid_until",
        "owner_name",
        "has_evidence",
        "other_claims",
        "requested_at",
    )
    list_filter = ("status", "relation", WaitingForFilter)
    # "=" keeps identifiers exact: a partial MID or CRID matches unrelated mailers.
    search_fields = (
        "=mid",
        *PROVIDER_SEARCH,
        "owner_name",
        "=owner_crid",
        "requested_by__email",
    )
    list_select_related = ("provider", "owner_provider")
    autocomplete_fields = ("provider", "requested_by")
    date_hierarchy = "requested_at"
    # Pending claims first, the one waiting longest at the top; then the latest decisions.
    ordering = pending_first(
        pending=Q(status=MidLinkStatus.REQUESTED),
        since="requested_at",
        then=(F("decided_at").desc(nulls_last=True), "-pk"),
    )
    actions = ("verify_links", "reject_links", "revoke_links")
    fieldsets = (
        (None, {"fields": ("provider", "mid", "relation", "status", "inspect_link")}),
        ("Conflicts on this MID", {"fields": ("conflicts",)}),
        ("Validity", {"fields": ("valid_from", "valid_until")}),
        ("Owner", {"fields": ("owner_name", "owner_crid", "evidence_preview")}),
        ("Owner consent", {"fields": ("owner_provider", "consented_by", "consented_at")}),
        ("Request", {"fields": ("requested_by", "requested_at")}),
        ("Verification", {"fields": ("verified_by", "verified_at")}),
        ("Decision", {"fields": DECISION_FIELDS}),
    )
    readonly_fields = ("requested_at", "evidence_preview", "conflicts", "inspect_link")

    def get_queryset(self, request):
        queryset = mid_links_for_review()
        ordering = self.get_ordering(request)
        return queryset.order_by(*ordering) if ordering else queryset

    def review_summaries(self, request) -> list[tuple[str, str]]:
        for_staff, for_owner = mid_links_pending_review()
        pending = f"?status__exact={MidLinkStatus.REQUESTED}&waiting_for="
        return [
            (pending_summary(for_staff, what="waiting for staff"), pending + "staff"),
            (
                pending_summary(
                    for_owner,
                    what="waiting for the MID owner's consent (staff may only reject these)",
                ),
                pending + "owner",
            ),
        ]

    # --- Actions: each opens the reason page, then calls one service per selected link -------

    @decision_action("Verify the selected MID links (with a validity window)", permission="review")
    def verify_links(self, request, queryset):
        return self.run_decision(
            request,
            queryset,
            title="Verify MID links",
            decide=_verify,
            form_class=VerifyForm,
        )

    @decision_action("Reject the selected MID links", permission="review")
    def reject_links(self, request, queryset):
        return self.run_decision(request, queryset, title="Reject MID links", decide=_reject)

    @decision_action("Revoke the selected MID links", permission="review")
    def revoke_links(self, request, queryset):
        return self.run_decision(request, queryset, title="Revoke MID links", decide=_revoke)

    # --- Columns and read-only fields --------------------------------------------------------

    @admin.display(description="waiting for")
    def waiting_for(self, obj: MidLink) -> str:
        if obj.status != MidLinkStatus.REQUESTED:
            return "-"
        return "owner's consent" if obj.owner_provider_id else "staff"

    @admin.display(description="other providers' open claims", ordering="other_open_claims")
    def other_claims(self, obj: MidLink) -> int:
        return getattr(obj, "other_open_claims", 0)

    @admin.display(boolean=True, description="evidence")
    def has_evidence(self, obj: MidLink) -> bool:
        return bool(obj.evidence)

    @admin.display(description="evidence")
    def evidence_preview(self, obj: MidLink):
        # Private storage has no URL: staff see the file through the permission-checked view.
        if not obj.evidence:
            return "No file uploaded."
        url = reverse("agreements:mid_evidence", args=[obj.pk])
        download = format_html(
            '<a href="{}">Download {}</a> ({})',
            url,
            obj.evidence_name or "the letter",
            obj.get_evidence_content_type_display() or "type not recorded",
        )
        if obj.evidence_content_type not in {kind.content_type for kind in INLINE_PREVIEW_TYPES}:
            return download
        return format_html(
            '<a href="{}"><img src="{}?inline=1" alt="The letter of authorization for MID {}" '
            'style="display:block; max-width:100%; max-height:40rem; margin-bottom:0.5rem; '
            'border:1px solid var(--hairline-color)"></a>{}',
            url,
            url,
            obj.mid,
            download,
        )

    @admin.display(description="conflicts")
    def conflicts(self, obj: MidLink):
        found = mid_link_conflicts(link=obj)
        if not found.any:
            return format_html("No other provider holds or claims MID {}.", obj.mid)
        parts = []
        if found.owner is not None:
            owner = found.owner
            parts.append(
                format_html(
                    '<p><strong>Verified owner:</strong> <a href="{}">{}</a> (CRID {}, {})'
                    " holds MID {} as owned{}.</p>",
                    _change_url(owner),
                    owner.provider.legal_name,
                    owner.provider.crid or "none",
                    owner.provider.get_status_display(),
                    owner.mid,
                    f" since {_when(owner.verified_at)}" if owner.verified_at else "",
                )
            )
            if found.letter_crid_matches_owner is not None:
                parts.append(
                    format_html(
                        "<p>The letter names CRID {}: {} the registered owner's.</p>",
                        obj.owner_crid,
                        "the same as"
                        if found.letter_crid_matches_owner
                        else mark_safe("<strong>not</strong>"),  # noqa: S308 - a literal
                    )
                )
        if found.open_claims:
            rows = format_html_join(
                "",
                '<tr><td><a href="{}">{}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>',
                (
                    (
                        _change_url(claim),
                        claim.provider.legal_name,
                        claim.provider.crid or "-",
                        claim.get_relation_display(),
                        claim.get_status_display(),
                        _when(claim.requested_at),
                    )
                    for claim in found.open_claims
                ),
            )
            parts.append(
                format_html(
                    "<p><strong>Other providers' open claims on MID {}:</strong></p>"
                    "<table><thead><tr><th>Provider</th><th>CRID</th><th>Relation</th>"
                    "<th>Status</th><th>Requested</th></tr></thead><tbody>{}</tbody></table>{}",
                    obj.mid,
                    rows,
                    format_html("<p>More claims exist; search the list for MID {}.</p>", obj.mid)
                    if found.more_claims
                    else "",
                )
            )
        return format_html_join("", "{}", ((part,) for part in parts))

    @admin.display(description="access")
    def inspect_link(self, obj: MidLink):
        try:
            url = reverse("access_inspector")
        except NoReverseMatch:
            return "-"
        return format_html(
            '<a href="{}?provider={}&amp;mid={}">Check this provider\'s access to MID {}</a>',
            url,
            obj.provider_id,
            obj.mid,
            obj.mid,
        )


def _when(moment) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M") if moment else "-"

"""Admin for signed agreements and their schedule lines: the staff review queues.

An agreement's page shows the signed text, the signer and a hash check (the text's SHA-256
recomputed now against the digests recorded at publication and at signing). Every decision
is an action with a reason page (accounts.admin_decisions) calling one service per item; each
schedule line is approved or rejected on its own, from its queue or from its agreement's page.
Reads are selectors (agreements.selectors.review). Nothing here decides anything.
"""

from django.contrib import admin
from django.db.models import F, Q
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode

from accounts.admin import ReviewQueueMixin, offered_from, pending_first, pending_summary
from accounts.admin_decisions import decision_action
from accounts.models import User
from agreements import services
from agreements.admin.common import DECISION_FIELDS, PROVIDER_SEARCH
from agreements.constants import (
    AGREEMENT_TRANSITIONS,
    SCHEDULE_LINE_TRANSITIONS,
    AgreementStatus,
    ScheduleLineStatus,
)
from agreements.models import Agreement, AgreementScheduleLine
from agreements.selectors.review import (
    agreement_queue_summary,
    agreement_signer_membership,
    agreement_text_hash_check,
    agreements_for_review,
    schedule_lines_pending_review,
)
from core.admin import ReadOnlyAdminMixin, SafeChangeListMixin

LINE_REVIEW_PERMISSION = "agreements.change_agreementscheduleline"

# action name -> (its link's label, the statuses a schedule line is offered it in)
LINE_DECISIONS = {
    "approve_lines": (
        "Approve…",
        offered_from(
            SCHEDULE_LINE_TRANSITIONS, ScheduleLineStatus.APPROVED, {ScheduleLineStatus.REQUESTED}
        ),
    ),
    "reject_lines": (
        "Reject…",
        offered_from(SCHEDULE_LINE_TRANSITIONS, ScheduleLineStatus.REJECTED),
    ),
    "revoke_lines": (
        "Revoke…",
        offered_from(SCHEDULE_LINE_TRANSITIONS, ScheduleLineStatus.REVOKED),
    ),
}

MISMATCH = format_html('<strong style="color: var(--error-fg)">{}</strong>', "MISMATCH")


def _agreement_change_url(agreement_id: int) -> str:
    return reverse("admin:agreements_agreement_change", args=[agreement_id])


def _line_decide_url(line: AgreementScheduleLine, action: str, *, next_url: str) -> str:
    url = reverse("admin:agreements_agreementscheduleline_decide", args=[line.pk, action])
    return f"{url}?{urlencode({'next': next_url})}"


def _line_decision_links(line: AgreementScheduleLine, *, next_url: str):
    links = [
        (_line_decide_url(line, name, next_url=next_url), label)
        for name, (label, statuses) in LINE_DECISIONS.items()
        if line.status in statuses
    ]
    if not links:
        return "-"
    return format_html_join(" ", '<a href="{}" class="review-decision">{}</a>', links)


class ScheduleLineInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = AgreementScheduleLine
    fields = ("mid", "status", "justification", *DECISION_FIELDS, "review")
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

    def get_fields(self, request, obj=None):
        fields = super().get_fields(request, obj)
        if request.user.has_perm(LINE_REVIEW_PERMISSION):
            return fields
        return [field for field in fields if field != "review"]

    @admin.display(description="decide")
    def review(self, line: AgreementScheduleLine):
        """Each line's own decisions; the reason page comes back to the agreement's page."""
        return _line_decision_links(line, next_url=_agreement_change_url(line.agreement_id))


def _approve(agreement: Agreement, *, actor: User, reason: str) -> Agreement:
    return services.agreement_approve(agreement=agreement, actor=actor, reason=reason)


def _reject(agreement: Agreement, *, actor: User, reason: str) -> Agreement:
    return services.agreement_reject(agreement=agreement, actor=actor, reason=reason)


def _suspend(agreement: Agreement, *, actor: User, reason: str) -> Agreement:
    return services.agreement_suspend(agreement=agreement, actor=actor, reason=reason)


def _reinstate(agreement: Agreement, *, actor: User, reason: str) -> Agreement:
    return services.agreement_reinstate(agreement=agreement, actor=actor, reason=reason)


def _terminate(agreement: Agreement, *, actor: User, reason: str) -> Agreement:
    return services.agreement_terminate(agreement=agreement, actor=actor, reason=reason)


@admin.register(Agreement)
class AgreementAdmin(ReviewQueueMixin, SafeChangeListMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    """The signature queue: read the signed text, check its hash, approve or reject; later
    suspend, reinstate or terminate. Fields stay read-only."""

    review_permission = "agreements.change_agreement"
    list_display = (
        "provider",
        "version",
        "status",
        "signer_name",
        "signed_at",
        "text_hash",
        "lines_to_review",
        "decided_by",
        "decided_at",
    )
    list_filter = ("status", "version", "provider__provider_type")
    # "=" keeps MIDs exact: those the agreement schedules, and those its provider holds.
    search_fields = (
        *PROVIDER_SEARCH,
        "signer__email",
        "signer_name",
        "version__label",
        "=schedule_lines__mid",
        "=provider__mid_links__mid",
    )
    list_select_related = ("provider", "version", "decided_by")
    autocomplete_fields = ("provider", "version", "signer")
    date_hierarchy = "signed_at"
    # Submitted signatures first, the one waiting longest at the top; then the latest decided.
    ordering = pending_first(
        pending=Q(status=AgreementStatus.SUBMITTED),
        since="signed_at",
        then=(F("decided_at").desc(nulls_last=True), "-signed_at", "-pk"),
    )
    inlines = (ScheduleLineInline,)
    actions = (
        "approve_agreements",
        "reject_agreements",
        "suspend_agreements",
        "reinstate_agreements",
        "terminate_agreements",
    )
    decision_links = {
        "approve_agreements": (
            "Approve…",
            offered_from(
                AGREEMENT_TRANSITIONS, AgreementStatus.APPROVED, {AgreementStatus.SUBMITTED}
            ),
        ),
        "reject_agreements": (
            "Reject…",
            offered_from(AGREEMENT_TRANSITIONS, AgreementStatus.REJECTED),
        ),
        "suspend_agreements": (
            "Suspend…",
            offered_from(AGREEMENT_TRANSITIONS, AgreementStatus.SUSPENDED),
        ),
        "reinstate_agreements": (
            "Reinstate…",
            offered_from(
                AGREEMENT_TRANSITIONS, AgreementStatus.APPROVED, {AgreementStatus.SUSPENDED}
            ),
        ),
        "terminate_agreements": (
            "Terminate…",
            offered_from(AGREEMENT_TRANSITIONS, AgreementStatus.TERMINATED),
        ),
    }
    fieldsets = (
        (None, {"fields": ("provider", "version", "status")}),
        ("Text hash check", {"fields": ("hash_check",)}),
        (
            "Signer",
            {
                "fields": (
                    "signer",
                    "signer_membership",
                    "signer_name",
                    "signer_title",
                    "attested_authority",
                    "signed_at",
                    "ip_address",
                    "user_agent",
                )
            },
        ),
        ("Signed text", {"fields": ("signed_text",)}),
        ("Decision", {"fields": DECISION_FIELDS}),
    )
    readonly_fields = ("hash_check", "signer_membership", "signed_text")

    def get_queryset(self, request):
        return agreements_for_review(super().get_queryset(request))

    def review_summaries(self, request) -> list[tuple[str, str]]:
        agreements, lines = agreement_queue_summary()
        lines_url = reverse("admin:agreements_agreementscheduleline_changelist")
        return [
            (
                pending_summary(
                    agreements,
                    what="signatures awaiting review",
                    what_one="signature awaiting review",
                ),
                f"?status__exact={AgreementStatus.SUBMITTED}",
            ),
            (
                pending_summary(
                    lines,
                    what="schedule lines awaiting review",
                    what_one="schedule line awaiting review",
                ),
                f"{lines_url}?status__exact={ScheduleLineStatus.REQUESTED}",
            ),
        ]

    # --- Decisions: each opens the reason page, then calls one service per selected agreement

    @decision_action("Approve the selected signatures", permission="review")
    def approve_agreements(self, request, queryset):
        return self.run_decision(request, queryset, title="Approve agreements", decide=_approve)

    @decision_action("Reject the selected signatures", permission="review")
    def reject_agreements(self, request, queryset):
        return self.run_decision(request, queryset, title="Reject agreements", decide=_reject)

    @decision_action("Suspend the selected agreements", permission="review")
    def suspend_agreements(self, request, queryset):
        return self.run_decision(request, queryset, title="Suspend agreements", decide=_suspend)

    @decision_action("Reinstate the selected suspended agreements", permission="review")
    def reinstate_agreements(self, request, queryset):
        return self.run_decision(request, queryset, title="Reinstate agreements", decide=_reinstate)

    @decision_action("Terminate the selected agreements (final)", permission="review")
    def terminate_agreements(self, request, queryset):
        return self.run_decision(request, queryset, title="Terminate agreements", decide=_terminate)

    # --- Columns and read-only fields ------------------------------------------------------

    @admin.display(description="text hash")
    def text_hash(self, obj: Agreement):
        return "match" if agreement_text_hash_check(agreement=obj).matches else MISMATCH

    @admin.display(description="lines to review", ordering="lines_to_review")
    def lines_to_review(self, obj: Agreement) -> int:
        return getattr(obj, "lines_to_review", 0)

    @admin.display(description="hash check")
    def hash_check(self, obj: Agreement):
        check = agreement_text_hash_check(agreement=obj)
        digests = format_html(
            "<table><tbody>"
            "<tr><th>Recomputed from the version's text now</th><td><code>{}</code></td></tr>"
            "<tr><th>Recorded when the version was published</th><td><code>{}</code></td></tr>"
            "<tr><th>Recorded with the signature (text shown)</th><td><code>{}</code></td></tr>"
            "</tbody></table>",
            check.recomputed,
            check.published or "-",
            check.signed,
        )
        if check.matches:
            return format_html(
                "<p><strong>match</strong>: the signer was shown exactly the published text, "
                "and it is unchanged.</p>{}",
                digests,
            )
        problems = format_html_join("", "<li>{}</li>", ((p,) for p in check.problems))
        return format_html(
            '<p><strong style="color: var(--error-fg); font-size: 1.25rem">MISMATCH</strong>: '
            "the text cannot be shown to be the text that was signed. Do not approve; "
            "escalate.</p><ul>{}</ul>{}",
            problems,
            digests,
        )

    @admin.display(description="signer's role today")
    def signer_membership(self, obj: Agreement) -> str:
        membership = agreement_signer_membership(agreement=obj)
        if membership is None:
            return f"{obj.signer} is no longer a member of {obj.provider}."
        return f"{membership.get_role_display()} of {obj.provider}"

    @admin.display(description="text of the signed version")
    def signed_text(self, obj: Agreement):
        return format_html(
            '<pre style="white-space: pre-wrap; max-height: 40rem; overflow: auto">{}</pre>',
            obj.version.text,
        )


def _approve_line(line: AgreementScheduleLine, *, actor: User, reason: str):
    return services.schedule_line_approve(line=line, actor=actor, reason=reason)


def _reject_line(line: AgreementScheduleLine, *, actor: User, reason: str):
    return services.schedule_line_reject(line=line, actor=actor, reason=reason)


def _revoke_line(line: AgreementScheduleLine, *, actor: User, reason: str):
    return services.schedule_line_revoke(line=line, actor=actor, reason=reason)


@admin.register(AgreementScheduleLine)
class AgreementScheduleLineAdmin(
    ReviewQueueMixin, SafeChangeListMixin, ReadOnlyAdminMixin, admin.ModelAdmin
):
    """The schedule-line queue: each requested MID is approved or rejected on its own."""

    review_permission = LINE_REVIEW_PERMISSION
    list_display = (
        "mid",
        "provider",
        "agreement",
        "agreement_status",
        "status",
        "decided_by",
        "decided_at",
    )
    list_filter = ("status", "agreement__status")
    search_fields = (
        "=mid",
        *(f"agreement__{field}" for field in PROVIDER_SEARCH),
        "agreement__signer_name",
        "agreement__signer__email",
    )
    # The agreement's __str__ reads its provider and version.
    list_select_related = ("agreement__provider", "agreement__version", "decided_by")
    autocomplete_fields = ("agreement",)
    # Requested lines first, the longest waiting (earliest signature) at the top.
    ordering = pending_first(
        pending=Q(status=ScheduleLineStatus.REQUESTED),
        since="agreement__signed_at",
        then=(F("decided_at").desc(nulls_last=True), "mid", "-pk"),
    )
    actions = ("approve_lines", "reject_lines", "revoke_lines")
    decision_links = LINE_DECISIONS
    fields = ("agreement", "mid", "status", "justification", *DECISION_FIELDS)

    def review_summaries(self, request) -> list[tuple[str, str]]:
        return [
            (
                pending_summary(schedule_lines_pending_review(), what="awaiting review"),
                f"?status__exact={ScheduleLineStatus.REQUESTED}",
            )
        ]

    # --- Decisions: each opens the reason page, then calls one service per selected line ----

    @decision_action("Approve the selected schedule lines", permission="review")
    def approve_lines(self, request, queryset):
        return self.run_decision(
            request, queryset, title="Approve schedule lines", decide=_approve_line
        )

    @decision_action("Reject the selected schedule lines", permission="review")
    def reject_lines(self, request, queryset):
        return self.run_decision(
            request, queryset, title="Reject schedule lines", decide=_reject_line
        )

    @decision_action("Revoke the selected schedule lines", permission="review")
    def revoke_lines(self, request, queryset):
        return self.run_decision(
            request, queryset, title="Revoke schedule lines", decide=_revoke_line
        )

    # --- Columns -----------------------------------------------------------------------------

    @admin.display(description="provider", ordering="agreement__provider__legal_name")
    def provider(self, obj: AgreementScheduleLine):
        return obj.agreement.provider

    @admin.display(description="agreement status", ordering="agreement__status")
    def agreement_status(self, obj: AgreementScheduleLine) -> str:
        return obj.agreement.get_status_display()

"""Staff decisions as admin actions: an intermediate page asks for the reason, then one service
call per selected item, each in its own transaction, each e-mailed to the provider.

No rule lives here. The service decides (and raises DomainError when it refuses, for example
because another reviewer changed the item first); this only collects the reason, reports each
outcome and queues the notification on commit.
"""

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db import models, transaction
from django.template.response import TemplateResponse

from accounts.notifications import decision_notify_on_commit
from core.errors import DomainError, InvalidTransition

# A reason is a sentence or a paragraph for the audit log and an e-mail, not a document.
REASON_MAX_LENGTH = 2000


class DecisionForm(forms.Form):
    reason = forms.CharField(
        label="Reason",
        widget=forms.Textarea(attrs={"rows": 3, "cols": 80}),
        required=False,
        max_length=REASON_MAX_LENGTH,
        help_text="Recorded in the audit log and sent to the provider's owners and admins.",
    )

    def __init__(self, *args, reason_required: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["reason"].required = reason_required


Decide = Callable[..., Any]  # decide(obj, actor=..., reason=..., **form.cleaned_data extras)


class DecisionActionsMixin:
    decision_template = "admin/portal/decision_confirm.html"

    def run_decision(
        self,
        request,
        queryset: models.QuerySet,
        *,
        title: str,
        decide: Decide,
        reason_required: bool = True,
        form_class: type[DecisionForm] = DecisionForm,
        notify: bool = True,
    ):
        """Render the reason page (first call), or apply `decide` to each item (second call)."""
        if "confirm" in request.POST:
            form = form_class(request.POST, reason_required=reason_required)
            if form.is_valid():
                self._apply(request, queryset, form.cleaned_data, decide=decide, notify=notify)
                return None  # back to the changelist, with the messages
        else:
            form = form_class(reason_required=reason_required)
        context = {
            **self.admin_site.each_context(request),
            "title": title,
            "opts": self.model._meta,
            "queryset": queryset,
            "form": form,
            "action": request.POST.get("action", ""),
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "selected": request.POST.getlist(helpers.ACTION_CHECKBOX_NAME),
            "reason_required": reason_required,
            "media": self.media + form.media,
        }
        return TemplateResponse(request, self.decision_template, context)

    def _apply(self, request, queryset, cleaned: dict[str, Any], *, decide: Decide, notify: bool):
        reason = cleaned.pop("reason", "")
        done = 0
        for obj in queryset.order_by("pk"):
            try:
                with transaction.atomic():
                    result = decide(obj, actor=request.user, reason=reason, **cleaned)
                    if notify:
                        decision_notify_on_commit(subject=result if result is not None else obj)
            except InvalidTransition as exc:
                # The usual cause: another reviewer decided it between the list and this page.
                self.message_user(
                    request,
                    f"{obj}: {exc.message} Nothing was changed; another reviewer may have "
                    "decided it first, so check its current state before deciding again.",
                    messages.ERROR,
                )
            except DomainError as exc:
                self.message_user(request, f"{obj}: {exc.message}", messages.ERROR)
            else:
                done += 1
        if done:
            self.message_user(
                request, f"{done} item{'s' if done != 1 else ''} decided.", messages.SUCCESS
            )


def decision_action(description: str, *, permission: str):
    """`@admin.action` with the permission the decision needs (`has_<permission>_permission`)."""
    return admin.action(description=description, permissions=[permission])

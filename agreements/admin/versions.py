"""Admin for IP agreement versions: write a draft, edit it, publish it (which freezes it).

The add and change forms save through the services (agreement_version_create and
agreement_version_update, which canonicalise the text and audit the change); publishing is an
action with a confirmation page calling agreement_version_publish. A published version is
read-only. Each version shows its re-acceptance deadline and how many providers accepted it
(agreements.selectors.review). Nothing here decides anything.
"""

from django import forms
from django.contrib import admin, messages
from django.db.models import Q
from django.http import HttpResponseRedirect
from django.utils import formats, timezone
from django.utils.dateformat import format as date_format
from django.utils.html import format_html

from accounts.admin import ReviewQueueMixin, pending_first, pending_summary
from accounts.admin_decisions import DecisionForm, decision_action
from accounts.constants import ProviderType
from accounts.models import User
from agreements import services
from agreements.models import AgreementVersion
from agreements.selectors.review import (
    ACCEPTED_STATUSES,
    agreement_versions_in_draft,
    reacceptance_deadline,
    versions_for_review,
)
from agreements.services.versions import DRAFT_CHANGED, agreement_version_fingerprint
from core.admin import SafeChangeListMixin
from core.errors import DomainError

EDITABLE_FIELDS = ("label", "effective_at", "reacceptance_days", "applies_to", "text")
ACCEPTED_LABEL = ", ".join(status.label.lower() for status in ACCEPTED_STATUSES)


class AgreementTextField(forms.CharField):
    """The text as typed (the service canonicalises it); changed only if its canonical form is,
    so saving a draft untouched writes no audit entry."""

    def __init__(self, **kwargs):
        super().__init__(
            strip=False, widget=forms.Textarea(attrs={"rows": 30, "cols": 100}), **kwargs
        )

    def has_changed(self, initial, data) -> bool:
        return services.canonical_text(initial or "") != services.canonical_text(data or "")

    def validate(self, value) -> None:
        super().validate(value)
        if not value.strip():
            raise forms.ValidationError("Write the agreement's text.", code="required")


class AgreementVersionForm(forms.ModelForm):
    """A draft's fields. Saved by the admin through the services, never by `save()`."""

    text = AgreementTextField(
        label="Text",
        help_text="Line endings, trailing spaces and Unicode forms are normalised when saved. "
        "Publishing freezes the text and records its SHA-256.",
    )

    applies_to = forms.MultipleChoiceField(
        label="Applies to",
        choices=ProviderType.choices,
        widget=forms.CheckboxSelectMultiple,
        help_text="The provider types that must sign this version.",
    )

    # What the editor loaded (agreement_version_fingerprint), posted back with the edit: the
    # service refuses the save if the draft changed meanwhile. Only on a draft's change form.
    loaded_fingerprint = forms.CharField(widget=forms.HiddenInput, required=False)

    class Meta:
        model = AgreementVersion
        fields = EDITABLE_FIELDS
        help_texts = {
            "effective_at": "From when the version is the one to sign (between 2000-01-01 and "
            "ten years from now)."
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.current_fingerprint = ""
        if self.instance.pk is not None:
            self.current_fingerprint = agreement_version_fingerprint(self.instance)
            self.fields["loaded_fingerprint"].initial = self.current_fingerprint
            self.fields["loaded_fingerprint"].required = True
        else:
            del self.fields["loaded_fingerprint"]

    def clean_loaded_fingerprint(self) -> str:
        # Early and friendly: the form keeps the editor's input. The service checks again
        # under the row lock, where an edit landing after this check is refused too.
        loaded = self.cleaned_data["loaded_fingerprint"]
        if loaded != self.current_fingerprint:
            raise forms.ValidationError(DRAFT_CHANGED + ".", code="stale")
        return loaded

    def clean(self):
        cleaned = super().clean()
        if "loaded_fingerprint" in self.errors:
            # Shown at the top too: the field itself is hidden.
            self.add_error(None, DRAFT_CHANGED + ".")
        return cleaned


class PinnedTextWidget(forms.HiddenInput):
    """The full text of a draft as the confirmation page shows it, and a hidden input posting
    back the SHA-256 of that text: publishing then freezes exactly what was shown."""

    def __init__(self, *, text: str, digest: str):
        super().__init__()
        self.text, self.digest = text, digest

    @property
    def is_hidden(self) -> bool:
        return False  # the text is shown, with its label

    def render(self, name, value, attrs=None, renderer=None):
        hidden = super().render(name, value, attrs, renderer)
        return format_html(
            '<pre style="white-space: pre-wrap; max-height: 30em; overflow: auto; '
            'border: 1px solid #ccc; padding: 0.5em">{}</pre><p>SHA-256: <code>{}</code></p>{}',
            self.text,
            self.digest,
            hidden,
        )


def pinned_field_name(version: AgreementVersion) -> str:
    return f"text_sha256_{version.pk}"


class PublishForm(DecisionForm):
    """The confirmation page of "publish": no reason (the service records none), but an
    explicit acknowledgement that the text is frozen, with the dates it will take effect, and
    each draft's full text with its SHA-256, posted back so that the text published is the
    text shown (agreement_version_publish refuses otherwise)."""

    freeze = forms.BooleanField(
        label="Publish and freeze",
        help_text="The text can never be changed again; providers can sign it, and those on "
        "older versions must re-accept it by its re-acceptance deadline.",
    )
    # What the selected versions will do, and the versions themselves, set per page by
    # `publish_form_for`.
    details = ""
    versions: tuple[AgreementVersion, ...] = ()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        del self.fields["reason"]
        if self.details:
            self.fields["freeze"].help_text += " " + self.details
        for version in self.versions:
            digest = services.text_sha256(version.text)
            self.fields[pinned_field_name(version)] = forms.CharField(
                label=f"Text of {version}",
                initial=digest,
                max_length=64,
                widget=PinnedTextWidget(text=version.text, digest=digest),
                help_text="The text published is exactly this one: if the draft changes before "
                "you confirm, nothing is published.",
            )
        self.order_fields([pinned_field_name(version) for version in self.versions])


def publish_form_for(versions) -> type[PublishForm]:
    """The confirmation form naming each version's effective date and deadline, and showing
    each draft's text."""
    versions = tuple(versions)
    details = "; ".join(
        f"{version.label}: in effect from {_when(version.effective_at)}, older versions "
        f"re-accepted by {_when(reacceptance_deadline(version))}"
        for version in versions
    )
    drafts = tuple(version for version in versions if not version.is_published)
    attrs = {"details": f"{details}." if details else "", "versions": drafts}
    return type("PublishForm", (PublishForm,), attrs)


def _publish(version: AgreementVersion, *, actor: User, reason: str, freeze: bool, **pinned):
    # A version the page did not show (published meanwhile, or not selected then) has no hash
    # posted: "" never matches, so it is refused rather than published unseen.
    return services.agreement_version_publish(
        version=version,
        actor=actor,
        expected_text_sha256=pinned.get(pinned_field_name(version)) or "",
    )


def _when(moment) -> str:
    return date_format(timezone.localtime(moment), "Y-m-d H:i T")


@admin.register(AgreementVersion)
class AgreementVersionAdmin(ReviewQueueMixin, SafeChangeListMixin, admin.ModelAdmin):
    """Drafts first (the oldest at the top), then published versions, the latest in effect
    first."""

    review_permission = "agreements.change_agreementversion"
    form = AgreementVersionForm
    list_display = (
        "label",
        "is_published",
        "effective_at",
        "deadline",
        "provider_types",
        "accepted",
        "in_force",
        "awaiting",
        "published_at",
    )
    list_filter = (("published_at", admin.EmptyFieldListFilter),)
    search_fields = ("label",)
    date_hierarchy = "effective_at"
    ordering = pending_first(
        pending=Q(published_at__isnull=True), since="created_at", then=("-effective_at", "-pk")
    )
    actions = ("publish_versions",)
    # A version has no status field: item_decisions offers "publish" on drafts.
    decision_links = {"publish_versions": ("Publish…", ())}
    readonly_fields = (
        "state",
        "published_at",
        "text_sha256",
        "deadline",
        "acceptance",
        "provider_types",
        "created_at",
    )

    # --- Permissions: drafts are written and edited here; nothing is ever deleted -------------

    def has_add_permission(self, request) -> bool:
        return request.user.has_perm("agreements.add_agreementversion")

    def has_change_permission(self, request, obj=None) -> bool:
        if obj is not None and obj.is_published:
            return False  # frozen
        return request.user.has_perm("agreements.change_agreementversion")

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    # --- The queue -----------------------------------------------------------------------------

    def get_queryset(self, request):
        return versions_for_review(super().get_queryset(request))

    def review_summaries(self, request) -> list[tuple[str, str]]:
        return [
            (
                pending_summary(
                    agreement_versions_in_draft(),
                    what="drafts not yet published",
                    what_one="draft not yet published",
                ),
                "?published_at__isempty=1",
            )
        ]

    def item_decisions(self, request, obj) -> list[tuple[str, str]]:
        if obj is None or obj.pk is None or obj.is_published:
            return []
        actions = self.get_actions(request)
        if "publish_versions" not in actions:
            return []
        return [("Publish…", self.decide_url(obj, "publish_versions"))]

    # --- The form ------------------------------------------------------------------------------

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return [(None, {"fields": EDITABLE_FIELDS})]
        if not obj.is_published:
            return [
                (None, {"fields": (*EDITABLE_FIELDS, "loaded_fingerprint")}),
                ("Publication", {"fields": ("state", "deadline", "created_at")}),
            ]
        return [
            (
                None,
                {"fields": ("label", "effective_at", "reacceptance_days", "provider_types")},
            ),
            (
                "Publication",
                {"fields": ("state", "published_at", "text_sha256", "deadline", "created_at")},
            ),
            ("Acceptance", {"fields": ("acceptance",)}),
            ("Text", {"fields": ("text",)}),
        ]

    def save_model(self, request, obj, form, change):
        """Write through the services: create the draft, or apply the changed fields to it."""
        data = {name: form.cleaned_data[name] for name in EDITABLE_FIELDS}
        if change:
            changes = {name: data[name] for name in form.changed_data if name in data}
            if not changes:
                return
            saved = services.agreement_version_update(
                version=obj,
                actor=request.user,
                expected_fingerprint=form.cleaned_data["loaded_fingerprint"],
                **changes,
            )
        else:
            saved = services.agreement_version_create(actor=request.user, **data)
        # The admin goes on with `obj` (its log entry, the redirect): make it the saved row.
        for field in AgreementVersion._meta.concrete_fields:
            setattr(obj, field.attname, getattr(saved, field.attname))
        obj._state.adding, obj._state.db = False, saved._state.db

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        # The form checks what the model can (label taken, types, bounds), so a service refuses
        # only when the draft changed under the form, e.g. published meanwhile. The whole save
        # is rolled back; the message says why.
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except DomainError as exc:
            self.message_user(request, exc.message, messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    # --- Decisions -----------------------------------------------------------------------------

    @decision_action("Publish the selected drafts (freezes them)", permission="review")
    def publish_versions(self, request, queryset):
        return self.run_decision(
            request,
            queryset,
            title="Publish agreement versions",
            decide=_publish,
            reason_required=False,
            form_class=publish_form_for(queryset),
            notify=False,  # no provider is decided on: the portal's banner asks to re-accept
        )

    # --- Columns and read-only fields ----------------------------------------------------------

    @admin.display(boolean=True, description="published")
    def is_published(self, obj: AgreementVersion) -> bool:
        return obj.is_published

    @admin.display(description="state")
    def state(self, obj: AgreementVersion) -> str:
        if obj.is_published:
            return f"Published on {_when(obj.published_at)}: frozen."
        return "Draft: editable until published."

    @admin.display(description="applies to")
    def provider_types(self, obj: AgreementVersion) -> str:
        return ", ".join(ProviderType(value).label for value in obj.applies_to)

    @admin.display(description="re-acceptance deadline", ordering="deadline")
    def deadline(self, obj: AgreementVersion) -> str:
        # As the admin prints effective_at next to it (read-only fields would print repr()).
        return formats.localize(timezone.template_localtime(reacceptance_deadline(obj)))

    @admin.display(description="accepted", ordering="accepted_count")
    def accepted(self, obj: AgreementVersion) -> int:
        return getattr(obj, "accepted_count", 0)

    @admin.display(description="in force", ordering="in_force_count")
    def in_force(self, obj: AgreementVersion) -> int:
        return getattr(obj, "in_force_count", 0)

    @admin.display(description="awaiting review", ordering="awaiting_count")
    def awaiting(self, obj: AgreementVersion) -> int:
        return getattr(obj, "awaiting_count", 0)

    @admin.display(description="providers")
    def acceptance(self, obj: AgreementVersion) -> str:
        return (
            f"{self.accepted(obj)} accepted it (staff approved their signature; the agreement "
            f"is now {ACCEPTED_LABEL}); {self.in_force(obj)} hold it in force (approved); "
            f"{self.awaiting(obj)} signed it and await review."
        )

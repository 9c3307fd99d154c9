"""Forms styled with USWDS classes, so every portal form looks and behaves the same."""

from django import forms

WIDGET_CLASSES = {
    forms.Select: "usa-select",
    forms.SelectMultiple: "usa-select",
    forms.Textarea: "usa-textarea",
    forms.ClearableFileInput: "usa-file-input",
    forms.FileInput: "usa-file-input",
    forms.CheckboxInput: "usa-checkbox__input",
}


class UswdsFormMixin:
    """Adds the USWDS class to each widget, the error class to invalid inputs, and links hints
    and errors to their inputs for screen readers."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name, field in self.fields.items():
            widget = field.widget
            css = next(
                (c for kind, c in WIDGET_CLASSES.items() if isinstance(widget, kind)), "usa-input"
            )
            if isinstance(widget, forms.HiddenInput | forms.RadioSelect):
                continue
            widget.attrs["class"] = f"{widget.attrs.get('class', '')} {css}".strip()
            if field.help_text:
                widget.attrs["aria-describedby"] = f"id_{name}-hint"

    def full_clean(self):
        super().full_clean()
        for name in self.errors:
            self._mark_invalid(name)

    def add_error(self, field, error):
        super().add_error(field, error)
        # A service's refusal arrives after cleaning (PortalView.form_error): mark it the same.
        for name in list(self._errors or ()):
            self._mark_invalid(name)

    def _mark_invalid(self, name: str) -> None:
        """Idempotent: a field may collect errors from cleaning and from the service."""
        if name not in self.fields:
            return
        widget = self.fields[name].widget
        classes = widget.attrs.get("class", "").split()
        if "usa-input" in classes and "usa-input--error" not in classes:
            widget.attrs["class"] = " ".join([*classes, "usa-input--error"])
        described = widget.attrs.get("aria-describedby", "").split()
        if f"id_{name}-error" not in described:
            widget.attrs["aria-describedby"] = " ".join([*described, f"id_{name}-error"])


class UswdsForm(UswdsFormMixin, forms.Form):
    pass

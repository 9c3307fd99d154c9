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
            if name in self.fields:
                widget = self.fields[name].widget
                if "usa-input" in widget.attrs.get("class", ""):
                    widget.attrs["class"] += " usa-input--error"
                described = widget.attrs.get("aria-describedby", "")
                widget.attrs["aria-describedby"] = f"{described} id_{name}-error".strip()


class UswdsForm(UswdsFormMixin, forms.Form):
    pass

"""The staff admin's user forms: Django's, with the address normalised and checked in any case."""

from django.contrib.auth import forms as auth_forms
from django.core.exceptions import ValidationError

from accounts.models import User

EMAIL_TAKEN = "A user with this e-mail address already exists."


class NormalizedEmailMixin:
    def clean_email(self) -> str:
        email = User.normalize_email_address(self.cleaned_data.get("email"))
        # The model's unique checks would catch this too, but only as a form-wide
        # "Constraint ... is violated."; name the field and say what is wrong.
        if User.objects.with_email(email).exclude(pk=self.instance.pk).exists():
            raise ValidationError(EMAIL_TAKEN, code="unique")
        return email


class UserCreationForm(NormalizedEmailMixin, auth_forms.AdminUserCreationForm):
    class Meta:
        model = User
        fields = ("email",)


class UserChangeForm(NormalizedEmailMixin, auth_forms.UserChangeForm):
    class Meta(auth_forms.UserChangeForm.Meta):
        model = User

"""The one error contract of services: a DomainError that forms and the API can place."""

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError

from core.errors import DomainError


class MidForm(forms.Form):
    mid = forms.CharField()


def test_a_field_error_lands_on_its_form_field():
    form = MidForm(data={"mid": "123456"})
    assert form.is_valid()

    form.add_error(
        None, DomainError("MID 123456 is already claimed.", field="mid").as_validation_error()
    )

    assert form.errors == {"mid": ["MID 123456 is already claimed."]}


def test_an_error_without_a_field_belongs_to_the_whole_form():
    error = DomainError("The provider is closed.")
    form = MidForm(data={"mid": "123456"})
    form.is_valid()

    form.add_error(None, error.as_validation_error())

    assert error.field_errors == {NON_FIELD_ERRORS: ["The provider is closed."]}
    assert form.non_field_errors() == ["The provider is closed."]


def test_a_models_validation_error_keeps_its_fields():
    error = DomainError.from_validation_error(
        ValidationError({"crid": ["A CRID is 2 to 18 digits."], "zip_code": ["Bad ZIP."]})
    )

    assert error.field_errors == {"crid": ["A CRID is 2 to 18 digits."], "zip_code": ["Bad ZIP."]}
    assert "A CRID is 2 to 18 digits." in error.message

"""Domain errors: the one error contract of every service.

A service that refuses raises `DomainError` and changes nothing. Its message is written for the
person who triggered it; `field_errors` says which input field each problem belongs to
(`NON_FIELD_ERRORS` for the whole request), so a portal form, the admin and the API can all
show it where it belongs: forms through `as_validation_error()`, the API from `field_errors`.
"""

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import IntegrityError, models, transaction


class DomainError(Exception):
    """A business rule refused the operation; nothing was changed."""

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        field_errors: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if field_errors is None:
            field_errors = {field or NON_FIELD_ERRORS: [message]}
        self.field_errors: dict[str, list[str]] = {k: list(v) for k, v in field_errors.items()}

    @classmethod
    def from_validation_error(cls, exc: ValidationError) -> "DomainError":
        errors = (
            exc.message_dict if hasattr(exc, "error_dict") else {NON_FIELD_ERRORS: exc.messages}
        )
        return cls("; ".join(exc.messages), field_errors=errors)

    def as_validation_error(self) -> ValidationError:
        """For a Django form: `form.add_error(None, exc.as_validation_error())` puts each
        message on its field (the form must have the fields named)."""
        return ValidationError(
            {
                field: [ValidationError(text) for text in texts]
                for field, texts in self.field_errors.items()
            }
        )


class InvalidTransition(DomainError):
    """The state machine does not allow this move from the record's current status."""


class ImmutableRecord(DomainError):
    """The record is frozen (for example, a published agreement version)."""


def validate(instance: models.Model, *, exclude: Sequence[str] = ()) -> None:
    """`full_clean()` as a service needs it: a DomainError naming the fields, not Django's."""
    try:
        instance.full_clean(exclude=list(exclude) or None)
    except ValidationError as exc:
        raise DomainError.from_validation_error(exc) from exc


def violated_constraint(exc: IntegrityError) -> str | None:
    """The name of the constraint PostgreSQL reported, if any."""
    diag = getattr(exc.__cause__, "diag", None)
    return getattr(diag, "constraint_name", None)


@contextmanager
def unique_violations_as_domain_errors(messages: Mapping[str, DomainError]) -> Iterator[None]:
    """Turn the named constraints' violations inside the block into the given DomainErrors.

    A service checks for a duplicate first so people get a clear message; two identical
    requests at once can both pass that check, and the database constraint stops the second.
    The block runs in a savepoint, so the caller's transaction stays usable after the refusal.
    """
    try:
        with transaction.atomic():
            yield
    except IntegrityError as exc:
        error = messages.get(violated_constraint(exc) or "")
        if error is None:
            raise
        raise error from exc

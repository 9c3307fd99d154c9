"""Domain errors. Their messages are written for the person who triggered them."""


class DomainError(Exception):
    """A business rule refused the operation; nothing was changed."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidTransition(DomainError):
    """The state machine does not allow this move from the record's current status."""


class ImmutableRecord(DomainError):
    """The record is frozen (for example, a published agreement version)."""

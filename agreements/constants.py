"""Statuses and transition tables for agreements, schedule lines and MID links,
plus the access decision's reason codes."""

from django.db import models

from accounts.constants import ProviderType


class AgreementStatus(models.TextChoices):
    SUBMITTED = "SUBMITTED", "Submitted"
    APPROVED = "APPROVED", "Approved"
    REJECTED = "REJECTED", "Rejected"
    SUSPENDED = "SUSPENDED", "Suspended"
    TERMINATED = "TERMINATED", "Terminated"
    SUPERSEDED = "SUPERSEDED", "Superseded"


AGREEMENT_TRANSITIONS: dict[str, frozenset[str]] = {
    AgreementStatus.SUBMITTED: frozenset({AgreementStatus.APPROVED, AgreementStatus.REJECTED}),
    AgreementStatus.APPROVED: frozenset(
        {AgreementStatus.SUSPENDED, AgreementStatus.TERMINATED, AgreementStatus.SUPERSEDED}
    ),
    # A suspended agreement can be reinstated, or ended without reinstating it first.
    AgreementStatus.SUSPENDED: frozenset({AgreementStatus.APPROVED, AgreementStatus.TERMINATED}),
    AgreementStatus.REJECTED: frozenset(),
    AgreementStatus.TERMINATED: frozenset(),
    AgreementStatus.SUPERSEDED: frozenset(),
}


class ScheduleLineStatus(models.TextChoices):
    REQUESTED = "REQUESTED", "Requested"
    APPROVED = "APPROVED", "Approved"
    REJECTED = "REJECTED", "Rejected"
    REVOKED = "REVOKED", "Revoked"


SCHEDULE_LINE_TRANSITIONS: dict[str, frozenset[str]] = {
    ScheduleLineStatus.REQUESTED: frozenset(
        {ScheduleLineStatus.APPROVED, ScheduleLineStatus.REJECTED}
    ),
    # Access once granted must be withdrawable without ending the whole agreement.
    ScheduleLineStatus.APPROVED: frozenset({ScheduleLineStatus.REVOKED}),
    ScheduleLineStatus.REJECTED: frozenset(),
    ScheduleLineStatus.REVOKED: frozenset(),
}


class MidRelation(models.TextChoices):
    OWNED = "OWNED", "Owned"
    AUTHORIZED_BY_OWNER = "AUTHORIZED_BY_OWNER", "Authorized by the owner"


class MidLinkStatus(models.TextChoices):
    REQUESTED = "REQUESTED", "Requested"
    VERIFIED = "VERIFIED", "Verified"
    REJECTED = "REJECTED", "Rejected"
    REVOKED = "REVOKED", "Revoked"
    WITHDRAWN = "WITHDRAWN", "Withdrawn"


MID_LINK_TRANSITIONS: dict[str, frozenset[str]] = {
    # Staff (or, for a claim routed to the MID's registered owner, that owner) verify or
    # reject a claim; the claimant may withdraw it while nobody has decided yet.
    MidLinkStatus.REQUESTED: frozenset(
        {MidLinkStatus.VERIFIED, MidLinkStatus.REJECTED, MidLinkStatus.WITHDRAWN}
    ),
    MidLinkStatus.VERIFIED: frozenset({MidLinkStatus.REVOKED}),
    MidLinkStatus.REJECTED: frozenset(),
    MidLinkStatus.REVOKED: frozenset(),
    MidLinkStatus.WITHDRAWN: frozenset(),
}

# A link is open while it is waiting for a decision or grants access: at most one open link per
# provider, MID and relation (a unique constraint), and a new claim is refused while one is open.
# A withdrawn, rejected or revoked link is closed, so the MID can be claimed again.
MID_LINK_OPEN_STATUSES: tuple[str, ...] = (MidLinkStatus.REQUESTED, MidLinkStatus.VERIFIED)

# Provider types that must hold a current, approved IP agreement to read any tracking data.
AGREEMENT_REQUIRED_TYPES: frozenset[str] = frozenset({ProviderType.SERVICE_PROVIDER})

# 6 digits starting 0-8, or 9 digits starting 9 (domain.md section 3.1). Shared by the model
# validator and the database check constraint.
MID_REGEX = r"^([0-8][0-9]{5}|9[0-9]{8})$"


class ReasonCode(models.TextChoices):
    """Machine-readable reasons the access decision gives. Labels are the plain-language text."""

    PROVIDER_NOT_ACTIVE = "PROVIDER_NOT_ACTIVE", "The provider account is not active."
    AGREEMENT_REQUIRED = (
        "AGREEMENT_REQUIRED",
        "An approved IP agreement is required for this provider type.",
    )
    AGREEMENT_REACCEPTANCE_REQUIRED = (
        "AGREEMENT_REACCEPTANCE_REQUIRED",
        "A newer IP agreement version is in effect and its re-acceptance deadline has passed.",
    )
    BILLING_HOLD = "BILLING_HOLD", "Access is on hold until an overdue balance is paid."
    MID_NOT_AUTHORIZED = (
        "MID_NOT_AUTHORIZED",
        "The provider is not authorized for this Mailer ID.",
    )
    MID_LINK_NOT_IN_WINDOW = (
        "MID_LINK_NOT_IN_WINDOW",
        "The provider's link to this Mailer ID is outside its validity window.",
    )
    NO_MID_IN_TRACKING_NUMBER = (
        "NO_MID_IN_TRACKING_NUMBER",
        "This tracking number carries no shipper Mailer ID, so access cannot be granted by MID.",
    )
    INVALID_TRACKING_NUMBER = "INVALID_TRACKING_NUMBER", "The tracking number is not valid."
    AMBIGUOUS_TRACKING_NUMBER = (
        "AMBIGUOUS_TRACKING_NUMBER",
        "The barcode reads as two tracking numbers with different Mailer IDs, so it is refused. "
        "Send the tracking number (PIC) without the 420 + ZIP routing prefix.",
    )
    INVALID_MID = "INVALID_MID", "The Mailer ID is not a valid 6- or 9-digit MID."
    DECISION_ERROR = (
        "DECISION_ERROR",
        "Access could not be evaluated, so it is denied. Please retry or contact support.",
    )


# Denials caused by input that cannot be read with certainty: the caller must correct the
# request (the tracking API answers 400), as opposed to a refusal of access (403).
BAD_REQUEST_REASONS: frozenset[str] = frozenset(
    {
        ReasonCode.INVALID_TRACKING_NUMBER,
        ReasonCode.AMBIGUOUS_TRACKING_NUMBER,
        ReasonCode.INVALID_MID,
    }
)

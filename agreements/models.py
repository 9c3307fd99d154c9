"""IP agreement versions and signatures, schedule lines, Mailer ID links and the audit log."""

import uuid
from datetime import UTC, datetime

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, RegexValidator
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from accounts.constants import ProviderType
from accounts.models import Provider, crid_validator
from agreements.constants import (
    MID_LINK_OPEN_STATUSES,
    MID_REGEX,
    AgreementStatus,
    MidLinkStatus,
    MidRelation,
    ScheduleLineStatus,
)
from agreements.uploads import BY_CONTENT_TYPE
from core.storage import private_storage

mid_validator = RegexValidator(
    MID_REGEX, "A Mailer ID is 6 digits starting 0-8, or 9 digits starting with 9."
)
sha256_validator = RegexValidator(r"^[0-9a-f]{64}$", "Expected a lowercase hex SHA-256 digest.")

EARLIEST_EFFECTIVE_AT = datetime(2000, 1, 1, tzinfo=UTC)
EFFECTIVE_AT_YEARS_AHEAD = 10


def latest_effective_at() -> datetime:
    """Now plus ten years (29 February becomes 28 February)."""
    now = timezone.now()
    try:
        return now.replace(year=now.year + EFFECTIVE_AT_YEARS_AHEAD)
    except ValueError:
        return now.replace(year=now.year + EFFECTIVE_AT_YEARS_AHEAD, day=28)


def effective_at_validator(value: datetime) -> None:
    """A version takes effect between 2000-01-01 and ten years from now: a typo such as
    9999-12-31 would otherwise push its re-acceptance deadline past what dates can hold."""
    latest = latest_effective_at()
    if value < EARLIEST_EFFECTIVE_AT or value > latest:
        raise ValidationError(
            "The effective date must be between 2000-01-01 and %(latest)s (ten years from now).",
            code="effective_at_out_of_bounds",
            params={"latest": f"{latest:%Y-%m-%d}"},
        )


class StaffDecision(models.Model):
    """Who decided a record's latest status, when, and why (set by core.transitions)."""

    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_reason = models.TextField(blank=True)

    class Meta:
        abstract = True


class AgreementVersion(models.Model):
    """A version of the IP agreement text. Immutable once published (see services)."""

    label = models.CharField(max_length=40, unique=True)
    text = models.TextField()
    # SHA-256 of the canonical text (agreements.services.canonical_text); set on publish.
    text_sha256 = models.CharField(max_length=64, blank=True)
    published_at = models.DateTimeField(null=True, blank=True)
    effective_at = models.DateTimeField(validators=[effective_at_validator])
    reacceptance_days = models.PositiveIntegerField(
        default=30,
        validators=[MaxValueValidator(3650)],
        help_text="How long holders of an older version keep access after this one takes effect.",
    )
    applies_to = ArrayField(
        models.CharField(max_length=20, choices=ProviderType.choices),
        default=list,
        help_text="Provider types this version applies to.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-effective_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(published_at__isnull=True) | ~Q(text_sha256=""),
                name="agreements_version_published_has_hash",
            ),
        ]

    def __str__(self) -> str:
        return f"IP agreement {self.label}"

    @property
    def is_published(self) -> bool:
        return self.published_at is not None


class Agreement(StaffDecision):
    """One provider's signature on one agreement version, and staff's decision on it."""

    provider = models.ForeignKey(Provider, on_delete=models.PROTECT, related_name="agreements")
    version = models.ForeignKey(
        AgreementVersion, on_delete=models.PROTECT, related_name="agreements"
    )
    signer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="signed_agreements"
    )
    signer_name = models.CharField("signer's full name", max_length=200)
    signer_title = models.CharField("signer's title", max_length=200)
    attested_authority = models.BooleanField(
        help_text="The signer attested they have authority to bind the provider."
    )
    signed_at = models.DateTimeField()
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.TextField(blank=True)
    signed_text_sha256 = models.CharField(
        "SHA-256 of the text shown", max_length=64, validators=[sha256_validator]
    )

    status = models.CharField(
        max_length=20, choices=AgreementStatus.choices, default=AgreementStatus.SUBMITTED
    )

    class Meta:
        ordering = ["-signed_at", "-pk"]
        constraints = [
            # The access decision relies on there being at most one agreement in force.
            models.UniqueConstraint(
                fields=["provider"],
                condition=Q(status=AgreementStatus.APPROVED),
                name="agreements_one_approved_per_provider",
            ),
            models.UniqueConstraint(
                fields=["provider", "version"],
                condition=Q(status=AgreementStatus.SUBMITTED),
                name="agreements_one_pending_signature_per_version",
            ),
            models.CheckConstraint(
                condition=Q(attested_authority=True), name="agreements_signer_attested"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.provider} / {self.version.label} ({self.get_status_display()})"


class AgreementScheduleLine(StaffDecision):
    """A MID the provider neither owns nor is authorized for, requested under an agreement."""

    agreement = models.ForeignKey(
        Agreement, on_delete=models.PROTECT, related_name="schedule_lines"
    )
    mid = models.CharField("MID", max_length=9, validators=[mid_validator])
    justification = models.TextField()
    status = models.CharField(
        max_length=20, choices=ScheduleLineStatus.choices, default=ScheduleLineStatus.REQUESTED
    )

    class Meta:
        ordering = ["agreement", "mid"]
        indexes = [models.Index(fields=["mid", "status"])]
        constraints = [
            models.UniqueConstraint(
                fields=["agreement", "mid"], name="agreements_schedule_line_unique_mid"
            ),
            models.CheckConstraint(
                condition=Q(mid__regex=MID_REGEX), name="agreements_schedule_line_mid_format"
            ),
        ]

    def __str__(self) -> str:
        return f"MID {self.mid} under {self.agreement}"


def evidence_upload_to(instance: "MidLink", filename: str) -> str:
    """A random name under the provider's folder. The uploader's file name is ignored (it is
    kept in `evidence_name` for display only); the extension is the one of the detected type."""
    kind = BY_CONTENT_TYPE.get(instance.evidence_content_type)
    extension = kind.extension if kind else ""
    return f"mid-evidence/{instance.provider_id}/{uuid.uuid4().hex}{extension}"


class MidLink(StaffDecision):
    """The claim "this provider may read this MID", verified by staff, or consented to by the
    MID's owner when that owner is a provider registered here (see `owner_provider`)."""

    provider = models.ForeignKey(Provider, on_delete=models.PROTECT, related_name="mid_links")
    # A string, never an integer: 6-digit MIDs may start with 0.
    mid = models.CharField("MID", max_length=9, validators=[mid_validator])
    relation = models.CharField(max_length=20, choices=MidRelation.choices)
    owner_name = models.CharField(
        max_length=200, blank=True, help_text="For authorized links: the MID owner's name."
    )
    owner_crid = models.CharField(
        "owner's CRID",
        max_length=18,
        blank=True,
        help_text="For authorized links: the MID owner's CRID.",
        validators=[crid_validator],
    )
    # Private: no URL; served only by agreements.views.mids.MidEvidenceView.
    evidence = models.FileField(
        upload_to=evidence_upload_to,
        storage=private_storage,
        blank=True,
        help_text="For authorized links: the owner's letter of authorization.",
    )
    evidence_name = models.CharField(
        "evidence file name",
        max_length=255,
        blank=True,
        help_text="The name the file had on the uploader's computer (for display only).",
    )
    evidence_content_type = models.CharField(
        "evidence type",
        max_length=40,
        blank=True,
        choices=[(kind.content_type, kind.label) for kind in BY_CONTENT_TYPE.values()],
        help_text="Detected from the file's content when it was uploaded.",
    )
    # Owner consent. Set when an authorized claim is routed to the provider that holds the MID's
    # verified OWNED link here (it then needs no letter), or when that owner grants access itself.
    owner_provider = models.ForeignKey(
        Provider,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="mid_consents",
        verbose_name="owner asked for consent",
        help_text="The registered owner who decides this link (empty: staff decide on a letter).",
    )
    consented_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="The owner's member who approved the request or granted the access.",
    )
    consented_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(
        max_length=20, choices=MidLinkStatus.choices, default=MidLinkStatus.REQUESTED
    )
    valid_from = models.DateTimeField()
    valid_until = models.DateTimeField(null=True, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    requested_at = models.DateTimeField(auto_now_add=True)
    # Kept when a later decision (a revocation) overwrites the decided_* fields.
    verified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    verified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["provider", "mid", "-pk"]
        indexes = [
            models.Index(fields=["provider", "mid", "status"]),
            # "Who can read my MIDs": every provider's links to the owner's MIDs.
            models.Index(fields=["mid", "status"], name="agreements_midlink_mid_status"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["mid"],
                condition=Q(relation=MidRelation.OWNED, status=MidLinkStatus.VERIFIED),
                name="agreements_one_verified_owner_per_mid",
            ),
            models.UniqueConstraint(
                fields=["provider", "mid", "relation"],
                condition=Q(status__in=list(MID_LINK_OPEN_STATUSES)),
                name="agreements_one_open_link_per_provider_mid_relation",
            ),
            models.CheckConstraint(
                condition=Q(mid__regex=MID_REGEX), name="agreements_mid_link_mid_format"
            ),
            # A letter names the owner; a link decided by the registered owner names it by FK.
            models.CheckConstraint(
                condition=Q(relation=MidRelation.OWNED)
                | Q(owner_provider__isnull=False)
                | (~Q(owner_name="") & ~Q(owner_crid="")),
                name="agreements_authorized_link_names_owner",
            ),
            models.CheckConstraint(
                condition=Q(owner_provider__isnull=True)
                | (Q(relation=MidRelation.AUTHORIZED_BY_OWNER) & ~Q(owner_provider=F("provider"))),
                name="agreements_consent_owner_is_another_provider",
            ),
            # A consent is only ever given by the owner's member, and has both its actor and time.
            models.CheckConstraint(
                condition=(Q(consented_by__isnull=True) & Q(consented_at__isnull=True))
                | (
                    Q(owner_provider__isnull=False)
                    & Q(consented_by__isnull=False)
                    & Q(consented_at__isnull=False)
                ),
                name="agreements_consent_has_actor_and_time",
            ),
            models.CheckConstraint(
                condition=Q(valid_until__isnull=True) | Q(valid_until__gt=F("valid_from")),
                name="agreements_mid_link_window_ordered",
            ),
        ]

    def __str__(self) -> str:
        return f"MID {self.mid} ({self.get_relation_display()}) for {self.provider}"

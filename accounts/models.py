"""Users (e-mail login), the provider organisations they form, their memberships, and the
invitations that bring new members in."""

from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractUser, BaseUserManager
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone

from accounts.constants import (
    INVITATION_TTL_DAYS_DEFAULT,
    InvitationStatus,
    MembershipRole,
    ProviderStatus,
    ProviderType,
    SuspensionCause,
)

# [0-9], never \d: Python's \d also matches fullwidth, Arabic-Indic and other Unicode digits;
# \Z, never $: $ also matches before a trailing newline.
crid_validator = RegexValidator(r"^[0-9]{2,18}\Z", "A CRID is 2 to 18 digits.")


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def with_email(self, email: str) -> models.QuerySet["User"]:
        """The user with this address in any case (at most one: see the unique constraint).

        Compares Lower("email"), the constraint's own expression, so PostgreSQL uses its index
        and a row stored in mixed case before addresses were normalised still matches.
        """
        return self.alias(email_lower=Lower("email")).filter(
            email_lower=self.model.normalize_email_address(email)
        )

    def get_by_natural_key(self, username: str | None) -> "User":
        # Login (ModelBackend, the admin login form, createsuperuser) looks users up here.
        return self.with_email(username or "").get()

    def _create_user(self, email: str, password: str | None, **extra_fields) -> "User":
        if not email:
            raise ValueError("An e-mail address is required.")
        user = self.model(email=self.model.normalize_email_address(email), **extra_fields)
        user.set_password(password)
        user.full_clean(exclude=["password"])
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra_fields) -> "User":
        extra_fields.setdefault("is_staff", False)
        extra_fields.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra_fields)

    def create_superuser(self, email: str, password: str | None = None, **extra_fields) -> "User":
        extra_fields.setdefault("is_staff", True)
        extra_fields.setdefault("is_superuser", True)
        if not (extra_fields["is_staff"] and extra_fields["is_superuser"]):
            raise ValueError("A superuser must have is_staff=True and is_superuser=True.")
        return self._create_user(email, password, **extra_fields)


class User(AbstractUser):
    """A person. Logs in with an e-mail address; there is no username."""

    username = None
    email = models.EmailField("e-mail address", unique=True)

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    objects = UserManager()

    class Meta:
        constraints = [
            # unique=True alone would let Alice@x.com and alice@x.com coexist.
            models.UniqueConstraint(Lower("email"), name="accounts_user_email_ci_unique"),
        ]

    def __str__(self) -> str:
        return self.email

    @staticmethod
    def normalize_email_address(value: str | None) -> str:
        """The one stored form of an address: trimmed and lowercased as a whole.

        Django lowercases only the domain, but people type their address in whatever case, log
        in with another and expect it to work; the unique constraint already treats
        Pat@x.com and pat@x.com as the same address.
        """
        return (value or "").strip().lower()

    def clean(self) -> None:
        super().clean()
        self.email = self.normalize_email_address(self.email)

    def save(self, *args, **kwargs) -> None:
        # Also here, not only in clean(): objects.create(), factories and the shell skip clean().
        self.email = self.normalize_email_address(self.email)
        super().save(*args, **kwargs)


class Provider(models.Model):
    """An organisation that reads tracking data: a shipper, a platform or a service provider."""

    legal_name = models.CharField(max_length=200)
    dba_name = models.CharField("doing business as", max_length=200, blank=True)
    crid = models.CharField(
        "CRID",
        max_length=18,
        blank=True,
        validators=[crid_validator],
        help_text="USPS Customer Registration ID (digits).",
    )
    provider_type = models.CharField(max_length=20, choices=ProviderType.choices)

    address_line1 = models.CharField(max_length=200)
    address_line2 = models.CharField(max_length=200, blank=True)
    city = models.CharField(max_length=100)
    state = models.CharField(
        max_length=2, validators=[RegexValidator(r"^[A-Z]{2}$", "Use the 2-letter state code.")]
    )
    zip_code = models.CharField(
        "ZIP code",
        max_length=10,
        validators=[
            RegexValidator(r"^[0-9]{5}(-[0-9]{4})?\Z", "Use a ZIP code like 20260 or 20260-0004.")
        ],
    )
    contact_email = models.EmailField()
    contact_phone = models.CharField(max_length=32)

    status = models.CharField(
        max_length=20, choices=ProviderStatus.choices, default=ProviderStatus.PENDING_REVIEW
    )
    suspension_cause = models.CharField(max_length=20, choices=SuspensionCause.choices, blank=True)

    # Set by billing when an invoice goes unpaid; the access decision denies while it is on.
    billing_hold = models.BooleanField(default=False)
    billing_hold_reason = models.CharField(max_length=300, blank=True)
    billing_hold_at = models.DateTimeField(null=True, blank=True)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["legal_name", "pk"]
        indexes = [models.Index(fields=["status", "provider_type"])]
        constraints = [
            models.CheckConstraint(
                condition=(Q(status=ProviderStatus.SUSPENDED) & ~Q(suspension_cause=""))
                | (~Q(status=ProviderStatus.SUSPENDED) & Q(suspension_cause="")),
                name="accounts_provider_cause_iff_suspended",
            ),
            models.CheckConstraint(
                condition=Q(billing_hold=False) | Q(billing_hold_at__isnull=False),
                name="accounts_provider_billing_hold_has_time",
            ),
        ]

    def __str__(self) -> str:
        return self.dba_name or self.legal_name


class Membership(models.Model):
    """A user's role in a provider. A user may belong to several providers."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    provider = models.ForeignKey(Provider, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=20, choices=MembershipRole.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["provider", "user"]
        constraints = [
            models.UniqueConstraint(fields=["user", "provider"], name="accounts_membership_unique")
        ]

    def __str__(self) -> str:
        return f"{self.user} ({self.get_role_display()}) in {self.provider}"


def invitation_expiry() -> datetime:
    """When an invitation made now stops working: settings.INVITATION_TTL_DAYS (7) from now."""
    days = getattr(settings, "INVITATION_TTL_DAYS", INVITATION_TTL_DAYS_DEFAULT)
    return timezone.now() + timedelta(days=days)


class Invitation(models.Model):
    """An e-mail invitation to join a provider with a role, accepted through a signed link.

    PENDING until the invitee accepts, someone revokes it, or it is found past `expires_at`
    (which is the moment the link stops working, whatever the status still says).
    decided_by/decided_at/decision_reason record a revocation or expiry; accepted_by/accepted_at
    record who joined.
    """

    provider = models.ForeignKey(Provider, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField("e-mail address")
    role = models.CharField(max_length=20, choices=MembershipRole.choices)
    invited_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, related_name="invitations_sent"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(default=invitation_expiry)
    status = models.CharField(
        max_length=20, choices=InvitationStatus.choices, default=InvitationStatus.PENDING
    )
    accepted_by = models.ForeignKey(
        User,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="invitations_accepted",
    )
    accepted_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_reason = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["provider", "-created_at", "-pk"]
        indexes = [models.Index(fields=["provider", "status"])]
        constraints = [
            # Lower("email") as in accounts_user_email_ci_unique: one open invitation per person.
            models.UniqueConstraint(
                "provider",
                Lower("email"),
                condition=Q(status=InvitationStatus.PENDING),
                name="accounts_invitation_one_pending_per_email",
            ),
            models.CheckConstraint(
                condition=Q(status=InvitationStatus.ACCEPTED, accepted_at__isnull=False)
                | (~Q(status=InvitationStatus.ACCEPTED) & Q(accepted_at__isnull=True)),
                name="accounts_invitation_accepted_at_iff_accepted",
            ),
        ]

    def __str__(self) -> str:
        return f"the invitation of {self.email} as {self.get_role_display()}"

    @property
    def is_expired(self) -> bool:
        """Expired by status, or still PENDING past its expiry (nothing has marked it yet)."""
        if self.status == InvitationStatus.EXPIRED:
            return True
        return self.status == InvitationStatus.PENDING and timezone.now() >= self.expires_at

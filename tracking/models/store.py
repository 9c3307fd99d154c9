"""The tracking API's records: API apps (OAuth clients of a provider), the tracking store
(mail pieces and their scan events), the disclosure audit and its daily aggregates."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from oauth2_provider.models import Application

from accounts.models import Provider
from tracking.constants import ApiAppStatus


class ApiApp(models.Model):
    """A provider's API client. The OAuth client (id, hashed secret) is django-oauth-toolkit's
    Application; this row adds the tenant, the scopes it holds and secret rotation."""

    provider = models.ForeignKey(Provider, on_delete=models.PROTECT, related_name="api_apps")
    application = models.OneToOneField(
        Application, on_delete=models.PROTECT, related_name="api_app"
    )
    name = models.CharField(max_length=100)
    # Space-separated scopes this app may be granted (see tracking.constants.SCOPES).
    scope = models.CharField(max_length=200, default="tracking")
    status = models.CharField(
        max_length=20, choices=ApiAppStatus.choices, default=ApiAppStatus.ACTIVE
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    # After a rotation the previous secret (hashed, like the current one) keeps working until
    # previous_secret_expires_at, so deployed clients can be switched over without downtime.
    previous_secret = models.CharField(max_length=255, blank=True)
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True)
    secret_rotated_at = models.DateTimeField(null=True, blank=True)
    # Written in bulk by the disclosure drain and by the token endpoint, never per request.
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["provider_id", "name", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "name"],
                condition=Q(status=ApiAppStatus.ACTIVE),
                name="tracking_apiapp_unique_active_name",
            ),
            models.CheckConstraint(
                condition=Q(previous_secret="") | Q(previous_secret_expires_at__isnull=False),
                name="tracking_apiapp_previous_secret_expires",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def client_id(self) -> str:
        return self.application.client_id

    @property
    def scopes(self) -> list[str]:
        return self.scope.split()


class ProviderApiQuota(models.Model):
    """Staff-set hourly call quota for every app of one provider (default: settings)."""

    provider = models.OneToOneField(Provider, on_delete=models.CASCADE, related_name="api_quota")
    calls_per_hour = models.PositiveIntegerField()
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(calls_per_hour__gte=1) & Q(calls_per_hour__lte=10_000_000),
                name="tracking_quota_range",
            )
        ]

    def __str__(self) -> str:
        return f"{self.provider}: {self.calls_per_hour}/hour"


class MailPiece(models.Model):
    """One package. Carriers reuse numbers, so a piece is (tracking number, mailing date)."""

    tracking_number = models.CharField(max_length=34)  # the PIC, without routing
    mailing_date = models.DateField()
    mid = models.CharField("MID", max_length=9, blank=True)
    unique_mail_piece_id = models.CharField(max_length=64)
    service_type_code = models.CharField(max_length=3, blank=True)
    mail_class = models.CharField(max_length=60, blank=True)
    mail_class_code = models.CharField(max_length=4, blank=True)
    mail_type = models.CharField(max_length=40, blank=True)
    origin_city = models.CharField(max_length=60, blank=True)
    origin_state = models.CharField(max_length=2, blank=True)
    origin_zip = models.CharField(max_length=5, blank=True)
    destination_city = models.CharField(max_length=60, blank=True)
    destination_state = models.CharField(max_length=2, blank=True)
    destination_zip = models.CharField(max_length=5, blank=True)
    status = models.CharField(max_length=200, blank=True)
    status_category = models.CharField(max_length=60, blank=True)
    status_summary = models.CharField(max_length=500, blank=True)
    # Local date and time as USPS gives them ("2026-11-27" or "2026-11-27T20:00:00").
    expected_delivery = models.CharField(max_length=19, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            # Also the lookup index: (number) newest mailing date first, by a backward scan.
            models.UniqueConstraint(
                fields=["tracking_number", "mailing_date"], name="tracking_piece_number_date"
            ),
            # Constraints and plain indexes rather than unique=/db_index=, which would also
            # build LIKE-pattern copies no query uses, at a cost on every import.
            models.UniqueConstraint(fields=["unique_mail_piece_id"], name="tracking_piece_umpid"),
        ]
        indexes = [models.Index(fields=["mid"], name="tracking_piece_mid")]

    def __str__(self) -> str:
        return f"{self.tracking_number} ({self.mailing_date})"


class TrackingEvent(models.Model):
    """One scan. The local timestamp is stored as given: a date, or a date-time without offset
    (USPS writes it both ways); the UTC moment and the offset are kept beside it."""

    # No index of its own: the natural key and the newest-first index both start with it.
    piece = models.ForeignKey(
        MailPiece, on_delete=models.CASCADE, related_name="events", db_index=False
    )
    event_code = models.CharField(max_length=2)
    event_type = models.CharField(max_length=200)
    event_timestamp = models.CharField(max_length=19)  # local: YYYY-MM-DD[THH:MM:SS]
    gmt_timestamp = models.DateTimeField(null=True, blank=True)
    gmt_offset = models.CharField(max_length=6, blank=True)  # "-7:00"
    city = models.CharField(max_length=60, blank=True)
    state = models.CharField(max_length=2, blank=True)
    zip_code = models.CharField(max_length=5, blank=True)
    country = models.CharField(max_length=2, blank=True)
    firm = models.CharField(max_length=50, blank=True)
    recipient_name = models.CharField(max_length=100, blank=True)
    action_code = models.CharField(max_length=4, blank=True)
    reason_code = models.CharField(max_length=4, blank=True)

    class Meta:
        constraints = [
            # What makes an import idempotent: one scan of a code at one local moment.
            models.UniqueConstraint(
                fields=["piece", "event_code", "event_timestamp"], name="tracking_event_natural_key"
            )
        ]
        indexes = [
            models.Index(
                "piece",
                models.F("gmt_timestamp").desc(nulls_last=True),
                name="tracking_event_piece_newest",
            )
        ]

    def __str__(self) -> str:
        return f"{self.event_code} {self.event_timestamp}"


class Disclosure(models.Model):
    """One tracking number looked up through the API, and what the access decision said.
    Written in bulk from a Redis buffer (tracking.disclosures); never updated or deleted."""

    record_id = models.UUIDField(unique=True)  # makes a re-drained buffer harmless
    occurred_at = models.DateTimeField()
    request_id = models.CharField(max_length=64)
    provider = models.ForeignKey(Provider, on_delete=models.PROTECT, related_name="+")
    app = models.ForeignKey(ApiApp, on_delete=models.PROTECT, related_name="disclosures")
    tracking_number = models.CharField(max_length=64)
    mid = models.CharField(max_length=9, blank=True)
    allowed = models.BooleanField()
    reason_code = models.CharField(max_length=40, blank=True)  # first reason of a denial
    http_status = models.PositiveSmallIntegerField()
    basis = models.CharField(max_length=60, blank=True)  # the grant: "MID_LINK:12"

    class Meta:
        indexes = [
            models.Index(fields=["provider", "-occurred_at"], name="tracking_disclosure_provider"),
            models.Index(fields=["mid", "-occurred_at"], name="tracking_disclosure_mid"),
        ]

    def __str__(self) -> str:
        return f"{self.tracking_number} → {'allowed' if self.allowed else self.reason_code}"


class DailyUsage(models.Model):
    """Calls per provider, app, UTC day and outcome; reason_code "" counts the allowed ones.
    Incremented in the same statement that stores the disclosures, so never counted twice."""

    provider = models.ForeignKey(Provider, on_delete=models.PROTECT, related_name="+")
    app = models.ForeignKey(ApiApp, on_delete=models.PROTECT, related_name="daily_usage")
    day = models.DateField()
    allowed = models.BooleanField()
    reason_code = models.CharField(max_length=40, blank=True)
    calls = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["app", "day", "allowed", "reason_code"], name="tracking_usage_unique"
            )
        ]
        indexes = [models.Index(fields=["provider", "day"], name="tracking_usage_provider_day")]

    def __str__(self) -> str:
        return f"{self.app_id} {self.day} {self.reason_code or 'allowed'}: {self.calls}"

"""Hourly API quotas: staff set one per provider (every app of it); without one, the default.

The API reads a caller's quota through the token cache (tracking.credentials_cache), so a change
also drops the provider's live tokens from that cache once it commits: the next call re-reads
the quota instead of counting against the old one for up to API_TOKEN_CACHE_SECONDS.
"""

from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from oauth2_provider.models import AccessToken

from accounts.models import Provider
from core.audit import audit_record
from core.errors import DomainError
from tracking import credentials_cache
from tracking.models import ProviderApiQuota

# The bounds of the model's check constraint (tracking_quota_range).
MIN_CALLS_PER_HOUR = 1
MAX_CALLS_PER_HOUR = 10_000_000
# Cache keys deleted per round trip when a provider's tokens are forgotten.
FORGET_BATCH = 1000


def default_quota_per_hour() -> int:
    return settings.API_DEFAULT_QUOTA_PER_HOUR


def effective_quota_per_hour(*, provider_id: int) -> int:
    """Calls per hour each app of the provider may make: its staff-set quota, or the default.
    One query; callers cache the answer with the token (tracking.credentials_cache)."""
    quota = (
        ProviderApiQuota.objects.filter(provider_id=provider_id)
        .values_list("calls_per_hour", flat=True)
        .first()
    )
    return default_quota_per_hour() if quota is None else quota


def _validated(calls_per_hour: Any) -> int | None:
    if calls_per_hour is None or calls_per_hour == "":
        return None
    # bool is an int to Python; True is not a quota.
    if isinstance(calls_per_hour, bool) or not isinstance(calls_per_hour, int):
        raise DomainError("The quota must be a whole number of calls.", field="calls_per_hour")
    if not MIN_CALLS_PER_HOUR <= calls_per_hour <= MAX_CALLS_PER_HOUR:
        raise DomainError(
            f"The quota must be between {MIN_CALLS_PER_HOUR:,} and {MAX_CALLS_PER_HOUR:,} "
            "calls per hour.",
            field="calls_per_hour",
        )
    return calls_per_hour


def quota_set(
    *, provider: Provider, calls_per_hour: int | None, actor: Any | None, reason: str = ""
) -> ProviderApiQuota | None:
    """Set the hourly quota of every app of `provider`; None (or blank) goes back to the
    default by removing the provider's row. Audited as "api_quota_set" with the old and new
    values (None meaning the default). Setting the value it already has changes nothing."""
    new = _validated(calls_per_hour)
    with transaction.atomic():
        # Two staff setting the same provider's quota queue here instead of racing on the row.
        Provider.objects.select_for_update(no_key=True).get(pk=provider.pk)
        current = ProviderApiQuota.objects.filter(provider_id=provider.pk).first()
        old = current.calls_per_hour if current is not None else None
        if old == new:
            return current
        if new is None:
            current.delete()
            quota = None
        else:
            quota, _ = ProviderApiQuota.objects.update_or_create(
                provider_id=provider.pk,
                defaults={
                    "calls_per_hour": new,
                    "updated_by": actor if actor is not None and actor.is_authenticated else None,
                },
            )
        # The provider is the subject: its row outlives a quota reset, and its timeline shows it.
        audit_record(
            subject=provider,
            action="api_quota_set",
            actor=actor,
            provider_id=provider.pk,
            reason=reason.strip(),
            extra={"old": old, "new": new, "default": default_quota_per_hour()},
        )
        provider_id = provider.pk
        # After commit: a token cached in between would keep the old quota until it expires.
        # robust: the quota is saved by then; a cache outage must not turn that into an error,
        # and cached entries expire within API_TOKEN_CACHE_SECONDS anyway.
        transaction.on_commit(lambda: forget_provider_tokens(provider_id=provider_id), robust=True)
    return quota


def forget_provider_tokens(*, provider_id: int) -> int:
    """Drop every live token of the provider's apps from the token cache, so the next call
    authenticates from the database. Returns how many tokens were forgotten."""
    checksums = (
        AccessToken.objects.filter(
            application__api_app__provider_id=provider_id, expires__gt=timezone.now()
        )
        .values_list("token_checksum", flat=True)
        .iterator(chunk_size=FORGET_BATCH)
    )
    forgotten = 0
    batch: list[str] = []
    for checksum in checksums:
        batch.append(checksum)
        if len(batch) == FORGET_BATCH:
            credentials_cache.forget_tokens(batch)
            forgotten += len(batch)
            batch = []
    credentials_cache.forget_tokens(batch)
    return forgotten + len(batch)

"""Staff-set hourly quotas (tracking.services.quotas): bounds, reset to the default, the audit
entry, and the provider's cached tokens forgotten once the change commits."""

from datetime import timedelta

import pytest
from django.db import transaction
from django.test import override_settings
from django.utils import timezone
from oauth2_provider.models import AccessToken

from core.errors import DomainError
from core.models import AuditEntry
from tests.factories import ProviderFactory, StaffFactory
from tracking import credentials_cache
from tracking.credentials_cache import ApiCaller, token_checksum
from tracking.models import ApiApp, ProviderApiQuota
from tracking.services import quotas
from tracking.services.apps import app_create
from tracking.services.quotas import effective_quota_per_hour, quota_set

pytestmark = pytest.mark.django_db


def an_app(provider, name: str = "Shop") -> ApiApp:
    return app_create(provider=provider, name=name, actor=None).app


def cached_token(app: ApiApp, raw: str, *, expires_in: timedelta = timedelta(hours=8)) -> str:
    """A token of `app` as the token endpoint stores it, and its caller in the token cache as
    the bearer authentication leaves it after a first call. Returns the cache checksum."""
    AccessToken.objects.create(
        token=raw,
        application=app.application,
        expires=timezone.now() + expires_in,
        scope="tracking",
    )
    checksum = token_checksum(raw)
    caller = ApiCaller(
        app_id=app.pk,
        provider_id=app.provider_id,
        client_id=app.client_id,
        scopes=("tracking",),
        quota_per_hour=60,
        expires_at=0.0,
    )
    credentials_cache.put(checksum, caller, ttl=60)
    assert credentials_cache.get(checksum) == caller
    return checksum


def quota_entries(provider) -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(action="api_quota_set", provider=provider).order_by("pk"))


# --- Values ------------------------------------------------------------------------------------


@override_settings(API_DEFAULT_QUOTA_PER_HOUR=60)
def test_the_effective_quota_is_the_default_until_staff_set_one():
    provider = ProviderFactory()

    before = effective_quota_per_hour(provider_id=provider.pk)
    quota_set(provider=provider, calls_per_hour=5000, actor=StaffFactory())

    assert before == 60
    assert effective_quota_per_hour(provider_id=provider.pk) == 5000
    assert effective_quota_per_hour(provider_id=ProviderFactory().pk) == 60


@pytest.mark.parametrize("calls", [1, 10_000_000])
def test_the_bounds_themselves_are_accepted(calls):
    provider = ProviderFactory()

    quota = quota_set(provider=provider, calls_per_hour=calls, actor=None)

    assert ProviderApiQuota.objects.get(provider=provider) == quota
    assert quota.calls_per_hour == calls


@pytest.mark.parametrize("calls", [0, -1, 10_000_001, 2**63, True, 1.5, "100", [100]])
def test_a_quota_out_of_bounds_or_not_a_whole_number_is_refused_and_nothing_changes(calls):
    provider = ProviderFactory()
    quota_set(provider=provider, calls_per_hour=500, actor=None)
    entries = len(quota_entries(provider))

    with pytest.raises(DomainError) as refused:
        quota_set(provider=provider, calls_per_hour=calls, actor=None)

    assert list(refused.value.field_errors) == ["calls_per_hour"]
    assert ProviderApiQuota.objects.get(provider=provider).calls_per_hour == 500
    assert len(quota_entries(provider)) == entries


def test_setting_then_changing_a_quota_audits_old_and_new():
    provider = ProviderFactory()
    staff = StaffFactory()

    quota_set(provider=provider, calls_per_hour=1000, actor=staff, reason="  Load test  ")
    quota = quota_set(provider=provider, calls_per_hour=2500, actor=staff)

    first, second = quota_entries(provider)
    assert (first.actor, first.reason, first.extra["old"], first.extra["new"]) == (
        staff,
        "Load test",
        None,
        1000,
    )
    assert (second.extra["old"], second.extra["new"]) == (1000, 2500)
    assert second.subject_id == provider.pk and second.subject_type.model == "provider"
    assert (quota.calls_per_hour, quota.updated_by) == (2500, staff)
    assert ProviderApiQuota.objects.filter(provider=provider).count() == 1


@pytest.mark.parametrize("reset", [None, ""])
@override_settings(API_DEFAULT_QUOTA_PER_HOUR=60)
def test_none_or_blank_resets_to_the_default_by_removing_the_row(reset):
    provider = ProviderFactory()
    quota_set(provider=provider, calls_per_hour=1000, actor=None)

    result = quota_set(provider=provider, calls_per_hour=reset, actor=StaffFactory())

    assert result is None
    assert not ProviderApiQuota.objects.filter(provider=provider).exists()
    assert effective_quota_per_hour(provider_id=provider.pk) == 60
    last = quota_entries(provider)[-1]
    assert last.extra == {"old": 1000, "new": None, "default": 60}


def test_setting_the_value_it_has_changes_nothing_and_audits_nothing(
    django_capture_on_commit_callbacks,
):
    provider = ProviderFactory()
    quota = quota_set(provider=provider, calls_per_hour=700, actor=None)

    with django_capture_on_commit_callbacks() as callbacks:
        again = quota_set(provider=provider, calls_per_hour=700, actor=StaffFactory())
        reset = quota_set(provider=ProviderFactory(), calls_per_hour=None, actor=None)

    assert again == quota and reset is None
    assert len(quota_entries(provider)) == 1
    assert callbacks == []


# --- The token cache ---------------------------------------------------------------------------


def test_the_providers_cached_tokens_are_forgotten_once_the_change_commits(
    django_capture_on_commit_callbacks,
):
    provider = ProviderFactory()
    shop, warehouse = an_app(provider, "Shop"), an_app(provider, "Warehouse")
    mine = [cached_token(shop, "token-shop"), cached_token(warehouse, "token-warehouse")]
    theirs = cached_token(an_app(ProviderFactory()), "token-other-provider")

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        quota_set(provider=provider, calls_per_hour=100_000, actor=StaffFactory())
        still_cached = [credentials_cache.get(checksum) is not None for checksum in mine]
    for callback in callbacks:
        callback()

    assert still_cached == [True, True]  # nothing is forgotten before the commit
    assert [credentials_cache.get(checksum) for checksum in mine] == [None, None]
    assert credentials_cache.get(theirs) is not None


def test_a_rolled_back_change_forgets_nothing(django_capture_on_commit_callbacks):
    provider = ProviderFactory()
    checksum = cached_token(an_app(provider), "token-shop")

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(RuntimeError), transaction.atomic():
            quota_set(provider=provider, calls_per_hour=5, actor=None)
            raise RuntimeError("the admin's save failed later")

    assert callbacks == []
    assert credentials_cache.get(checksum) is not None
    assert not ProviderApiQuota.objects.filter(provider=provider).exists()
    assert quota_entries(provider) == []


def test_expired_tokens_are_not_looked_up_and_many_are_forgotten_in_batches(monkeypatch):
    provider = ProviderFactory()
    app = an_app(provider)
    live = [cached_token(app, f"live-{n}") for n in range(5)]
    cached_token(app, "expired", expires_in=timedelta(seconds=-1))
    batches: list[int] = []
    forget = credentials_cache.forget_tokens
    monkeypatch.setattr(quotas, "FORGET_BATCH", 2)
    monkeypatch.setattr(
        credentials_cache,
        "forget_tokens",
        lambda checksums: (batches.append(len(checksums)), forget(checksums)),
    )

    forgotten = quotas.forget_provider_tokens(provider_id=provider.pk)

    assert forgotten == 5
    assert batches == [2, 2, 1]
    assert [credentials_cache.get(checksum) for checksum in live] == [None] * 5


def test_an_unreachable_cache_does_not_undo_a_committed_change(
    monkeypatch, django_capture_on_commit_callbacks, caplog
):
    """The quota is saved when the callback runs; cached entries expire within
    API_TOKEN_CACHE_SECONDS anyway, so the failure is logged, not raised."""
    provider = ProviderFactory()
    cached_token(an_app(provider), "token-shop")

    def unreachable(checksums):
        raise ConnectionError("redis is down")

    monkeypatch.setattr(credentials_cache, "forget_tokens", unreachable)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        quota = quota_set(provider=provider, calls_per_hour=900, actor=None)

    assert len(callbacks) == 1
    assert ProviderApiQuota.objects.get(provider=provider) == quota
    assert "redis is down" in caplog.text

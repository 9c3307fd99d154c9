"""The cache against real transactions and a second database connection (transactional_db)."""

import threading
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from agreements import services
from agreements.constants import MidLinkStatus
from agreements.decision import decide
from tests.factories import AgreementFactory, MidLinkFactory, ProviderFactory, StaffFactory

pytestmark = pytest.mark.django_db(transaction=True)

MID = "901234567"


class Rollback(Exception):
    pass


def provider_with_pending_link():
    provider = ProviderFactory()
    AgreementFactory(provider=provider)
    link = MidLinkFactory(provider=provider, mid=MID, status=MidLinkStatus.REQUESTED)
    return provider, link


def test_a_rolled_back_write_leaves_no_cached_answer_behind():
    provider, link = provider_with_pending_link()
    staff = StaffFactory()

    with pytest.raises(Rollback), transaction.atomic():
        services.mid_link_verify(link=link, actor=staff)
        inside = decide(provider=provider, mid=MID)
        assert inside.allowed and not inside.from_cache  # sees its own write, caches nothing
        raise Rollback

    after = decide(provider=provider, mid=MID)
    assert not after.allowed
    assert after.reason_codes == ["MID_NOT_AUTHORIZED"]
    assert not after.from_cache


def test_a_decision_cached_by_another_connection_before_commit_is_not_served_after():
    provider = ProviderFactory()
    AgreementFactory(provider=provider)
    link = MidLinkFactory(provider=provider, mid=MID, valid_from=timezone.now() - timedelta(days=1))
    staff = StaffFactory()
    revoked_not_committed = threading.Event()
    other_decided = threading.Event()
    seen_by_other = []

    def other_process():
        try:
            revoked_not_committed.wait(timeout=10)
            # Reads the committed state (still VERIFIED) and caches "allowed".
            seen_by_other.append(decide(provider=provider, mid=MID))
        finally:
            other_decided.set()
            connection.close()

    thread = threading.Thread(target=other_process)
    thread.start()
    with transaction.atomic():
        services.mid_link_revoke(link=link, actor=staff, reason="Owner withdrew consent")
        revoked_not_committed.set()
        assert other_decided.wait(timeout=10)
    thread.join(timeout=10)

    assert seen_by_other[0].allowed and not seen_by_other[0].from_cache
    after_commit = decide(provider=provider, mid=MID)
    assert not after_commit.allowed
    assert after_commit.reason_codes == ["MID_NOT_AUTHORIZED"]


def test_a_bump_that_cannot_reach_redis_is_logged_as_an_error(settings, caplog):
    provider, link = provider_with_pending_link()
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
            "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2},
        }
    }

    services.mid_link_verify(link=link, actor=StaffFactory())

    link.refresh_from_db()
    assert link.status == MidLinkStatus.VERIFIED  # the write itself succeeded
    errors = [r for r in caplog.records if r.levelname == "ERROR"]
    assert any(f"access:v:p{provider.pk}" in r.getMessage() for r in errors)

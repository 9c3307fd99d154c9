"""Versioned cache for access decisions.

Each provider has a version token in the cache, and a global token covers inputs shared by all
providers (published agreement versions). A decision is stored under both tokens; every write
that can change a decision replaces a token, so older entries become unreachable instead of
having to be found and deleted.

Tokens are random rather than counters: if Redis evicts or loses a token, a fresh one can
never collide with a version that still has decisions cached under it.

Writers bump on commit, so a decision another process computed from pre-commit rows (and
cached under the old token) is never served afterwards. Until its transaction ends, the
writing connection marks the provider dirty: decisions for it are then computed from the
database and never cached, so a rolled-back write cannot leave a cached answer behind.

Bumps never raise: a revocation must not fail because Redis is down. A failed bump is logged
at ERROR (alert on it); entries cached before it expire within ACCESS_DECISION_CACHE_SECONDS.
"""

import logging
import uuid
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import transaction

logger = logging.getLogger(__name__)

GLOBAL_VERSION_KEY = "access:v:global"
EVERY_PROVIDER = 0  # dirty marker for a change that affects all providers


def _provider_version_key(provider_id: int) -> str:
    return f"access:v:p{provider_id}"


def _set_token(key: str) -> None:
    try:
        cache.set(key, uuid.uuid4().hex, timeout=None)
    except Exception:  # noqa: BLE001 - see module docstring: bumps must never fail a write
        logger.error("access cache: could not bump %s; stale decisions may be served", key)


class _Bump:
    """An on-commit callback that replaces a token. While it is pending, its provider is dirty."""

    def __init__(self, provider_id: int, key: str) -> None:
        self.provider_id, self.key = provider_id, key

    def __call__(self) -> None:
        _set_token(self.key)


def _bump(provider_id: int, key: str) -> None:
    """Replace a token at once when there is no transaction, else right after the commit.

    Django runs on-commit callbacks in registration order and stops at the first non-robust
    one that raises. An invalidation skipped that way would serve a revoked ALLOW from the
    cache, so bumps are robust and jump the queue: they run before any other callback.
    """
    connection = transaction.get_connection()
    transaction.on_commit(_Bump(provider_id, key), robust=True)
    if connection.in_atomic_block:
        # on_commit appended (savepoint ids, callback, robust); moving the entry keeps its
        # savepoint ids, so a savepoint rollback still drops it exactly as Django would.
        connection.run_on_commit.insert(0, connection.run_on_commit.pop())


def bump_provider(provider_id: int) -> None:
    """Invalidate every cached decision for one provider."""
    _bump(provider_id, _provider_version_key(provider_id))


def bump_all() -> None:
    """Invalidate every cached decision (an input shared by all providers changed)."""
    _bump(EVERY_PROVIDER, GLOBAL_VERSION_KEY)


def is_dirty(provider_id: int) -> bool:
    """True while this connection holds uncommitted changes to the provider's inputs.

    Django keeps pending on-commit callbacks in `run_on_commit` and drops them exactly when
    their transaction or savepoint rolls back, so a pending bump is the precise marker.
    """
    pending = transaction.get_connection().run_on_commit
    return any(
        isinstance(func, _Bump) and func.provider_id in (provider_id, EVERY_PROVIDER)
        for _, func, *_ in pending
    )


def _decision_key(provider_id: int, mid: str, tokens: tuple[str, str]) -> str:
    return f"access:d:p{provider_id}:{tokens[0]}:{tokens[1]}:{mid}"


def current_tokens(provider_id: int) -> tuple[str, str]:
    """The tokens a decision is valid under; creates missing ones. Raises if Redis is down."""
    keys = [_provider_version_key(provider_id), GLOBAL_VERSION_KEY]
    found = cache.get_many(keys)
    missing = [key for key in keys if key not in found]
    for key in missing:
        # add() keeps a token another process created in the meantime.
        cache.add(key, uuid.uuid4().hex, timeout=None)
    if missing:
        found = cache.get_many(keys)
    return found[keys[0]], found[keys[1]]


def get(provider_id: int, mid: str, tokens: tuple[str, str]) -> Any:
    return cache.get(_decision_key(provider_id, mid, tokens))


def get_many(provider_id: int, mids: list[str], tokens: tuple[str, str]) -> dict[str, Any]:
    """The cached decisions among `mids`, by MID (one round trip)."""
    keys = {_decision_key(provider_id, mid, tokens): mid for mid in mids}
    return {keys[key]: value for key, value in cache.get_many(list(keys)).items()}


def put(provider_id: int, mid: str, tokens: tuple[str, str], value: Any, ttl: int) -> None:
    ttl = min(ttl, settings.ACCESS_DECISION_CACHE_SECONDS)
    if ttl <= 0:
        return
    cache.set(_decision_key(provider_id, mid, tokens), value, timeout=ttl)

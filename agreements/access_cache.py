"""Versioned cache for access decisions.

Each provider has a version token in the cache, and a global token covers inputs shared by all
providers (published agreement versions). A decision is stored under both tokens; every write
that can change a decision replaces a token, so older entries become unreachable instead of
having to be found and deleted.

Tokens are random rather than counters: if Redis evicts or loses a token, a fresh one can
never collide with a version that still has decisions cached under it.

Writers bump twice: inside their transaction (so a reader in the same transaction sees the
change) and again on commit (so a decision computed from pre-commit rows by another process,
and cached under the in-transaction token, is never served). Bumps never raise: a revocation
must not fail because Redis is down. While Redis is unreachable no decision is cached either,
so nothing stale can be stored; entries also expire after ACCESS_DECISION_CACHE_SECONDS.
"""

import logging
import uuid
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import transaction

logger = logging.getLogger(__name__)

GLOBAL_VERSION_KEY = "access:v:global"


def _provider_token_key(provider_id: int) -> str:
    return f"access:v:p{provider_id}"


def _new_token() -> str:
    return uuid.uuid4().hex


def _set_token(key: str) -> None:
    try:
        cache.set(key, _new_token(), timeout=None)
    except Exception:  # noqa: BLE001 - see module docstring: bumps must never fail a write
        logger.warning("access cache: could not bump %s; entries will expire by TTL", key)


def bump_provider(provider_id: int) -> None:
    """Invalidate every cached decision for one provider, now and again on commit."""
    key = _provider_token_key(provider_id)
    _set_token(key)
    transaction.on_commit(lambda: _set_token(key))


def bump_all() -> None:
    """Invalidate every cached decision (an input shared by all providers changed)."""
    _set_token(GLOBAL_VERSION_KEY)
    transaction.on_commit(lambda: _set_token(GLOBAL_VERSION_KEY))


def _decision_key(provider_id: int, mid: str, tokens: tuple[str, str]) -> str:
    return f"access:d:p{provider_id}:{tokens[0]}:{tokens[1]}:{mid}"


def current_tokens(provider_id: int) -> tuple[str, str]:
    """The tokens a decision is valid under; creates missing ones. Raises if Redis is down."""
    keys = [_provider_token_key(provider_id), GLOBAL_VERSION_KEY]
    found = cache.get_many(keys)
    missing = [key for key in keys if key not in found]
    for key in missing:
        # add() keeps a token another process created in the meantime.
        cache.add(key, _new_token(), timeout=None)
    if missing:
        found = cache.get_many(keys)
    return found[keys[0]], found[keys[1]]


def get(provider_id: int, mid: str, tokens: tuple[str, str]) -> Any:
    return cache.get(_decision_key(provider_id, mid, tokens))


def put(provider_id: int, mid: str, tokens: tuple[str, str], value: Any, ttl: int) -> None:
    ttl = min(ttl, settings.ACCESS_DECISION_CACHE_SECONDS)
    if ttl <= 0:
        return
    cache.set(_decision_key(provider_id, mid, tokens), value, timeout=ttl)

"""The bearer-token cache: a token's checksum → who calls (app, provider, scopes, quota).

Authenticating a warm token costs no query. Revoking a token or an app removes its entries
at once (`forget_tokens`), and every entry expires after API_TOKEN_CACHE_SECONDS anyway, so
a staff quota change is seen within that time.
"""

import hashlib
import logging
from collections.abc import Iterable
from dataclasses import asdict, dataclass

from django.conf import settings
from django.core.cache import cache

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ApiCaller:
    """Who is calling the API: set as `request.auth` by the bearer authentication."""

    app_id: int
    provider_id: int
    client_id: str
    scopes: tuple[str, ...]
    quota_per_hour: int
    expires_at: float  # epoch seconds of the token's expiry


def token_checksum(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _key(checksum: str) -> str:
    return f"api:token:{checksum}"


def get(checksum: str) -> ApiCaller | None:
    try:
        found = cache.get_many([_key(checksum), _revoked_key(checksum)])
    except Exception:  # noqa: BLE001 - the cache is an optimisation; the database is the truth
        logger.warning("token cache unreachable; authenticating from the database", exc_info=True)
        return None
    data = found.get(_key(checksum))
    if not data or _revoked_key(checksum) in found:
        return None
    try:
        return ApiCaller(**{**data, "scopes": tuple(data["scopes"])})
    except (KeyError, TypeError):
        # An entry written by a release whose ApiCaller had other fields: read the database.
        return None


def put(checksum: str, caller: ApiCaller, ttl: int) -> None:
    ttl = min(ttl, settings.API_TOKEN_CACHE_SECONDS)
    if ttl <= 0:
        return
    try:
        cache.set(_key(checksum), asdict(caller), ttl)
    except Exception:  # noqa: BLE001
        logger.warning("token cache unreachable; token not cached", exc_info=True)


def _revoked_key(checksum: str) -> str:
    return f"api:token-revoked:{checksum}"


def revoke_tokens(checksums: Iterable[str]) -> None:
    """`forget_tokens`, plus a mark that outlives any cached copy: a request that read the
    token from the database just before its deletion committed may still cache it afterwards,
    and the mark keeps that copy from being served. Raises if the cache cannot be reached."""
    checksums = list(checksums)
    if checksums:
        marks = {_revoked_key(checksum): 1 for checksum in checksums}
        cache.set_many(marks, timeout=settings.API_TOKEN_CACHE_SECONDS + 5)
        forget_tokens(checksums)


def forget_tokens(checksums: Iterable[str]) -> None:
    """Remove tokens from the cache; raises if the cache cannot be reached, so a revocation is
    never reported done while a cached token could still be served."""
    keys = [_key(checksum) for checksum in checksums]
    if keys:
        cache.delete_many(keys)

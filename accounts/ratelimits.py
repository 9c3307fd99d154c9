"""How many invitations one person may send per hour: a counter per user and clock hour in the
shared cache (Redis), so every web worker counts the same.

This is the portal's limit on how fast a member sends e-mail through it; the service rule that
bounds what is outstanding (at most settings.INVITATIONS_PENDING_MAX pending invitations per
provider) is accounts.services.invitation_create's. A window is the clock hour (UTC): the count
starts again on the hour, so a burst across an hour boundary can reach twice the limit, which
the pending cap still bounds.

allauth's rate-limit helper (allauth.core.ratelimit.consume) reads its rates only from
ACCOUNT_RATE_LIMITS; this limit has its own setting, INVITATIONS_PER_HOUR (default 20).
"""

import logging
import math
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache

from accounts.constants import INVITATIONS_PER_HOUR_DEFAULT
from accounts.models import User

logger = logging.getLogger(__name__)

WINDOW_SECONDS = 60 * 60


@dataclass(frozen=True)
class Refusal:
    limit: int
    retry_in_seconds: int

    @property
    def message(self) -> str:
        minutes = max(1, math.ceil(self.retry_in_seconds / 60))
        return (
            f"You have sent {self.limit} invitation{'' if self.limit == 1 else 's'} this hour, "
            f"the most one person may send. Nothing was sent. Try again in {minutes} "
            f"minute{'' if minutes == 1 else 's'}."
        )


def _now() -> float:
    return time.time()


def _limit() -> int:
    return getattr(settings, "INVITATIONS_PER_HOUR", INVITATIONS_PER_HOUR_DEFAULT)


def _key(user: User, now: float) -> str:
    return f"portal:ratelimit:invitation:{user.pk}:{int(now // WINDOW_SECONDS)}"


@dataclass(frozen=True)
class Usage:
    """What invitation_send_consume counted: `refusal` when the allowance is used up (nothing
    counted), else `release()` gives the count back if nothing is sent after all."""

    key: str | None = None
    refusal: Refusal | None = None

    def release(self) -> None:
        if self.key is None:
            return
        try:
            cache.decr(self.key)
        except Exception:  # noqa: BLE001, S110 - the count expires with its hour anyway
            pass


def invitation_send_consume(*, user: User) -> Usage:
    """Count one invitation `user` is about to send, or refuse when this hour's allowance is
    used up. Atomic across workers (Redis INCR). If the cache is unreachable the invitation
    goes ahead uncounted: the pending cap still holds."""
    now = _now()
    key = _key(user, now)
    limit = _limit()
    try:
        cache.add(key, 0, timeout=WINDOW_SECONDS + 60)
        if cache.incr(key) > limit:
            cache.decr(key)
            retry_in = int(WINDOW_SECONDS - now % WINDOW_SECONDS)
            return Usage(refusal=Refusal(limit=limit, retry_in_seconds=retry_in))
    except Exception:  # noqa: BLE001 - a rate limit must not block the real action
        logger.warning("The invitation rate limit is unavailable", exc_info=True)
        return Usage()
    return Usage(key=key)

"""Hourly call quotas per app, counted in Redis: each tracking number is one call.

The window is the clock hour (UTC), as a key per app and hour. A request that would go over
the quota is refused whole and counts nothing, so a batch of 35 cannot half-run; Retry-After is
the number of seconds until the next hour, when the count starts again.
"""

import math
import time
from dataclasses import dataclass

from tracking.redis import client

WINDOW_SECONDS = 3600

# Check and add in one step, so concurrent requests can never both pass the last free calls.
_CONSUME = """
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
local n = tonumber(ARGV[1])
if used + n > tonumber(ARGV[2]) then return {0, used} end
used = redis.call('INCRBY', KEYS[1], n)
redis.call('EXPIRE', KEYS[1], ARGV[3])
return {1, used}
"""


@dataclass(frozen=True, slots=True)
class QuotaResult:
    allowed: bool
    limit: int
    used: int
    reset_in: int  # seconds until the window ends

    @property
    def remaining(self) -> int:
        return max(self.limit - self.used, 0)


def consume(*, app_id: int, calls: int, limit: int, now: float | None = None) -> QuotaResult:
    """Count `calls` against the app's hour, unless that would pass `limit`.
    Raises redis.RedisError when Redis cannot be reached (the caller answers 503)."""
    now = time.time() if now is None else now
    window = int(now // WINDOW_SECONDS)
    reset_in = max(math.ceil((window + 1) * WINDOW_SECONDS - now), 1)
    key = f"api:quota:{app_id}:{window}"
    allowed, used = client().eval(_CONSUME, 1, key, calls, limit, WINDOW_SECONDS + 60)
    return QuotaResult(allowed=bool(allowed), limit=limit, used=int(used), reset_in=reset_in)


def used_this_hour(*, app_id: int, now: float | None = None) -> int:
    now = time.time() if now is None else now
    value = client().get(f"api:quota:{app_id}:{int(now // WINDOW_SECONDS)}")
    return int(value or 0)

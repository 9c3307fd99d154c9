"""A raw Redis client for the API's counters and buffers (the quota windows, the disclosure
buffer), on the same server and database as the cache. Short timeouts: an unreachable Redis
must fail a request quickly (the API answers 503), not hang it."""

from functools import cache

import redis
from django.conf import settings


@cache
def _client_for(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=0.5)


def client() -> redis.Redis:
    return _client_for(settings.REDIS_URL)

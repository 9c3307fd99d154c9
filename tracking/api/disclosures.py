"""Recording what the API disclosed, without slowing the request down.

Each looked-up number becomes one record, pushed to a Redis list in one round trip before the
response leaves; `tracking.services.disclosures.drain` writes them to PostgreSQL in bulk. The
records live in Redis from the moment the request answers, so stopping a web worker loses
none, and the drain is idempotent (see there). If the push fails, the request fails (503):
nothing is disclosed that is not recorded.
"""

import json
import uuid
from dataclasses import asdict, dataclass
from datetime import datetime

from tracking.redis import client

BUFFER_KEY = "api:disclosures"


def printable(text: str) -> str:
    """What a client typed, safe to store: PostgreSQL text (and jsonb) cannot hold NUL, and
    one such record would stall the drain for every other."""
    return "".join(char if char.isprintable() else "\ufffd" for char in text)


@dataclass(frozen=True, slots=True)
class DisclosureRecord:
    record_id: str
    occurred_at: str  # ISO 8601, UTC
    request_id: str
    provider_id: int
    app_id: int
    tracking_number: str
    mid: str
    allowed: bool
    reason_code: str
    http_status: int
    basis: str


def make_record(
    *,
    occurred_at: datetime,
    request_id: str,
    provider_id: int,
    app_id: int,
    tracking_number: str,
    mid: str | None,
    allowed: bool,
    reason_code: str,
    http_status: int,
    basis: str = "",
) -> DisclosureRecord:
    return DisclosureRecord(
        record_id=str(uuid.uuid4()),
        occurred_at=occurred_at.isoformat(),
        request_id=request_id,
        provider_id=provider_id,
        app_id=app_id,
        tracking_number=printable(tracking_number)[:64],
        mid=mid or "",
        allowed=allowed,
        reason_code=reason_code,
        http_status=http_status,
        basis=basis,
    )


def push(records: list[DisclosureRecord]) -> None:
    """Buffer the records (one round trip). Raises redis.RedisError if Redis is unreachable."""
    if records:
        client().rpush(BUFFER_KEY, *(json.dumps(asdict(record)) for record in records))

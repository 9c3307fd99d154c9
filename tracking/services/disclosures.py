"""Draining the disclosure buffer into PostgreSQL, exactly once.

A batch is first moved atomically from the buffer to a processing list, then written in one
statement that inserts the disclosures (ON CONFLICT on their record id DO NOTHING), adds the
inserted ones to the daily aggregates and updates the apps' "last used". Only after that
commits is the processing list deleted. A drain that dies in between leaves the batch in the
processing list; the next drain writes it again, and the record ids make the second write a
no-op, so neither the audit nor the counts can double. A Redis lock keeps drains one at a time.
"""

import json
import logging
from dataclasses import dataclass

from django.conf import settings
from django.db import connection, transaction
from redis.exceptions import LockError

from tracking.api.disclosures import BUFFER_KEY
from tracking.redis import client

logger = logging.getLogger(__name__)

PROCESSING_KEY = "api:disclosures:processing"
LOCK_KEY = "api:disclosures:drain-lock"
LOCK_SECONDS = 300

_MOVE_BATCH = """
local moved = 0
for i = 1, tonumber(ARGV[1]) do
  if not redis.call('LMOVE', KEYS[1], KEYS[2], 'LEFT', 'RIGHT') then break end
  moved = moved + 1
end
return moved
"""

_DELETE_IF_OWNER = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[2])
  return 1
end
return 0
"""

_WRITE_SQL = """
WITH batch AS (
    SELECT * FROM jsonb_to_recordset(%s::jsonb) AS r(
        record_id uuid, occurred_at timestamptz, request_id text, provider_id bigint,
        app_id bigint, tracking_number text, mid text, allowed boolean, reason_code text,
        http_status integer, basis text)
), inserted AS (
    INSERT INTO tracking_disclosure (record_id, occurred_at, request_id, provider_id, app_id,
        tracking_number, mid, allowed, reason_code, http_status, basis)
    SELECT record_id, occurred_at, request_id, provider_id, app_id, tracking_number, mid,
        allowed, reason_code, http_status, basis
    FROM batch
    ON CONFLICT (record_id) DO NOTHING
    RETURNING provider_id, app_id, occurred_at, allowed, reason_code
), counted AS (
    INSERT INTO tracking_dailyusage (provider_id, app_id, day, allowed, reason_code, calls)
    SELECT provider_id, app_id, (occurred_at AT TIME ZONE 'UTC')::date, allowed, reason_code,
        count(*)
    FROM inserted
    GROUP BY 1, 2, 3, 4, 5
    ON CONFLICT (app_id, day, allowed, reason_code)
    DO UPDATE SET calls = tracking_dailyusage.calls + EXCLUDED.calls
    RETURNING 1
), used AS (
    UPDATE tracking_apiapp AS app SET last_used_at = latest.at
    FROM (SELECT app_id, max(occurred_at) AS at FROM inserted GROUP BY app_id) AS latest
    WHERE app.id = latest.app_id AND (app.last_used_at IS NULL OR app.last_used_at < latest.at)
    RETURNING 1
)
SELECT (SELECT count(*) FROM inserted), (SELECT count(*) FROM batch)
"""


@dataclass(frozen=True)
class DrainReport:
    written: int = 0  # new disclosures stored
    repeated: int = 0  # already stored by an earlier, interrupted drain
    batches: int = 0
    skipped_locked: bool = False


def _write(raw_items: list[bytes]) -> tuple[int, int]:
    records = [json.loads(item) for item in raw_items]
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(_WRITE_SQL, [json.dumps(records)])
        inserted, total = cursor.fetchone()
    return inserted, total - inserted


def drain(*, batch_size: int | None = None, max_batches: int = 1000) -> DrainReport:
    """Write buffered disclosures to the database until the buffer is empty (or max_batches)."""
    batch_size = batch_size or settings.API_DISCLOSURE_DRAIN_BATCH
    redis = client()
    lock = redis.lock(LOCK_KEY, timeout=LOCK_SECONDS, blocking=False)
    if not lock.acquire():
        return DrainReport(skipped_locked=True)
    written = repeated = batches = 0
    try:
        for _ in range(max_batches):
            # A batch left by a drain that died is written first (harmlessly, if it had been).
            if not redis.llen(PROCESSING_KEY):
                if not redis.eval(_MOVE_BATCH, 2, BUFFER_KEY, PROCESSING_KEY, batch_size):
                    break
            items = redis.lrange(PROCESSING_KEY, 0, -1)
            # Raises if the lock was lost (a write stalled past LOCK_SECONDS and another drain
            # took over): that drain owns the processing list now.
            lock.extend(LOCK_SECONDS, replace_ttl=True)
            new, seen = _write(items)
            if not redis.eval(_DELETE_IF_OWNER, 2, LOCK_KEY, PROCESSING_KEY, lock.local.token):
                # Lost the lock during the write: the list may already hold another drain's
                # next batch, which only that drain may delete.
                logger.warning("disclosure drain lost its lock during a write; stopping")
                break
            written, repeated, batches = written + new, repeated + seen, batches + 1
    except LockError:
        logger.warning("disclosure drain lost its lock; another drain carries on", exc_info=True)
    finally:
        try:
            lock.release()
        except Exception:  # noqa: BLE001 - an expired lock is released already
            logger.warning("disclosure drain lock had expired", exc_info=True)
    if repeated:
        logger.warning("disclosure drain re-wrote %s records of an interrupted drain", repeated)
    return DrainReport(written=written, repeated=repeated, batches=batches)


def pending() -> int:
    """Records waiting in Redis (buffer and an interrupted batch)."""
    redis = client()
    return int(redis.llen(BUFFER_KEY)) + int(redis.llen(PROCESSING_KEY))

"""The set-based half of the importer. A batch arrives as two COPY payloads (batches.py), is
COPYed into session-local staging tables and written with a fixed handful of statements,
whatever its size; nothing loops over rows in SQL. The caller holds the batch's transaction.

A piece is written once: new pieces are inserted with their status already worked out from
the batch's newest event (staged beside the piece); only pieces that existed before the batch
and received events get their status refreshed from all their stored events.
"""

from typing import Any

from tracking import event_codes
from tracking.models import MailPiece, TrackingEvent

PIECE = MailPiece._meta.db_table
EVENT = TrackingEvent._meta.db_table

# The piece's descriptive columns: a row's non-blank value replaces the stored one.
PIECE_ATTRS = (
    "service_type_code",
    "mail_class",
    "mail_class_code",
    "mail_type",
    "origin_city",
    "origin_state",
    "origin_zip",
    "destination_city",
    "destination_state",
    "destination_zip",
    "expected_delivery",
)
# What the status is made from, for the piece's newest event of the batch.
LATEST = ("event_code", "event_type", "event_timestamp", "city", "state", "zip_code")
STAGE_PIECE_COLUMNS = (
    "key_no",
    "tracking_number",
    "mailing_date",
    "mid",
    "unique_id",
    *PIECE_ATTRS,
    *(f"latest_{column}" for column in LATEST),
)
EVENT_DATA = (
    "event_code",
    "event_type",
    "event_timestamp",
    "gmt_timestamp",
    "gmt_offset",
    "city",
    "state",
    "zip_code",
    "country",
    "firm",
    "recipient_name",
    "action_code",
    "reason_code",
)
STAGE_EVENT_COLUMNS = ("key_no", "line_no", *EVENT_DATA)

_attrs = ", ".join(PIECE_ATTRS)
_merged = ", ".join(f"COALESCE(NULLIF(s.{a}, ''), p.{a})" for a in PIECE_ATTRS)
_current = ", ".join(f"p.{a}" for a in PIECE_ATTRS)
_event_data = ", ".join(EVENT_DATA)

CREATE_STAGING = f"""
DROP TABLE IF EXISTS pg_temp.import_piece, pg_temp.import_event;
CREATE TEMP TABLE import_piece (
    key_no integer, tracking_number text, mailing_date date,
    {", ".join(f"{c} text" for c in STAGE_PIECE_COLUMNS[3:])}
);
CREATE TEMP TABLE import_event (
    key_no integer, line_no integer, event_code text, event_type text, event_timestamp text,
    gmt_timestamp timestamptz, gmt_offset text, city text, state text, zip_code text,
    country text, firm text, recipient_name text, action_code text, reason_code text
);
"""  # noqa: S608 - identifiers are constants of this module; values only ever go through COPY

# Each batch joins a few thousand staged rows to tables that may hold billions. Statistics of a
# freshly loaded table are stale and staging tables have none, so the planner may pick a hash or
# merge join that reads the whole table; forbidding them (for this transaction only) leaves
# nested loops over the unique indexes, whose cost grows with the batch, not the store.
START_BATCH = """
SET LOCAL enable_hashjoin = off;
SET LOCAL enable_mergejoin = off;
TRUNCATE pg_temp.import_piece, pg_temp.import_event
"""

# SET LOCAL lasts until the outermost transaction ends: when the batch runs inside someone
# else's transaction (seed_demo, a test), their later queries get the planner back.
END_NESTED_BATCH = """
SET LOCAL enable_hashjoin TO DEFAULT;
SET LOCAL enable_mergejoin TO DEFAULT
"""

COPY_PIECES = f"COPY pg_temp.import_piece ({', '.join(STAGE_PIECE_COLUMNS)}) FROM STDIN"
COPY_EVENTS = f"COPY pg_temp.import_event ({', '.join(STAGE_EVENT_COLUMNS)}) FROM STDIN"

# The staged pieces already stored, with the uniqueTrackingID they were stored under.
FIND_PIECES = f"""
SELECT s.key_no, p.id, p.unique_mail_piece_id
FROM pg_temp.import_piece AS s
JOIN {PIECE} AS p ON p.tracking_number = s.tracking_number AND p.mailing_date = s.mailing_date
"""  # noqa: S608

# Existing pieces take the batch's non-blank attributes; an unchanged piece is not rewritten,
# so importing the same file twice changes nothing. A piece named with another
# uniqueTrackingID than its stored one is left alone (its rows are rejected).
UPDATE_PIECES = f"""
UPDATE {PIECE} AS p SET ({_attrs}, updated_at) = ({_merged}, now())
FROM pg_temp.import_piece AS s
WHERE p.tracking_number = s.tracking_number AND p.mailing_date = s.mailing_date
  AND (s.unique_id = '' OR s.unique_id = p.unique_mail_piece_id)
  AND ({_merged}) IS DISTINCT FROM ({_current})
RETURNING p.id
"""  # noqa: S608


def _status_columns(n: str) -> str:
    """status, category, summary of an event whose columns are `n.<name>`, joined to the
    event-code table as `c`. The summary reads like USPS's: "Your item was delivered at
    2:05 pm on May 04, 2026 in DENVER, CO 80202."."""
    return f"""
    left(COALESCE(NULLIF(c.status, ''), {n}event_type), 200),
    COALESCE(c.category, %(unknown_category)s),
    left(
        COALESCE(c.summary, %(unknown_summary)s || {n}event_type)
        || CASE WHEN length({n}event_timestamp) = 19
                THEN ' at ' || to_char({n}event_timestamp::timestamp,
                                       'FMHH12:MI am "on" FMMonth DD, YYYY')
                ELSE ' on ' || to_char({n}event_timestamp::date, 'FMMonth DD, YYYY') END
        || CASE WHEN {n}city <> ''
                THEN ' in ' || {n}city || COALESCE(', ' || NULLIF({n}state, ''), '')
                     || COALESCE(' ' || NULLIF({n}zip_code, ''), '')
                ELSE '' END
        || '.', 500)"""


_CODES = list(event_codes.CODES.values())
_CODE_TABLE = "(VALUES {}) AS c (code, status, category, summary)".format(
    ", ".join(
        f"(%(code_{i})s, %(status_{i})s, %(category_{i})s, %(summary_{i})s)"
        for i in range(len(_CODES))
    )
)
STATUS_PARAMS: dict[str, str] = {
    "unknown_category": event_codes.UNKNOWN_CATEGORY,
    "unknown_summary": event_codes.UNKNOWN_SUMMARY_PREFIX,
}
for _i, _code in enumerate(_CODES):
    STATUS_PARAMS |= {
        f"code_{_i}": _code.code,
        f"status_{_i}": _code.status,
        f"category_{_i}": _code.category,
        f"summary_{_i}": _code.summary,
    }

# The other staged pieces are inserted, with their status. ON CONFLICT DO NOTHING also skips a
# piece whose uniqueTrackingID belongs to another piece (or that another import created just
# now): it is not returned, and its rows are rejected rather than failing the batch.
INSERT_PIECES = f"""
INSERT INTO {PIECE} (
    tracking_number, mailing_date, mid, unique_mail_piece_id, {_attrs},
    status, status_category, status_summary, updated_at
)
SELECT s.tracking_number, s.mailing_date, s.mid,
       COALESCE(NULLIF(s.unique_id, ''),
                s.tracking_number || ':' || to_char(s.mailing_date, 'YYYY-MM-DD')),
       {", ".join(f"s.{a}" for a in PIECE_ATTRS)},
       {_status_columns("s.latest_")},
       now()
FROM pg_temp.import_piece AS s
LEFT JOIN {_CODE_TABLE} ON c.code = s.latest_event_code
WHERE NOT (s.key_no = ANY(%(stored)s))
ORDER BY s.key_no
ON CONFLICT DO NOTHING
RETURNING id, tracking_number, mailing_date
"""  # noqa: S608

# Every writer of tracking events serializes its insert on this PostgreSQL advisory lock
# (transaction-scoped: taken by the batch's events INSERT before it takes its first id, held
# until the batch's transaction ends). Event ids therefore come from the sequence in commit
# order: while a batch holds ids, nobody else takes any, so every id still in flight is
# greater than every committed id. The pull API (tracking.extracts.selectors.events_page)
# relies on that: a page `WHERE id > cursor ORDER BY id` never passes an event that commits
# later. INVARIANT: all TrackingEvent inserts go through this lock (import_events is the only
# writer; tests and benchmark loaders that insert directly run alone), and the id sequence is
# not cached per session (CACHE 1, PostgreSQL's default). The price: importers no longer
# insert events in parallel (they still read, check and stage in parallel; only the events
# INSERT up to the commit is one batch at a time). The key is fixed and documented in
# docs/extracts.md: "trkevent" in ASCII.
EVENT_INSERT_LOCK_KEY = 0x74726B6576656E74

# Events go to the pieces found or created: `piece_ids[key_no + 1]`, NULL for a rejected
# piece. In line order, so ids follow the input (the API's last tie-break is the id).
# The lock is taken inside the statement (no extra round trip): the uncorrelated subquery is
# an InitPlan of a one-time filter, run before the first row reaches the INSERT, so before
# the first id is drawn from the sequence.
INSERT_EVENTS = f"""
WITH inserted AS (
    INSERT INTO {EVENT} (piece_id, {_event_data})
    SELECT piece_id, {_event_data}
    FROM (
        SELECT (%(piece_ids)s::bigint[])[e.key_no + 1] AS piece_id, e.*
        FROM pg_temp.import_event AS e
    ) AS e
    WHERE piece_id IS NOT NULL
      AND (SELECT pg_advisory_xact_lock(%(lock_key)s::bigint)::text) IS NOT NULL
    ORDER BY line_no
    ON CONFLICT (piece_id, event_code, event_timestamp) DO NOTHING
    RETURNING piece_id
)
SELECT count(*), COALESCE(array_agg(DISTINCT piece_id), '{{}}') FROM inserted
"""  # noqa: S608

# A piece stored before this batch takes its status from its newest stored event, in the API's
# order (GMT time newest first, undated last; then local time; then id).
REFRESH_STATUS = f"""
UPDATE {PIECE} AS p
SET (status, status_category, status_summary, updated_at) = (m.status, m.category, m.summary, now())
FROM (
    SELECT n.piece_id, {_status_columns("n.")}
    FROM (
        SELECT DISTINCT ON (e.piece_id)
            e.piece_id, e.event_code, e.event_type, e.event_timestamp, e.city, e.state,
            e.zip_code
        FROM {EVENT} AS e
        WHERE e.piece_id = ANY(%(piece_ids)s)
        ORDER BY e.piece_id, e.gmt_timestamp DESC NULLS LAST, e.event_timestamp DESC, e.id DESC
    ) AS n
    LEFT JOIN {_CODE_TABLE} ON c.code = n.event_code
) AS m (piece_id, status, category, summary)
WHERE p.id = m.piece_id
  AND (p.status, p.status_category, p.status_summary)
      IS DISTINCT FROM (m.status, m.category, m.summary)
RETURNING p.id
"""  # noqa: S608


def create_staging(cursor: Any) -> None:
    cursor.execute(CREATE_STAGING)


def stage(cursor: Any, pieces: bytes, events: bytes) -> None:
    """Empty the staging tables and COPY the batch in (COPY text format, built by batches)."""
    cursor.execute(START_BATCH)
    with cursor.copy(COPY_PIECES) as copy:
        copy.write(pieces)
    with cursor.copy(COPY_EVENTS) as copy:
        copy.write(events)


def end_nested_batch(cursor: Any) -> None:
    cursor.execute(END_NESTED_BATCH)


def find_pieces(cursor: Any) -> list[tuple[int, int, str]]:
    """(key_no, piece id, stored uniqueTrackingID) of the staged pieces already stored."""
    cursor.execute(FIND_PIECES)
    return cursor.fetchall()


def update_pieces(cursor: Any) -> list[int]:
    cursor.execute(UPDATE_PIECES)
    return [row[0] for row in cursor.fetchall()]


def insert_pieces(cursor: Any, stored: list[int]) -> list[tuple[int, str, Any]]:
    """(id, tracking number, mailing date) of the pieces created; `stored` are the key_nos of
    the pieces find_pieces found."""
    cursor.execute(INSERT_PIECES, {**STATUS_PARAMS, "stored": stored})
    return cursor.fetchall()


def insert_events(cursor: Any, piece_ids: list[int | None]) -> tuple[int, list[int]]:
    """(events inserted, ids of the pieces that received them). The statement takes the
    event-insert lock (EVENT_INSERT_LOCK_KEY) first; it is held until the batch commits."""
    cursor.execute(INSERT_EVENTS, {"piece_ids": piece_ids, "lock_key": EVENT_INSERT_LOCK_KEY})
    count, received = cursor.fetchone()
    return count, received


def refresh_status(cursor: Any, piece_ids: list[int]) -> list[int]:
    if not piece_ids:
        return []
    cursor.execute(REFRESH_STATUS, {**STATUS_PARAMS, "piece_ids": piece_ids})
    return [row[0] for row in cursor.fetchall()]

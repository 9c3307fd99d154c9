"""The extract record, written as SQL so PostgreSQL builds every line.

A record has the shape of USPS's `detailedScanEvent` (subscriptions-tracking-v3r2.yaml: the
piece-level `ScanEventDetails` fields plus one `trackingEvent`, a `ScanEventExtractTrackingEvent`),
limited to the fields the store has and named as USPS names them. Empty values are left out of
the JSON, as tracking.api.shapes does, because several fields have patterns ("" is not a ZIP).
Timestamps follow Tracking 3.2: `eventTimestamp` local with its offset (or a bare date),
`GMTTimestamp` UTC ending in Z, `GMTOffset` as "-7:00".

The same expressions serve the extract file (build.py) and the pull API (selectors.py), so
the two can never disagree on a field.
"""

from typing import Final

PIECE_FIELDS: Final = (
    "trackingNumber",
    "uniqueTrackingID",
    "mailerID",
    "mailingDate",
    "mailClass",
    "mailClassCode",
    "mailType",
    "serviceTypeCode",
    "originCity",
    "originState",
    "originZIPCode",
    "originCountry",
    "destinationCity",
    "destinationState",
    "destinationZIPCode",
    "destinationCountry",
    "status",
    "statusCategory",
    "statusSummary",
)
EVENT_FIELDS: Final = (
    "eventCode",
    "eventType",
    "eventTimestamp",
    "GMTTimestamp",
    "GMTOffset",
    "eventCity",
    "eventState",
    "eventZIPCode",
    "eventCountry",
    "firm",
    "recipientName",
    "actionCode",
    "reasonCode",
    "scanEventExtractEventName",
)
# CSV: one flat row per event; the trackingEvent fields keep their names (none clashes with a
# piece-level field), so a column means the same as the JSON key of the same name.
CSV_COLUMNS: Final = PIECE_FIELDS + EVENT_FIELDS

# The raw columns, as rows_sql() selects them (the COPY baseline of the benchmark reads these).
_COLUMNS: Final = """
    e.id, p.tracking_number, p.unique_mail_piece_id, p.mid, p.mailing_date, p.mail_class,
    p.mail_class_code, p.mail_type, p.service_type_code, p.origin_city, p.origin_state,
    p.origin_zip, p.destination_city, p.destination_state, p.destination_zip, p.status,
    p.status_category, p.status_summary, e.event_code, e.event_type, e.event_timestamp,
    e.gmt_timestamp, e.gmt_offset, e.city, e.state, e.zip_code, e.country, e.firm,
    e.recipient_name, e.action_code, e.reason_code"""
# Every stored text column that reaches the output (checked for characters needing escapes).
_PIECE_TEXT: Final = (
    "tracking_number",
    "unique_mail_piece_id",
    "mid",
    "mail_class",
    "mail_class_code",
    "mail_type",
    "service_type_code",
    "origin_city",
    "origin_state",
    "origin_zip",
    "destination_city",
    "destination_state",
    "destination_zip",
    "status",
    "status_category",
    "status_summary",
)
_EVENT_TEXT: Final = (
    "event_code",
    "event_type",
    "event_timestamp",
    "city",
    "state",
    "zip_code",
    "country",
    "firm",
    "recipient_name",
    "action_code",
    "reason_code",
    "gmt_offset",
)
_TEXT_COLUMNS: Final = _PIECE_TEXT + _EVENT_TEXT

_FROM: Final = """
    FROM tracking_trackingevent e
    JOIN tracking_mailpiece p ON p.id = e.piece_id
    WHERE p.mid = ANY(%s) AND e.gmt_timestamp >= %s AND e.gmt_timestamp < %s"""

# The scan's UTC offset in minutes: as stored ("-7:00"), else worked out from the local and
# the UTC timestamps (tracking.api.shapes._offset_minutes, in SQL).
_OFFSET_MINUTES: Final = """(CASE
    WHEN r.gmt_offset <> '' THEN
        (CASE WHEN left(r.gmt_offset, 1) = '-' THEN -1 ELSE 1 END)
        * (split_part(ltrim(r.gmt_offset, '+-'), ':', 1)::int * 60
           + coalesce(nullif(split_part(ltrim(r.gmt_offset, '+-'), ':', 2), '')::int, 0))
    WHEN r.gmt_timestamp IS NOT NULL AND length(r.event_timestamp) = 19 THEN
        round(extract(epoch FROM (r.event_timestamp::timestamp
                                  - (r.gmt_timestamp AT TIME ZONE 'UTC'))) / 60)::int
    END)"""


def plain_select() -> str:
    """The extract's rows as stored, in no particular order (the benchmark's COPY baseline).
    Params: [mids (list), lower (UTC datetime, inclusive), upper (exclusive)]."""
    return f"SELECT {_COLUMNS} {_FROM}"


def _prepared(inner: str) -> str:
    """inner's rows plus `om` (the offset in minutes, worked out once per row) and `alltext`
    (every stored text value run together, for the one check of whether any needs escaping).
    OFFSET 0 keeps PostgreSQL from folding this layer into the outer query, which would copy
    the offset expression into each of its uses."""
    alltext = "concat(" + ", ".join(f"r.{column}" for column in _TEXT_COLUMNS) + ")"
    return f"SELECT r.*, {_OFFSET_MINUTES} AS om, {alltext} AS alltext FROM ({inner}) AS r OFFSET 0"  # noqa: S608 - SQL of this module; values are parameters


def lines_select(file_format: str) -> str:
    """One text column: the file's lines, piece by piece (piece id order), each piece's
    newest scan first (as USPS lists trackingEvents). Params: a dict of mids, lower,
    upper (as plain_select()'s list, by name).

    A piece's own fields are the same on each of its events, so its part of the line (`head`)
    is built once per piece (subquery k; its ORDER BY keeps PostgreSQL from inlining it) and
    only the event's part once per event. k holds only pieces with an event in the range.
    Ordering by piece lets a plan walk pieces and their (piece, GMT time) index without a
    sort of the whole extract, which a global order by event id would need.
    """
    csv = file_format == "CSV"
    head = _csv_cells(PIECE_FIELDS) if csv else _json_head()
    tail = f"',' || {_csv_cells(EVENT_FIELDS)}" if csv else _json_tail()
    piece_text = "concat(" + ", ".join(f"p.{column}" for column in _PIECE_TEXT) + ")"
    event_text = "concat(" + ", ".join(f"r.{column}" for column in _EVENT_TEXT) + ")"
    return f"""
    SELECT r.head || {tail}
    FROM (
        SELECT r.*, {_OFFSET_MINUTES} AS om, {event_text} AS alltext
        FROM (
            SELECT k.head, e.*
            FROM (
                SELECT r.id, {head} AS head
                FROM (
                    SELECT p.*, {piece_text} AS alltext
                    FROM tracking_mailpiece p
                    WHERE p.mid = ANY(%(mids)s) AND EXISTS (
                        SELECT 1 FROM tracking_trackingevent e WHERE e.piece_id = p.id
                        AND e.gmt_timestamp >= %(lower)s AND e.gmt_timestamp < %(upper)s)
                ) AS r
                ORDER BY r.id
            ) AS k
            JOIN tracking_trackingevent e ON e.piece_id = k.id
            WHERE e.gmt_timestamp >= %(lower)s AND e.gmt_timestamp < %(upper)s
            ORDER BY k.id, e.gmt_timestamp DESC, e.id
        ) AS r OFFSET 0
    ) AS r"""  # noqa: S608 - SQL of this module; values are parameters


def page_select() -> str:
    """The pull API's page: rows of (top, event id, record as JSON text) for the events after
    an event id, in id order; `top` is the highest event id the statement's snapshot sees (the
    same on every row), and when no event matches there is one row with NULL id and record.
    Params: [mids, lower, upper, after_id, limit]. One statement, so one snapshot: the page
    and `top` agree (selectors.events_page relies on that)."""
    inner = f"SELECT {_COLUMNS} {_FROM} AND e.id > %s ORDER BY e.id LIMIT %s"
    page = f"SELECT r.id, {json_record()}::text AS record FROM ({_prepared(inner)}) AS r"  # noqa: S608
    return f"""
    SELECT t.top, p.id, p.record
    FROM (SELECT max(id) AS top FROM tracking_trackingevent) AS t
    LEFT JOIN ({page}) AS p ON true
    ORDER BY p.id"""  # noqa: S608 - SQL of this module; values are parameters


def _offset_text(*, padded: bool) -> str:
    hours = "(abs(r.om) / 60)::text"
    if padded:
        hours = f"lpad({hours}, 2, '0')"
    return f"{hours} || ':' || lpad(mod(abs(r.om), 60)::text, 2, '0')"


# "-7:00", "+5:30", "0:00" (USPS's spelling) or NULL.
_GMT_OFFSET: Final = (
    "(CASE WHEN r.om IS NULL THEN NULL ELSE "
    "(CASE WHEN r.om < 0 THEN '-' WHEN r.om > 0 THEN '+' ELSE '' END) || "
    f"{_offset_text(padded=False)} END)"
)
# Local date-time with its ISO offset; a date stays a date; a local time whose offset is
# unknown is cut to its date (it cannot honestly be written as a moment).
_EVENT_TIMESTAMP: Final = f"""(CASE
    WHEN length(r.event_timestamp) <> 19 THEN nullif(r.event_timestamp, '')
    WHEN r.om IS NULL THEN left(r.event_timestamp, 10)
    ELSE r.event_timestamp || (CASE WHEN r.om < 0 THEN '-' ELSE '+' END)
         || {_offset_text(padded=True)}
    END)"""


def _text(column: str) -> str:
    return f"nullif(r.{column}, '')"


# Each output field's SQL over the prepared row (alias r); NULL means the field is left out.
VALUES: Final = {
    "trackingNumber": "r.tracking_number",
    "uniqueTrackingID": _text("unique_mail_piece_id"),
    "mailerID": _text("mid"),
    "mailingDate": "to_char(r.mailing_date, 'YYYY-MM-DD')",
    "mailClass": _text("mail_class"),
    "mailClassCode": _text("mail_class_code"),
    "mailType": _text("mail_type"),
    "serviceTypeCode": _text("service_type_code"),
    "originCity": _text("origin_city"),
    "originState": _text("origin_state"),
    "originZIPCode": _text("origin_zip"),
    "originCountry": "(CASE WHEN r.origin_zip <> '' THEN 'US' END)",
    "destinationCity": _text("destination_city"),
    "destinationState": _text("destination_state"),
    "destinationZIPCode": _text("destination_zip"),
    "destinationCountry": "(CASE WHEN r.destination_zip <> '' THEN 'US' END)",
    "status": _text("status"),
    "statusCategory": _text("status_category"),
    "statusSummary": _text("status_summary"),
    "eventCode": "r.event_code",
    "eventType": _text("event_type"),
    "eventTimestamp": _EVENT_TIMESTAMP,
    "GMTTimestamp": "to_char(r.gmt_timestamp AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')",
    "GMTOffset": _GMT_OFFSET,
    "eventCity": _text("city"),
    "eventState": _text("state"),
    "eventZIPCode": _text("zip_code"),
    "eventCountry": _text("country"),
    "firm": _text("firm"),
    "recipientName": _text("recipient_name"),
    "actionCode": _text("action_code"),
    "reasonCode": _text("reason_code"),
    # "Delivered, Front Door/Porch" -> "DELIVERED FRONT DOOR/PORCH", as in USPS's example.
    "scanEventExtractEventName": "nullif(upper(replace(r.event_type, ',', '')), '')",
}


def json_record() -> str:
    """The record as a json value, NULLs stripped (keys keep the order above). PostgreSQL's
    JSON functions escape everything correctly but work out each argument's type on every
    call, which makes them slow; json_line() uses them only for rows that need escaping."""

    def pairs(fields: tuple[str, ...]) -> str:
        return ", ".join(f"'{field}', {VALUES[field]}" for field in fields)

    event = f"json_build_object({pairs(EVENT_FIELDS)})"
    return f"json_strip_nulls(json_build_object({pairs(PIECE_FIELDS)}, 'trackingEvent', {event}))"


def _plain_members(fields: tuple[str, ...]) -> str:
    # concat_ws skips NULLs, so an empty field drops out as json_strip_nulls would drop it.
    members = ", ".join(f"""'"{field}":"' || {VALUES[field]} || '"'""" for field in fields)
    return f"concat_ws(',', {members})"


def _escaped(fields: tuple[str, ...]) -> str:
    pairs = ", ".join(f"'{field}', {VALUES[field]}" for field in fields)
    return f"json_strip_nulls(json_build_object({pairs}))::text"


# Quote, backslash or control character: the values JSON must escape.
_NEEDS_ESCAPE: Final = """r.alltext ~ '[[:cntrl:]"\\\\]'"""


def _json_head() -> str:
    """`{"trackingNumber":…,…,"trackingEvent":` for one piece. When none of its stored values
    needs escaping (nearly always) it is put together as text, several times faster than the
    JSON functions and byte for byte what they give; the derived values (dates, the constant
    "US") never need escaping."""
    plain = f"'{{' || {_plain_members(PIECE_FIELDS)}"
    escaped = f"left({_escaped(PIECE_FIELDS)}, -1)"
    return f"""(CASE WHEN {_NEEDS_ESCAPE} THEN {escaped} ELSE {plain} END) || ',"trackingEvent":'"""


def _json_tail() -> str:
    """The event object and the record's closing brace, the same way as _json_head()."""
    plain = f"'{{' || {_plain_members(EVENT_FIELDS)} || '}}'"
    return f"(CASE WHEN {_NEEDS_ESCAPE} THEN {_escaped(EVENT_FIELDS)} ELSE {plain} END) || '}}'"


# CSV cells a spreadsheet would read as a formula (=, +, -, @, and tab or CR, which some
# spreadsheets strip before looking) get a leading ' so they stay text (OWASP "CSV injection").
# Only the free-text fields: values the importer checks against a pattern (event codes,
# states, ZIP Codes, countries, service type codes: letters and digits), and generated ones
# whose values legitimately start with "-" (timestamps, GMTOffset "-7:00"), are left alone.
# Each guarded field with the stored column its value starts with (scanEventExtractEventName
# is event_type without its commas, hence the ltrim).
CSV_GUARDED: Final = {
    "uniqueTrackingID": "unique_mail_piece_id",
    "mailClass": "mail_class",
    "mailClassCode": "mail_class_code",
    "mailType": "mail_type",
    "originCity": "origin_city",
    "destinationCity": "destination_city",
    "status": "status",
    "statusCategory": "status_category",
    "statusSummary": "status_summary",
    "eventType": "event_type",
    "eventCity": "city",
    "firm": "firm",
    "recipientName": "recipient_name",
    "actionCode": "action_code",
    "reasonCode": "reason_code",
    "scanEventExtractEventName": "event_type",
}
# The first characters that start a formula (tab, CR, +, -, =, @), as code points.
_FORMULA_CODES: Final = "9, 13, 43, 45, 61, 64"


def _starts_formula(column: str) -> str:
    # ascii() of the first character: cheaper per line than a regex or a substring. A
    # leading comma counts too for event_type (scanEventExtractEventName drops commas).
    codes = f"{_FORMULA_CODES}, 44" if column == "event_type" else _FORMULA_CODES
    return f"ascii(r.{column}) IN ({codes})"


def _csv_guarded(value: str) -> str:
    return f"(CASE WHEN ascii({value}) IN ({_FORMULA_CODES}) THEN '''' || {value} ELSE {value} END)"


def _csv_cells(fields: tuple[str, ...]) -> str:
    """RFC 4180 cells: every value quoted (valid for every reader, and cheaper in SQL than
    deciding which need it), a missing value empty, quotes inside doubled (only rows that
    hold one pay for the replace()), free text that would start a formula behind a ' (one
    test per line; only lines holding such a value pay for the test of each cell)."""

    def cells(*, double_quotes: bool, guard: bool) -> str:
        out = []
        for field in fields:
            value = f"coalesce({VALUES[field]}, '')"
            if guard and field in CSV_GUARDED:
                value = _csv_guarded(value)
            if double_quotes:
                value = f"replace({value}, '\"', '\"\"')"
            out.append(f"""'"' || {value} || '"'""")
        return " || ',' || ".join(out)

    columns = dict.fromkeys(CSV_GUARDED[field] for field in fields if field in CSV_GUARDED)
    test = " OR ".join(_starts_formula(column) for column in columns)

    def either(double_quotes: bool) -> str:
        return (
            f"(CASE WHEN {test} THEN {cells(double_quotes=double_quotes, guard=True)} "
            f"ELSE {cells(double_quotes=double_quotes, guard=False)} END)"
        )

    return (
        f"""(CASE WHEN strpos(r.alltext, '"') = 0 THEN {either(False)} ELSE {either(True)} END)"""
    )


def csv_header() -> str:
    return ",".join(CSV_COLUMNS)

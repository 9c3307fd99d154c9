"""The extract file (tracking.extracts.build): which events, their record shape in NDJSON and
CSV, escaping, the hash and size it reports, and that it reads in chunks with an access check
before each."""

import io
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection

from tests.tracking.extracts.helpers import (
    MID,
    OTHER_MID,
    csv_rows,
    ndjson_lines,
    number_for,
    recent,
    sha256,
    store,
    store_piece,
)
from tracking.api import shapes
from tracking.extracts import records
from tracking.extracts.build import AccessRevoked, rows_sql, write_extract
from tracking.extracts.selectors import events_page
from tracking.models import MailPiece, TrackingEvent

pytestmark = pytest.mark.django_db


def build(**kwargs):
    out = io.BytesIO()
    arguments = {"mids": [MID], "start": recent(), "end": recent(), "file_format": "NDJSON"}
    result = write_extract(out=out, **(arguments | kwargs))
    return result, out.getvalue()


def test_the_file_holds_every_event_of_the_mids_and_days_and_reports_its_hash():
    store(MID, 3, events=3)
    store(OTHER_MID, 2, events=3, first_serial=50)  # another MID: left out
    store(MID, 1, events=2, first_serial=90, day=recent(10))  # outside the range: left out

    result, data = build()

    lines = ndjson_lines(data)
    assert result.rows == len(lines) == 9
    assert {line["mailerID"] for line in lines} == {MID}
    assert result.byte_count == len(data)
    assert result.sha256 == sha256(data)


def test_the_range_is_whole_utc_days_inclusive():
    piece = store_piece(number_for(MID, 7), mid=MID, mailing_date=recent(), events=1)
    end = datetime.combine(recent(), datetime.min.time(), tzinfo=UTC) + timedelta(days=1)
    for code, moment in [("07", end - timedelta(seconds=1)), ("OF", end)]:
        TrackingEvent.objects.create(
            piece=piece,
            event_code=code,
            event_type="Out for Delivery",
            event_timestamp=(moment - timedelta(hours=7)).strftime("%Y-%m-%dT%H:%M:%S"),
            gmt_timestamp=moment,
            gmt_offset="-7:00",
        )

    _, data = build()

    codes = sorted(line["trackingEvent"]["eventCode"] for line in ndjson_lines(data))
    assert codes == ["03", "07"]  # 23:59:59 is in, the next midnight is not


def test_a_record_has_the_scan_event_extract_shape():
    piece = store_piece(number_for(MID, 1), mid=MID, mailing_date=recent(), events=1)

    (line,) = ndjson_lines(build()[1])

    assert line == {
        "trackingNumber": piece.tracking_number,
        "uniqueTrackingID": piece.unique_mail_piece_id,
        "mailerID": MID,
        "mailingDate": recent().isoformat(),
        "mailClass": "Priority Mail",
        "mailType": "DOMESTIC_MAIL",
        "serviceTypeCode": "001",
        "originCity": "DENVER",
        "originState": "CO",
        "originZIPCode": "80202",
        "originCountry": "US",
        "destinationCity": "BOULDER",
        "destinationState": "CO",
        "destinationZIPCode": "80301",
        "destinationCountry": "US",
        "status": "In Transit to Next Facility",
        "statusCategory": "In Transit",
        "statusSummary": "Your item is in transit.",
        "trackingEvent": {
            "eventCode": "03",
            "eventType": "USPS in possession of item",
            "eventTimestamp": f"{recent().isoformat()}T08:00:00-07:00",
            "GMTTimestamp": f"{recent().isoformat()}T15:00:00Z",
            "GMTOffset": "-7:00",
            "eventCity": "DENVER",
            "eventState": "CO",
            "eventZIPCode": "80202",
            "eventCountry": "US",
            "scanEventExtractEventName": "USPS IN POSSESSION OF ITEM",
        },
    }


def test_event_fields_agree_with_the_tracking_api_shape():
    """The SQL that writes the file and tracking.api.shapes (Python) say the same about each
    event, including an offset worked out from the two timestamps and a date-only scan."""
    piece = store_piece(number_for(MID, 2), mid=MID, mailing_date=recent(), events=2)
    TrackingEvent.objects.filter(piece=piece, event_code="10").update(gmt_offset="")
    noon = datetime.combine(recent(), datetime.min.time(), tzinfo=UTC) + timedelta(hours=20)
    TrackingEvent.objects.create(
        piece=piece,
        event_code="01",
        event_type="Delivered",
        event_timestamp=recent().isoformat(),
        gmt_timestamp=noon,
        gmt_offset="+5:30",
        firm="ACME",
        recipient_name="J SMITH",
        action_code="A1",
        reason_code="R2",
    )

    lines = ndjson_lines(build()[1])

    by_code = {line["trackingEvent"]["eventCode"]: line["trackingEvent"] for line in lines}
    for event in TrackingEvent.objects.filter(piece=piece):
        expected = shapes.v3r2_event(event)
        got = by_code[event.event_code]
        assert {key: got[key] for key in expected} == expected
    assert by_code["10"]["GMTOffset"] == "-7:00"  # worked out: the row has no offset
    assert by_code["01"]["eventTimestamp"] == recent().isoformat()


AWKWARD = {
    "destination_city": 'O"BRIEN \\ TOWN',
    "status_summary": "Line one\nline two\ttabbed, with a comma",
    "origin_city": "ZOË 東京",
}


def awkward_piece(serial: int):
    piece = store_piece(number_for(MID, serial), mid=MID, mailing_date=recent(), events=1)
    MailPiece.objects.filter(pk=piece.pk).update(**AWKWARD)
    return piece


@pytest.mark.parametrize("file_format", ["NDJSON", "CSV"])
def test_quotes_backslashes_control_characters_and_unicode_survive(file_format):
    awkward_piece(3)
    store_piece(number_for(MID, 4), mid=MID, mailing_date=recent(), events=1)  # a plain one
    TrackingEvent.objects.filter(piece__tracking_number=number_for(MID, 3)).update(
        firm='A "quoted" firm\\', recipient_name="Tab\there"
    )

    _, data = build(file_format=file_format)

    if file_format == "NDJSON":
        rows = {line["trackingNumber"]: line for line in ndjson_lines(data)}
        awkward = rows[number_for(MID, 3)]
        event = awkward["trackingEvent"]
    else:
        rows = {row["trackingNumber"]: row for row in csv_rows(data)}
        awkward = event = rows[number_for(MID, 3)]
        assert list(awkward) == list(records.CSV_COLUMNS)
    assert awkward["destinationCity"] == AWKWARD["destination_city"]
    assert awkward["statusSummary"] == AWKWARD["status_summary"]
    assert awkward["originCity"] == AWKWARD["origin_city"]
    assert event["firm"] == 'A "quoted" firm\\'
    assert event["recipientName"] == "Tab\there"
    assert rows[number_for(MID, 4)]["originCity"] == "DENVER"


def test_the_fast_lines_are_byte_for_byte_what_the_json_functions_write():
    """Rows without characters to escape are put together as text; the pull API uses the JSON
    functions. Both must give the same records."""
    store(MID, 3, events=2)
    awkward_piece(9)
    lower = datetime.combine(recent(), datetime.min.time(), tzinfo=UTC)

    file_lines = ndjson_lines(build()[1])
    page = events_page(
        mids=[MID], lower=lower, upper=lower + timedelta(days=1), after_id=0, limit=100
    )

    assert sorted(map(repr, file_lines)) == sorted(map(repr, page.events))
    assert len(file_lines) == 7


def test_csv_text_that_would_start_a_formula_is_kept_as_text_but_offsets_are_not_touched():
    piece = store_piece(number_for(MID, 1), mid=MID, mailing_date=recent(), events=1)
    MailPiece.objects.filter(pk=piece.pk).update(
        destination_city='=HYPERLINK("http://x")',
        status_summary="+1 call",
        mail_class="-Priority",
        origin_city="@SUM(A1)",
    )
    TrackingEvent.objects.filter(piece=piece).update(
        firm="\tFIRM", recipient_name="\r=cmd", event_type="=Delivered", city="DENVER-WEST"
    )

    _, csv_data = build(file_format="CSV")
    _, json_data = build()

    (row,) = csv_rows(csv_data)
    assert row["destinationCity"] == '\'=HYPERLINK("http://x")'
    assert row["statusSummary"] == "'+1 call"
    assert row["mailClass"] == "'-Priority"
    assert row["originCity"] == "'@SUM(A1)"
    assert row["firm"] == "'\tFIRM"
    assert row["recipientName"] == "'\r=cmd"
    assert row["eventType"] == "'=Delivered"
    assert row["scanEventExtractEventName"] == "'=DELIVERED"
    assert row["eventCity"] == "DENVER-WEST"  # only the first character counts
    assert row["GMTOffset"] == "-7:00"  # a legitimate leading '-' stays
    assert row["eventTimestamp"].endswith("-07:00")
    # NDJSON is data for programs, not spreadsheets: unchanged.
    (line,) = ndjson_lines(json_data)
    assert line["destinationCity"] == '=HYPERLINK("http://x")'
    assert line["trackingEvent"]["recipientName"] == "\r=cmd"


def test_csv_has_a_header_and_one_flat_row_per_event():
    store(MID, 2, events=2)

    result, data = build(file_format="CSV")

    rows = csv_rows(data)
    assert result.rows == len(rows) == 4
    assert rows[0]["eventCode"] in {"03", "10"}
    assert rows[0]["GMTOffset"] == "-7:00"
    assert rows[0]["firm"] == ""  # empty, not left out: every row has every column


def test_the_rows_are_read_in_chunks_with_an_access_check_before_each():
    store(MID, 7, events=1)
    progress, checks = [], []

    result, _ = build(
        chunk_rows=2, on_progress=progress.append, check_access=lambda: checks.append(1)
    )

    assert result.rows == 7
    assert progress == [2, 4, 6, 7]
    assert len(checks) == 5  # before each of the 4 chunks, and once more before the end


def test_an_access_check_that_raises_stops_the_build():
    store(MID, 6, events=1)
    calls = []

    def check():
        calls.append(1)
        if len(calls) == 2:
            raise AccessRevoked(MID, "MID_NOT_AUTHORIZED")

    with pytest.raises(AccessRevoked) as caught:
        build(chunk_rows=2, check_access=check)

    assert caught.value.mid == MID and caught.value.reason == "MID_NOT_AUTHORIZED"


def test_an_unknown_format_is_refused():
    with pytest.raises(ValueError):
        build(file_format="XML")


def test_rows_sql_selects_the_same_rows(django_assert_max_num_queries):
    store(MID, 2, events=3)
    sql, params = rows_sql(mids=[MID], start=recent(), end=recent())

    with django_assert_max_num_queries(1), connection.cursor() as cursor:
        cursor.execute(sql, params)
        selected = cursor.fetchall()

    assert len(selected) == build()[0].rows == 6

"""The scan-event importer: formats, validation with line numbers, idempotency, batches that
never half-save, status from the newest event, and a query count that does not grow with the
batch."""

import csv
import gzip
import json
from datetime import UTC, date, datetime
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from core.tracking_numbers import make_impb, mod10_check_digit, s10_check_digit
from tracking.generator import FIELDS, generate_records
from tracking.imports import ImportFailed, ImportFileError, detect_format, import_events, store
from tracking.models import MailPiece, TrackingEvent

pytestmark = pytest.mark.django_db

MID = "912345678"
NUMBER = make_impb(mid=MID, service_type_code="055", serial="1234567")
OTHER = make_impb(mid=MID, service_type_code="001", serial="7654321")


def row(**fields: str) -> dict[str, str]:
    """One valid scan-event row of NUMBER (a Priority Mail piece to Denver), changed by
    `fields`; a field given as None is left out."""
    base = {
        "trackingNumber": NUMBER,
        "mailingDate": "2026-05-01",
        "mailerID": MID,
        "uniqueTrackingID": "UID-1",
        "mailClass": "Priority Mail",
        "mailClassCode": "PM",
        "mailType": "DOMESTIC_MAIL",
        "originCity": "BOSTON",
        "originState": "MA",
        "originZIPCode": "02108",
        "destinationCity": "DENVER",
        "destinationState": "CO",
        "destinationZIPCode": "80202",
        "expectedDeliveryDate": "2026-05-04",
        "eventCode": "03",
        "eventType": "USPS picked up item",
        "eventTimestamp": "2026-05-01T09:15:00",
        "GMTTimestamp": "2026-05-01T13:15:00Z",
        "GMTOffset": "-4:00",
        "eventCity": "BOSTON",
        "eventState": "MA",
        "eventZIPCode": "02108",
        "eventCountry": "US",
    }
    base.update(fields)
    return {name: value for name, value in base.items() if value is not None}


def delivered(**fields: str) -> dict[str, str]:
    return row(
        eventCode="01",
        eventType="Delivered, Front Door/Porch",
        eventTimestamp="2026-05-04T14:05:00",
        GMTTimestamp="2026-05-04T20:05:00Z",
        GMTOffset="-6:00",
        eventCity="DENVER",
        eventState="CO",
        eventZIPCode="80202",
        **fields,
    )


def ndjson(records) -> list[str]:
    return [json.dumps(record) + "\n" for record in records]


def generated(pieces: int = 20, seed: int = 7) -> list[dict[str, str]]:
    return list(
        generate_records(pieces=pieces, mids=[MID, "123456"], seed=seed, start=date(2026, 3, 1))
    )


def write_csv(path, records) -> None:
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "wt", newline="", encoding="utf-8") as out:
        writer = csv.DictWriter(out, fieldnames=FIELDS)
        writer.writeheader()
        writer.writerows(records)


def stored_rows() -> dict[str, list[tuple]]:
    return {
        "pieces": list(MailPiece.objects.order_by("pk").values_list()),
        "events": list(TrackingEvent.objects.order_by("pk").values_list()),
    }


def test_an_ndjson_file_becomes_pieces_and_events(tmp_path):
    records = generated(pieces=20)
    path = tmp_path / "events.ndjson"
    path.write_text("".join(ndjson(records)))

    report = import_events(path=path)

    numbers = {r["trackingNumber"] for r in records}
    assert (report.rows_read, report.events_imported, report.duplicates, report.rejected) == (
        len(records),
        len(records),
        0,
        0,
    )
    assert report.pieces_created == 20 == MailPiece.objects.count()
    assert TrackingEvent.objects.count() == len(records)
    assert set(MailPiece.objects.values_list("tracking_number", flat=True)) == numbers
    assert set(report.pieces_with_new_events) == set(MailPiece.objects.values_list("pk", flat=True))
    first = records[0]
    piece = MailPiece.objects.get(tracking_number=first["trackingNumber"])
    assert (piece.mid, piece.service_type_code, piece.unique_mail_piece_id) == (
        first["mailerID"],
        first["serviceTypeCode"],
        first["uniqueTrackingID"],
    )
    assert (piece.origin_city, piece.destination_zip, piece.mail_class) == (
        first["originCity"],
        first["destinationZIPCode"],
        first["mailClass"],
    )


def test_csv_and_gzip_hold_the_same_rows_as_ndjson(tmp_path):
    records = generated(pieces=12)
    write_csv(tmp_path / "events.csv.gz", records)
    (tmp_path / "events.jsonl.gz").write_bytes(gzip.compress("".join(ndjson(records)).encode()))

    from_csv = import_events(path=tmp_path / "events.csv.gz")
    after_csv = stored_rows()
    from_ndjson = import_events(path=tmp_path / "events.jsonl.gz")

    assert (from_csv.events_imported, from_csv.rejected) == (len(records), 0)
    # The same rows in the other format are all already there.
    assert (from_ndjson.events_imported, from_ndjson.duplicates) == (0, len(records))
    assert stored_rows() == after_csv


def test_importing_the_same_file_again_changes_nothing(tmp_path):
    path = tmp_path / "events.csv"
    records = generated(pieces=15)
    write_csv(path, records)
    first = import_events(path=path)
    before = stored_rows()

    second = import_events(path=path)

    assert stored_rows() == before  # not a row, not an updated_at
    assert (second.rows_read, second.events_imported, second.duplicates) == (
        len(records),
        0,
        len(records),
    )
    assert (second.pieces_created, second.pieces_updated, second.rejected) == (0, 0, 0)
    assert second.pieces_with_new_events == []
    assert first.accounted_for and second.accounted_for


def test_bad_lines_are_reported_with_line_numbers_and_reasons_and_the_rest_lands():
    lines = [
        json.dumps(row(eventCode="MA", eventType="", eventTimestamp="2026-05-01")),  # 1: good
        "{not json",  # 2
        "[1, 2]",  # 3
        json.dumps(row(trackingNumber=NUMBER[:-1] + str((int(NUMBER[-1]) + 1) % 10))),  # 4
        json.dumps(row(mailerID="987654321")),  # 5
        json.dumps(row(mailingDate="2026-02-30")),  # 6
        json.dumps(row(destinationZIPCode="8020")),  # 7
        json.dumps(row(originState="XX")),  # 8
        json.dumps(row(eventCode="0!")),  # 9
        json.dumps(row(GMTOffset="-25:00")),  # 10
        json.dumps(row(GMTTimestamp="2026-05-01T14:15:00Z")),  # 11: an hour off
        json.dumps(row(eventTimestamp=None)),  # 12
        "",  # 13: blank, not a row
        json.dumps(row(eventCity=7)),  # 14
        json.dumps(row(eventTimestamp="2026-05-01T09:15")),  # 15
        json.dumps(delivered()),  # 16: good
        json.dumps(row(eventCode="ZZ", eventType="")),  # 17: unknown code, no description
        json.dumps(row(firm="NUL\u0000FIRM")),  # 18
    ]
    seen = []

    report = import_events(
        lines=[line + "\n" for line in lines], format="ndjson", on_error=seen.append
    )

    reasons = {error.line: error.reason for error in report.errors}
    assert sorted(reasons) == [2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 14, 15, 17, 18]
    assert reasons[2].startswith("not valid JSON")
    assert reasons[3] == "not a JSON object"
    assert "check digit" in reasons[4]
    assert reasons[5] == f"mailerID 987654321 differs from the MID {MID} in the tracking number"
    assert "not a real date" in reasons[6]
    assert "5-digit ZIP" in reasons[7]
    assert "originState 'XX'" in reasons[8]
    assert "eventCode '0!'" in reasons[9]
    assert "GMTOffset '-25:00'" in reasons[10]
    assert reasons[11] == (
        "GMTTimestamp 2026-05-01T14:15:00Z is not eventTimestamp 2026-05-01T09:15:00 at offset "
        "-4:00"
    )
    assert reasons[12] == "eventTimestamp is missing"
    assert reasons[14] == "eventCity must be a string, not int"
    assert "eventTimestamp '2026-05-01T09:15'" in reasons[15]
    assert "event code ZZ is not one we know" in reasons[17]
    assert reasons[18] == "firm contains a NUL character"
    assert [error.line for error in seen] == sorted(reasons)
    assert report.errors[2].line == 4
    assert report.errors[2].tracking_number == NUMBER[:-1] + str((int(NUMBER[-1]) + 1) % 10)
    # The good lines landed; the blank line is no row.
    assert (report.rows_read, report.events_imported, report.rejected) == (17, 2, 15)
    assert report.accounted_for
    assert list(
        TrackingEvent.objects.order_by("event_code").values_list("event_code", flat=True)
    ) == ["01", "MA"]


def test_a_uniquetrackingid_of_another_piece_rejects_that_piece_only():
    import_events(records=[row(trackingNumber=OTHER, uniqueTrackingID="TAKEN")])

    report = import_events(
        records=[
            row(uniqueTrackingID="TAKEN"),
            delivered(uniqueTrackingID="TAKEN"),
            row(
                trackingNumber=make_impb(mid=MID, service_type_code="055", serial="2222222"),
                uniqueTrackingID="FREE",
            ),
        ]
    )

    assert [(e.line, e.reason) for e in report.errors] == [
        (1, "uniqueTrackingID TAKEN already belongs to another piece"),
        (2, "uniqueTrackingID TAKEN already belongs to another piece"),
    ]
    assert not MailPiece.objects.filter(tracking_number=NUMBER).exists()
    assert MailPiece.objects.filter(unique_mail_piece_id="FREE").exists()
    assert (report.events_imported, report.rejected, report.pieces_created) == (1, 2, 1)


def test_rows_contradicting_a_piece_uniquetrackingid_are_rejected():
    import_events(records=[row(uniqueTrackingID="UID-1")])

    report = import_events(
        records=[
            delivered(uniqueTrackingID="UID-2"),  # the stored piece says UID-1
            row(trackingNumber=OTHER, uniqueTrackingID="A"),
            delivered(trackingNumber=OTHER, uniqueTrackingID="B"),  # line 2 said A
        ]
    )

    assert [(e.line, e.reason) for e in report.errors] == [
        (1, "uniqueTrackingID UID-2 differs from the stored piece's UID-1"),
        (3, "uniqueTrackingID B differs from A, given for the same piece on line 2"),
    ]
    assert TrackingEvent.objects.filter(piece__tracking_number=NUMBER).count() == 1


def test_a_batch_that_fails_in_the_database_leaves_nothing_behind(monkeypatch):
    records = generated(pieces=6)
    real_insert_events = store.insert_events
    calls = []

    def fail_on_second_batch(cursor, piece_ids):
        calls.append(piece_ids)
        if len(calls) == 2:
            raise RuntimeError("disk full")
        return real_insert_events(cursor, piece_ids)

    monkeypatch.setattr(store, "insert_events", fail_on_second_batch)
    first_batch = records[:25]

    with pytest.raises(ImportFailed, match="disk full") as failure:
        import_events(records=records, batch_size=25)

    # The first batch is kept, whole; of the second (pieces already inserted when it failed)
    # nothing is.
    assert failure.value.report.rows_read == 25
    assert TrackingEvent.objects.count() == failure.value.report.events_imported == 25
    assert set(MailPiece.objects.values_list("tracking_number", flat=True)) == {
        r["trackingNumber"] for r in first_batch
    }


def test_the_status_comes_from_the_newest_event_whatever_the_order_of_arrival():
    import_events(records=[row(eventCode="MA", eventType="", eventTimestamp="2026-04-30")])
    piece = MailPiece.objects.get()
    assert (piece.status, piece.status_category) == (
        "Shipping Label Created, USPS Awaiting Item",
        "Pre-Shipment",
    )
    assert piece.status_summary == (
        "A shipping label has been prepared for your item on April 30, 2026 in BOSTON, MA 02108."
    )

    import_events(records=[delivered()])
    piece.refresh_from_db()
    assert (piece.status, piece.status_category) == ("Delivered, Front Door/Porch", "Delivered")
    assert piece.status_summary == (
        "Your item was delivered at 2:05 pm on May 04, 2026 in DENVER, CO 80202."
    )

    # An older scan arriving late changes nothing.
    late = import_events(
        records=[
            row(
                eventCode="OF",
                eventType="Out for Delivery",
                eventTimestamp="2026-05-04T08:00:00",
                GMTTimestamp="2026-05-04T14:00:00Z",
                GMTOffset="-6:00",
            )
        ]
    )
    piece.refresh_from_db()
    assert piece.status == "Delivered, Front Door/Porch"
    assert (late.events_imported, late.pieces_updated) == (1, 0)


def test_a_new_piece_and_a_stored_one_get_the_same_status_from_the_same_events():
    """New pieces take their status as they are inserted; stored ones from a refresh over
    their events. Split across batches or not, the answer is the same."""
    records = generated(pieces=30, seed=11)
    import_events(records=records, batch_size=100_000)
    whole = dict(MailPiece.objects.values_list("tracking_number", "status_summary"))
    MailPiece.objects.all().delete()

    import_events(records=records, batch_size=3)  # pieces split over many batches

    assert dict(MailPiece.objects.values_list("tracking_number", "status_summary")) == whole
    assert len(set(whole.values())) > 20


def test_timestamps_are_kept_as_given_and_completed_from_each_other():
    import_events(
        records=[
            row(
                eventCode="MA",
                eventType="",
                eventTimestamp="2026-04-30",
                GMTTimestamp="",
                GMTOffset="",
            ),
            row(
                eventCode="10",
                eventType="",
                eventTimestamp="2026-05-01T22:00:00-06:00",
                GMTTimestamp=None,
                GMTOffset=None,
            ),
            row(
                eventCode="EF",
                eventType="",
                eventTimestamp="2026-05-02T01:30:00",
                GMTTimestamp=None,
                GMTOffset="+5:30",
            ),
            row(
                eventCode="07",
                eventType="",
                eventTimestamp="2026-05-03T06:10:00",
                GMTTimestamp="2026-05-03T12:10:00.250Z",
                GMTOffset=None,
            ),
        ]
    )

    events = {
        e.event_code: (e.event_timestamp, e.gmt_timestamp, e.gmt_offset)
        for e in TrackingEvent.objects.all()
    }
    assert events == {
        "MA": ("2026-04-30", None, ""),  # a date stays a date
        "10": ("2026-05-01T22:00:00", datetime(2026, 5, 2, 4, 0, tzinfo=UTC), "-6:00"),
        "EF": ("2026-05-02T01:30:00", datetime(2026, 5, 1, 20, 0, tzinfo=UTC), "+5:30"),
        "07": (
            "2026-05-03T06:10:00",
            datetime(2026, 5, 3, 12, 10, 0, 250000, tzinfo=UTC),
            "-6:00",
        ),
    }


def test_numbers_without_a_mid_are_stored_without_one_and_routing_is_dropped():
    serial = "12345678"
    s10 = f"EC{serial}{s10_check_digit(serial)}US"
    retail_payload = "9505512345678901234567"[:21]
    retail = retail_payload + mod10_check_digit(retail_payload)
    routed = "42080202" + NUMBER

    report = import_events(
        records=[
            row(trackingNumber=s10, mailerID=MID, uniqueTrackingID="S10"),
            row(trackingNumber=retail, mailerID=None, uniqueTrackingID="RETAIL"),
            row(trackingNumber=routed),
        ]
    )

    assert report.rejected == 0
    assert dict(MailPiece.objects.values_list("tracking_number", "mid")) == {
        s10: "",  # mailerID is ignored: the number carries no MID
        retail: "",
        NUMBER: MID,
    }
    assert MailPiece.objects.get(tracking_number=NUMBER).service_type_code == "055"


def test_a_repeated_event_in_one_file_is_a_duplicate():
    report = import_events(records=[row(), delivered(), row(eventCity="BOSTON ")])

    assert (report.events_imported, report.duplicates, report.rejected) == (2, 1, 0)


def test_later_rows_complete_a_piece_and_blank_fields_keep_what_is_stored():
    import_events(records=[row(destinationCity="", mailClass="")])
    import_events(records=[delivered(originCity="", mailClass="Priority Mail")])

    piece = MailPiece.objects.get()
    assert (piece.origin_city, piece.mail_class, piece.destination_city) == (
        "BOSTON",
        "Priority Mail",
        "DENVER",
    )


def test_the_new_events_hook_names_the_pieces_once_their_batch_is_written():
    calls = []
    import_events(
        records=[row(), row(trackingNumber=OTHER, uniqueTrackingID="U2")],
        on_new_events=calls.append,
    )
    again = []
    import_events(records=[row(), delivered()], on_new_events=again.append)

    assert [sorted(c) for c in calls] == [sorted(MailPiece.objects.values_list("pk", flat=True))]
    assert again == [[MailPiece.objects.get(tracking_number=NUMBER).pk]]


@pytest.mark.parametrize("rows", [1_000, 5_000])
def test_a_batch_costs_the_same_queries_whatever_its_size(rows):
    records = list(generate_records(pieces=800, mids=[MID], seed=3, start=date(2026, 3, 1)))[:rows]
    assert len(records) == rows

    with CaptureQueriesContext(connection) as queries:
        report = import_events(records=records, batch_size=10_000)

    assert report.batches == 1 and report.events_imported == rows
    # The staging tables, then for the batch: its savepoint (a transaction outside tests),
    # start, two COPYs, find, update and insert the pieces, insert the events, the planner
    # settings put back (only inside another transaction, as here), release. No status
    # refresh: every piece is new and got its status as it was inserted.
    assert len(queries) == 11, [q["sql"][:60] for q in queries]


def test_more_batches_cost_queries_per_batch_not_per_row():
    records = list(generate_records(pieces=80, mids=[MID], seed=3, start=date(2026, 3, 1)))

    with CaptureQueriesContext(connection) as queries:
        report = import_events(records=records, batch_size=100)

    # Ten per batch here, and an eleventh where a piece split over two batches gets its
    # status refreshed in the second.
    assert len(queries) <= 1 + report.batches * 11
    assert report.batches == -(-len(records) // 100)


def test_the_planner_settings_do_not_outlive_the_batch_in_a_callers_transaction():
    import_events(records=[row()])

    with connection.cursor() as cursor:
        cursor.execute("SHOW enable_hashjoin")
        assert cursor.fetchone() == ("on",)


def test_formats_come_from_the_file_name(tmp_path):
    assert detect_format(tmp_path / "a.NDJSON") == "ndjson"
    assert detect_format(tmp_path / "a.jsonl.gz") == "ndjson"
    assert detect_format(tmp_path / "a.csv.gz") == "csv"
    with pytest.raises(ImportFileError, match="Cannot tell the format"):
        detect_format(tmp_path / "a.txt")


def test_csv_lines_with_a_missing_required_column_are_refused_as_a_whole():
    with pytest.raises(ImportFileError, match="eventCode"):
        import_events(lines=["trackingNumber,mailingDate,eventTimestamp\n"], format="csv")
    assert not MailPiece.objects.exists()


def test_a_csv_row_with_the_wrong_number_of_cells_is_reported_with_its_line():
    out = StringIO()
    writer = csv.DictWriter(out, fieldnames=list(row()))
    writer.writeheader()
    writer.writerow(row())
    lines = out.getvalue().splitlines(keepends=True) + ["a,b\n"]

    report = import_events(lines=lines, format="csv")

    assert [(e.line, e.reason) for e in report.errors] == [
        (3, f"has 2 cells; the header has {len(row())}")
    ]
    assert report.events_imported == 1


def test_the_command_prints_a_summary_and_writes_every_bad_line(tmp_path):
    path = tmp_path / "scan.ndjson"
    path.write_text("".join(ndjson([row(), row(trackingNumber="123"), delivered()])))
    errors = tmp_path / "errors.csv"
    out, err = StringIO(), StringIO()

    call_command(
        "import_tracking_events", str(path), "--errors", str(errors), stdout=out, stderr=err
    )

    summary = out.getvalue()
    assert "Rows read:         3" in summary
    assert "Events imported:   2" in summary
    assert "Rejected:          1" in summary
    assert "Pieces created:    1" in summary
    assert "line 2 123: trackingNumber '123' is not valid: length 3" in err.getvalue()
    assert "Importing scan.ndjson [" in err.getvalue()
    with errors.open() as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["line", "trackingNumber", "reason"]
    assert rows[1][:2] == ["2", "123"] and "length 3" in rows[1][2]
    assert len(rows) == 2


def test_the_documented_example_rows_import():
    text = (Path(__file__).resolve().parents[2] / "docs" / "tracking-data.md").read_text()
    json_block = text.split("```json\n", 1)[1].split("```", 1)[0]
    csv_block = text.split("```csv\n", 1)[1].split("```", 1)[0]

    from_json = import_events(lines=json_block.splitlines(keepends=True), format="ndjson")
    from_csv = import_events(lines=csv_block.splitlines(keepends=True), format="csv")

    assert (from_json.events_imported, from_csv.events_imported) == (1, 1)
    assert from_json.rejected == from_csv.rejected == 0
    assert list(TrackingEvent.objects.order_by("event_code").values_list("event_timestamp")) == [
        ("2026-11-11T14:51:17",),
        ("2026-11-05",),
    ]


def test_a_usps_shaped_record_with_a_nested_event_is_read_like_a_flat_row():
    """The shape of a Subscriptions-Tracking detailed scan event: the event in trackingEvent
    (its timestamp with an offset), the expectation in deliveryDateExpectation, and fields
    the store does not keep."""
    record = {
        "trackingNumber": NUMBER,
        "mailingDate": "2025-02-07",
        "mailerID": MID,
        "mailerName": "ABC Company",
        "destinationCity": "DETROIT",
        "destinationState": "MI",
        "destinationZIPCode": "48226",
        "uniqueTrackingID": "12345678",
        "customerReferenceNumber": ["123ABC"],
        "deliveryDateExpectation": {"expectedDeliveryDate": "2025-02-07", "endOfDay": "by 5"},
        "trackingEvent": {
            "eventCode": "01",
            "eventTimestamp": "2025-02-07T12:55:12-05:00",
            "eventType": "Delivered, Front Door/Porch",
            "eventCity": "DETROIT",
            "eventState": "MI",
            "eventZIPCode": "48226",
            "GMTTimestamp": "2025-02-07T17:55:12Z",
            "GMTOffset": "-5:00",
            "recipientName": "John Doe",
            "veriPoint": True,
        },
    }
    event = record.pop("trackingEvent")
    listed = {**record, "trackingEvents": [event]}  # the webhook example's shape

    report = import_events(records=[{**record, "trackingEvent": event}, listed])

    assert report.events_imported == 1
    assert [e.reason for e in report.errors] == [
        "trackingEvents (a list) is not read: give one event per row, in trackingEvent or as "
        "fields of the row"
    ]
    event = TrackingEvent.objects.get()
    assert (event.event_timestamp, event.gmt_offset, event.recipient_name) == (
        "2025-02-07T12:55:12",
        "-5:00",
        "John Doe",
    )
    assert MailPiece.objects.get().expected_delivery == "2025-02-07"


def test_a_broken_csv_quote_is_reported_and_the_lines_after_it_still_land(tmp_path):
    path = tmp_path / "events.csv"
    good, later = row(), delivered()
    write_csv(path, [good, later])
    lines = path.read_text().splitlines(keepends=True)
    broken = lines[1].replace(",", ',"x"y', 1)  # a quote closed mid-field
    path.write_text(lines[0] + broken + lines[1] + lines[2])

    report = import_events(path=path)

    assert [error.line for error in report.errors] == [2]
    assert "cannot be read as CSV" in report.errors[0].reason
    assert TrackingEvent.objects.count() == 2
    assert report.rows_read == 3


def test_values_out_of_pythons_range_reject_their_row_not_the_import():
    lines = ndjson(
        [
            row(eventTimestamp="0001-01-01T00:30:00", GMTTimestamp=None, GMTOffset="+1:00"),
            delivered(),
        ]
    ) + ['{"trackingNumber": ' + "9" * 5000 + "}\n", "[" * 50_000 + "\n"]

    report = import_events(lines=lines, format="ndjson")

    assert sorted(error.line for error in report.errors) == [1, 3, 4]
    assert TrackingEvent.objects.count() == 1


# --- The event-insert lock (the pull API's no-skip guarantee rests on it) ---------------------


def _waiting_for_event_insert_lock() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
            "AND objid = %s AND database = (SELECT oid FROM pg_database "
            "WHERE datname = current_database())",
            [store.EVENT_INSERT_LOCK_KEY & 0xFFFFFFFF],
        )
        return cursor.fetchone()[0]


@pytest.mark.django_db(transaction=True)
def test_concurrent_batches_insert_events_one_at_a_time_so_ids_follow_commit_order():
    """A batch takes the event-insert advisory lock right before its INSERT and holds it until
    it commits: a second importer waits, and its ids are all above the first's."""
    import threading
    import time

    from django.db import transaction

    inserted, release = threading.Event(), threading.Event()

    def first_import() -> None:
        try:
            with transaction.atomic():
                later = row(
                    eventCode="10",
                    eventTimestamp="2026-05-01T10:00:00",
                    GMTTimestamp="2026-05-01T14:00:00Z",
                )
                report = import_events(records=[row(), later])
                assert report.events_imported == 2
                inserted.set()
                release.wait(10)
        finally:
            connection.close()

    def second_import() -> None:
        try:
            import_events(records=[row(trackingNumber=OTHER, uniqueTrackingID="UID-2")])
        finally:
            connection.close()

    first = threading.Thread(target=first_import)
    first.start()
    assert inserted.wait(10)
    second = threading.Thread(target=second_import)
    second.start()
    deadline = time.monotonic() + 10
    while _waiting_for_event_insert_lock() != 1:
        assert time.monotonic() < deadline, "the second import never waited for the lock"
        time.sleep(0.02)
    assert not TrackingEvent.objects.exists()  # nothing of either committed yet
    release.set()
    first.join(10)
    second.join(10)

    by_piece = list(
        TrackingEvent.objects.order_by("id").values_list("piece__tracking_number", flat=True)
    )
    assert by_piece == [NUMBER, NUMBER, OTHER]  # the waiting batch's id is above the others
    with connection.cursor() as cursor:
        # A cached sequence would hand each session its own block of ids, out of commit order.
        cursor.execute(
            "SELECT seqcache FROM pg_sequence "
            "WHERE seqrelid = 'tracking_trackingevent_id_seq'::regclass"
        )
        assert cursor.fetchone()[0] == 1

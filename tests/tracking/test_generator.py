"""The synthetic scan-event generator: valid numbers for the given MIDs, plausible journeys,
real places with offsets that follow each zone's daylight saving time, the same rows for the
same seed, and rows the importer takes without a complaint."""

import csv
import gzip
import json
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from core.tracking_numbers import parse
from tracking.generator import CITIES, FIELDS, SERVICES, generate_records, records_for_number
from tracking.imports import import_events
from tracking.imports.rows import format_offset
from tracking.models import MailPiece, TrackingEvent

MIDS = ["901234567", "123456", "999000111"]
START = date(2026, 2, 20)  # the range crosses the start of daylight saving time (March 8)
BY_CITY = {(city.name, city.state): city for city in CITIES}
NOTICES = {"02", "52", "53", "54", "55", "56"}
RETURNS = {"21", "22", "23", "24", "25", "26", "27", "28", "29", "31"}


@pytest.fixture(scope="module")
def records() -> list[dict[str, str]]:
    return list(generate_records(pieces=600, mids=MIDS, seed=42, start=START, days=40))


def by_piece(records) -> dict[str, list[dict[str, str]]]:
    pieces = defaultdict(list)
    for record in records:
        pieces[record["trackingNumber"]].append(record)
    return pieces


def test_numbers_are_valid_impb_of_the_given_mids(records):
    pieces = by_piece(records)
    assert len(pieces) == 600
    for number, rows in pieces.items():
        parsed = parse(number)
        assert parsed.pic == number
        assert parsed.mid == rows[0]["mailerID"]
        assert parsed.service_type_code == rows[0]["serviceTypeCode"]
        assert rows[0]["serviceTypeCode"] in {s.code for s in SERVICES}
    mids = [parse(number).mid for number in pieces]
    assert {mid: mids.count(mid) for mid in MIDS} == {mid: 200 for mid in MIDS}
    assert len({rows[0]["uniqueTrackingID"] for rows in pieces.values()}) == 600


def test_the_same_seed_gives_the_same_rows_and_another_seed_others():
    def run(seed):
        return list(generate_records(pieces=40, mids=MIDS, seed=seed, start=START))

    assert run(5) == run(5)
    other = run(6)
    assert {r["trackingNumber"] for r in run(5)}.isdisjoint(r["trackingNumber"] for r in other)


def test_journeys_are_plausible(records):
    endings = defaultdict(int)
    for number, rows in by_piece(records).items():
        codes = [row["eventCode"] for row in rows]
        assert codes[0] == "MA", number
        if len(codes) > 1:
            assert codes[1] == "03", number
        # Scans are in time order, and a piece's rows share the piece's fields.
        moments = [row["GMTTimestamp"] for row in rows if row["GMTTimestamp"]]
        assert moments == sorted(moments), number
        assert len({tuple(row[f] for f in FIELDS[:15]) for row in rows}) == 1
        for before, after in (("03", "10"), ("10", "OF"), ("07", "OF")):
            if before in codes and after in codes:
                assert codes.index(before) < codes.index(after), (number, codes)
        if "01" in codes:
            assert codes[-1] == "01" and "OF" in codes, (number, codes)
            if NOTICES & set(codes):
                assert codes[-2] == "16", (number, codes)  # notice left, then picked up
                endings["picked up"] += 1
            else:
                endings["delivered"] += 1
        elif RETURNS & set(codes):
            (reason,) = RETURNS & set(codes)
            assert codes[codes.index(reason) - 1] == "OF", (number, codes)
            if codes[-1] == "09":
                endings["returned"] += 1
            else:  # the return is under way: only its first scan has happened
                assert codes[-1] == reason, (number, codes)
        else:
            endings["on its way"] += 1
        if "71" in codes:
            assert codes.count("OF") == 2
            endings["rescheduled"] += 1
    assert endings["delivered"] > 400
    assert all(endings[kind] > 5 for kind in ("picked up", "returned", "on its way", "rescheduled"))


def test_places_are_real_cities_with_their_state_and_zip(records):
    for row in records:
        for city, state, zip_code in (
            (row["originCity"], row["originState"], row["originZIPCode"]),
            (row["destinationCity"], row["destinationState"], row["destinationZIPCode"]),
            (row["eventCity"], row["eventState"], row["eventZIPCode"]),
        ):
            assert BY_CITY[(city, state)].zip_code == zip_code
        assert row["originCity"] != row["destinationCity"]


def test_offsets_follow_each_zone_on_the_day(records):
    seen = defaultdict(set)
    for row in records:
        if not row["GMTTimestamp"]:
            assert len(row["eventTimestamp"]) == 10 and row["GMTOffset"] == ""
            continue
        zone = BY_CITY[(row["eventCity"], row["eventState"])].zone
        moment = datetime.fromisoformat(row["GMTTimestamp"])
        offset = moment.astimezone(zone).utcoffset()
        assert row["GMTOffset"] == format_offset(int(offset.total_seconds()) // 60)
        local = datetime.fromisoformat(row["eventTimestamp"])
        assert local == (moment + offset).replace(tzinfo=None)
        seen[row["eventCity"]].add(row["GMTOffset"])
    assert seen["DENVER"] == {"-7:00", "-6:00"}  # before and after March 8
    assert seen["PHOENIX"] == {"-7:00"}  # Arizona keeps standard time
    assert seen["HONOLULU"] <= {"-10:00"}


def test_offsets_cross_a_dst_change_correctly():
    """Around 2 a.m. on the first Sunday of November the same local hour happens twice."""
    rows = list(generate_records(pieces=300, mids=MIDS, seed=9, start=date(2026, 10, 30), days=4))
    for row in rows:
        if row["GMTTimestamp"]:
            zone = BY_CITY[(row["eventCity"], row["eventState"])].zone
            moment = datetime.fromisoformat(row["GMTTimestamp"])
            local = datetime.fromisoformat(row["eventTimestamp"]).replace(tzinfo=zone)
            # The local time read back in its zone, with its offset, is the same moment.
            minutes = int(moment.astimezone(zone).utcoffset().total_seconds()) // 60
            assert row["GMTOffset"] == format_offset(minutes)
            assert (local.replace(tzinfo=None) - moment.replace(tzinfo=None)) == timedelta(
                minutes=minutes
            )
    assert any(r["eventTimestamp"].startswith("2026-11-02") for r in rows)


def test_a_caller_number_gets_a_whole_delivered_journey():
    rows = records_for_number(tracking_number="EC123456785US", mailing_date=START, seed=1)

    assert rows[0]["eventCode"] == "MA" and rows[-1]["eventCode"] == "01"
    assert {row["trackingNumber"] for row in rows} == {"EC123456785US"}
    assert rows[0]["mailerID"] == "" and rows[0]["serviceTypeCode"] == ""


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="not valid MIDs: 12345"):
        list(generate_records(pieces=1, mids=["12345"], start=START))
    with pytest.raises(ValueError, match="at least one MID"):
        list(generate_records(pieces=1, mids=[], start=START))


@pytest.mark.django_db
def test_generated_rows_import_without_a_rejection(records):
    report = import_events(records=records)

    assert (report.rejected, report.events_imported) == (0, len(records))
    assert MailPiece.objects.count() == 600
    assert MailPiece.objects.filter(status_category="Delivered").count() > 400
    assert TrackingEvent.objects.filter(event_timestamp__regex=r"^\d{4}-\d{2}-\d{2}$").exists()


@pytest.mark.django_db
def test_the_command_writes_csv_ndjson_or_imports(tmp_path):
    args = ["--pieces", "4", "--mids", "123456", "--seed", "3", "--start-date", "2026-04-01"]
    err = StringIO()
    call_command("generate_tracking_data", *args, "--output", str(tmp_path / "a.csv"), stderr=err)
    call_command("generate_tracking_data", *args, "--output", str(tmp_path / "a.ndjson.gz"))
    stdout = StringIO()
    call_command("generate_tracking_data", *args, stdout=stdout)

    with (tmp_path / "a.csv").open(newline="") as handle:
        from_csv = list(csv.DictReader(handle))
    from_gz = [json.loads(line) for line in gzip.open(tmp_path / "a.ndjson.gz", "rt")]
    from_stdout = [json.loads(line) for line in stdout.getvalue().splitlines()]
    assert from_csv == from_gz == from_stdout
    assert f"Wrote {len(from_csv)} events" in err.getvalue()
    assert {parse(row["trackingNumber"]).mid for row in from_csv} == {"123456"}
    assert from_csv[0]["mailingDate"] >= "2026-04-01"

    out = StringIO()
    call_command("generate_tracking_data", *args, "--import", stdout=out, stderr=StringIO())
    assert f"Events imported:   {len(from_csv)}" in out.getvalue()
    assert MailPiece.objects.count() == 4


def test_the_command_refuses_bad_mids():
    with pytest.raises(CommandError, match="Not valid MIDs: 99"):
        call_command("generate_tracking_data", "--pieces", "1", "--mids", "123456,99")


def test_generated_timestamps_are_whole_seconds_in_utc(records):
    for row in records[:200]:
        if row["GMTTimestamp"]:
            moment = datetime.fromisoformat(row["GMTTimestamp"])
            assert moment.tzinfo == UTC and moment.microsecond == 0
            assert row["GMTTimestamp"].endswith("Z")

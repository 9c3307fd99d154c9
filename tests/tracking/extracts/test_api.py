"""The extracts API: the cursor-paginated events endpoint (stable order, no skip and no
duplicate while new events arrive, cursors bound to their query, every bad input a 400 in the
USPS envelope, denied MIDs a 403 listing each, the hourly quota), and extract files requested,
polled and downloaded by an app, scoped to its provider."""

import json
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
import redis as redis_lib
from django.db import connection, transaction
from django.utils import timezone

from agreements.constants import MidRelation
from agreements.models import MidLink
from agreements.services.mid_links import mid_link_revoke
from core.models import AuditEntry
from tests.factories import MidLinkFactory, StaffFactory
from tests.tracking.api_helpers import api_client_for
from tests.tracking.extracts.helpers import (
    MID,
    OTHER_MID,
    allowed_provider,
    number_for,
    recent,
    sha256,
    shipper,
    store,
    store_piece,
    today,
)
from tracking import redis as tracking_redis
from tracking.api import disclosures as api_disclosures
from tracking.constants import ExtractSource, ExtractStatus
from tracking.extracts.services import extract_build
from tracking.imports import import_events
from tracking.imports import store as store_sql
from tracking.models import DailyUsage, Disclosure, Extract, ExtractDownload, TrackingEvent
from tracking.services import disclosures as disclosures_service

pytestmark = pytest.mark.django_db

EVENTS = "/tracking/v3r2/extracts/events"
EXTRACTS = "/tracking/v3r2/extracts"


def key(record) -> tuple:
    event = record["trackingEvent"]
    return (record["trackingNumber"], event["eventCode"], event["GMTTimestamp"])


def problems(response) -> list[tuple[str, str | None]]:
    body = response.json()
    assert body["apiVersion"] == "/tracking/v3r2"
    assert body["error"]["code"] == str(response.status_code)
    return [(p["code"], p.get("source", {}).get("parameter")) for p in body["error"]["errors"]]


def add_event(piece, code: str, hours: int):
    moment = datetime.combine(recent(), datetime.min.time(), tzinfo=UTC) + timedelta(hours=hours)
    return TrackingEvent.objects.create(
        piece=piece,
        event_code=code,
        event_type="Arrived at Post Office",
        event_timestamp=(moment - timedelta(hours=7)).strftime("%Y-%m-%dT%H:%M:%S"),
        gmt_timestamp=moment,
        gmt_offset="-7:00",
    )


def test_paging_neither_skips_nor_repeats_while_new_events_arrive():
    provider = shipper()
    client = api_client_for(provider)
    pieces = store(MID, 5, events=2)
    query = {"MID": MID, "since": recent().isoformat(), "limit": 4}

    seen, cursor, pages = [], None, 0
    while True:
        response = client.get(EVENTS, query | ({"cursor": cursor} if cursor else {}))
        assert response.status_code == 200, response.content
        body = response.json()
        assert body["limit"] == 4
        seen += [key(record) for record in body["events"]]
        pages += 1
        if pages == 1:
            # Arrive between pages: a scan of an early piece, and a whole new piece.
            add_event(pieces[0], "07", hours=20)
            store_piece(number_for(MID, 77), mid=MID, mailing_date=recent(), events=2)
        if not body["events"]:
            break
        cursor = body["next"]
        assert cursor

    stored = {
        (e.piece.tracking_number, e.event_code, e.gmt_timestamp.strftime("%Y-%m-%dT%H:%M:%SZ"))
        for e in TrackingEvent.objects.select_related("piece")
    }
    assert len(seen) == len(set(seen)) == 13  # 10, then 3 more: none twice
    assert set(seen) == stored  # none missing
    assert [code for _, code, _ in seen].index("07") >= 4  # the late scan came after the cursor


def scan(number: str, code: str, hours: int, mid: str = MID) -> dict[str, str]:
    """One scan-event row for the importer, `hours` after midnight UTC of recent()."""
    moment = datetime.combine(recent(), datetime.min.time(), tzinfo=UTC) + timedelta(hours=hours)
    return {
        "trackingNumber": number,
        "mailingDate": recent().isoformat(),
        "mailerID": mid,
        "eventCode": code,
        "eventType": "Arrived at Post Office",
        "eventTimestamp": (moment - timedelta(hours=7)).strftime("%Y-%m-%dT%H:%M:%S"),
        "GMTTimestamp": moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "GMTOffset": "-7:00",
    }


def waiting_advisory_locks() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
            "AND objid = %s AND database = (SELECT oid FROM pg_database "
            "WHERE datname = current_database())",
            [store_sql.EVENT_INSERT_LOCK_KEY & 0xFFFFFFFF],
        )
        return cursor.fetchone()[0]


def wait_until(predicate, what: str, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


class ImportInFlight:
    """An import batch in another thread (its own connection) whose transaction stays open
    after its INSERT until release() (the batch holds the event-insert lock meanwhile)."""

    def __init__(self, records: list[dict]) -> None:
        self.inserted, self._release = threading.Event(), threading.Event()
        self.report = None
        self.thread = threading.Thread(target=self._run, args=(records,))
        self.thread.start()

    def _run(self, records) -> None:
        try:
            with transaction.atomic():
                self.report = import_events(records=records)
                self.inserted.set()
                self._release.wait(10)
        finally:
            connection.close()

    def release(self) -> None:
        self._release.set()
        self.thread.join(10)
        assert not self.thread.is_alive()


def events_of(body) -> list[str]:
    return [r["trackingEvent"]["eventCode"] for r in body["events"]]


@pytest.mark.django_db(transaction=True)
def test_a_page_read_while_an_import_is_in_flight_does_not_skip_its_rows_once_they_commit():
    """Ids are handed out when rows are inserted. Imports serialize their insert on the
    event-insert lock, so an id in flight is above every committed id and a page read in the
    meantime never moves its cursor past it."""
    client = api_client_for(shipper())
    number = number_for(MID, 1)
    import_events(records=[scan(number, "03", 1)])
    query = {"MID": MID, "since": recent().isoformat()}

    slow = ImportInFlight([scan(number, "07", 20)])  # takes id N, not committed yet
    assert slow.inserted.wait(10)
    during = client.get(EVENTS, query).json()  # no lock: answers at once
    slow.release()
    after = client.get(EVENTS, query | {"cursor": during["next"]}).json()

    assert events_of(during) == ["03"]
    assert events_of(after) == ["07"]  # committed later, below no cursor: delivered


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_import_batches_are_serialized_and_the_pull_never_skips():
    client = api_client_for(shipper())
    query = {"MID": MID, "since": recent().isoformat(), "limit": 1000}
    first = ImportInFlight([scan(number_for(MID, 1), "03", 1), scan(number_for(MID, 1), "07", 2)])
    assert first.inserted.wait(10)
    second = ImportInFlight([scan(number_for(MID, 2), "03", 3), scan(number_for(MID, 2), "OF", 4)])
    # The second batch waits for the first's lock before inserting anything.
    wait_until(lambda: waiting_advisory_locks() == 1, "the second import to wait for the lock")
    assert not second.inserted.is_set()
    seen, cursor = [], None

    def pull() -> None:
        nonlocal cursor
        body = client.get(EVENTS, query | ({"cursor": cursor} if cursor else {})).json()
        seen.extend((r["trackingNumber"], r["trackingEvent"]["eventCode"]) for r in body["events"])
        cursor = body["next"]

    pull()  # nothing committed yet
    first.release()  # commits; the second takes the lock and inserts
    assert second.inserted.wait(10)
    pull()  # the first batch, not the second (in flight)
    second.release()
    pull()  # the second batch
    pull()  # nothing new

    ids = list(
        TrackingEvent.objects.order_by("id").values_list("piece__tracking_number", "event_code")
    )
    assert seen == ids  # every event once, in id order
    assert len(seen) == 4
    assert {number for number, _ in seen[:2]} == {number_for(MID, 1)}  # ids in commit order


def test_events_come_in_event_id_order_with_the_extract_record_shape():
    provider = shipper()
    client = api_client_for(provider)
    store(MID, 2, events=2)

    body = client.get(
        EVENTS, {"MID": MID, "since": recent().isoformat(), "until": recent().isoformat()}
    ).json()

    expected = [
        (e.piece.tracking_number, e.event_code)
        for e in TrackingEvent.objects.select_related("piece").order_by("id")
    ]
    assert [
        (r["trackingNumber"], r["trackingEvent"]["eventCode"]) for r in body["events"]
    ] == expected
    assert body["events"][0]["mailerID"] == MID
    assert body["next"]  # always a cursor, even for a window that has ended


def test_a_late_scan_in_a_window_that_has_ended_comes_with_the_returned_cursor():
    """USPS scans arrive late and are filed by their GMT time: a window in the past still
    gains events, so its last page still has a cursor that delivers them."""
    client = api_client_for(shipper())
    pieces = store(MID, 1, events=2)
    query = {"MID": MID, "since": recent().isoformat(), "until": recent().isoformat()}

    first = client.get(EVENTS, query).json()
    add_event(pieces[0], "07", hours=20)  # a scan of that (past) day, stored now
    second = client.get(EVENTS, query | {"cursor": first["next"]}).json()
    third = client.get(EVENTS, query | {"cursor": second["next"]}).json()

    assert events_of(first) == ["03", "10"]
    assert events_of(second) == ["07"]
    assert third["events"] == [] and third["next"]


def test_a_page_costs_a_bounded_number_of_queries(django_assert_max_num_queries):
    provider = shipper()
    client = api_client_for(provider)
    store(MID, 20, events=3)
    client.get(EVENTS, {"MID": MID, "since": recent().isoformat()})  # warm the caches

    with django_assert_max_num_queries(8):
        response = client.get(EVENTS, {"MID": MID, "since": recent().isoformat(), "limit": 50})

    assert len(response.json()["events"]) == 50


def test_a_tampered_cursor_or_one_from_another_query_is_refused():
    provider = shipper(mids=(MID, OTHER_MID))
    client = api_client_for(provider)
    store(MID, 3, events=2)
    first = client.get(EVENTS, {"MID": MID, "since": recent().isoformat(), "limit": 2}).json()
    cursor = first["next"]

    tampered = client.get(
        EVENTS, {"MID": MID, "since": recent().isoformat(), "cursor": cursor[:-3] + "abc"}
    )
    elsewhere = client.get(
        EVENTS, {"MID": f"{MID},{OTHER_MID}", "since": recent().isoformat(), "cursor": cursor}
    )
    other_since = client.get(EVENTS, {"MID": MID, "since": recent(1).isoformat(), "cursor": cursor})

    assert tampered.status_code == 400 and problems(tampered) == [("INVALID_CURSOR", "cursor")]
    for response in (elsewhere, other_since):
        assert response.status_code == 400
        assert problems(response) == [("CURSOR_QUERY_MISMATCH", "cursor")]


def test_another_tenants_cursor_does_not_work():
    mine, theirs = shipper(), shipper(mids=())
    MidLinkFactory(provider=theirs, mid=MID, relation=MidRelation.AUTHORIZED_BY_OWNER)
    store(MID, 3, events=2)
    cursor = (
        api_client_for(theirs)
        .get(EVENTS, {"MID": MID, "since": recent().isoformat(), "limit": 2})
        .json()["next"]
    )

    response = api_client_for(mine).get(
        EVENTS, {"MID": MID, "since": recent().isoformat(), "cursor": cursor}
    )

    assert problems(response) == [("CURSOR_QUERY_MISMATCH", "cursor")]


@pytest.mark.parametrize(
    ("params", "expected", "detail"),
    [
        (
            {"MID": MID, "since": "2026-11-01", "foo": "1"},
            [("UNKNOWN_PARAMETER", "foo")],
            "Unknown parameter 'foo'",
        ),
        ({"since": "2026-11-01"}, [("MISSING_PARAMETER", "MID")], "MID is required"),
        (
            {"MID": f"{MID},12345", "since": "2026-11-01"},
            [("INVALID_MID", "MID")],
            "Not valid MIDs: '12345'",
        ),
        (
            {"MID": ",".join(f"9001002{n:02d}" for n in range(51)), "since": "2026-11-01"},
            [("INVALID_MID", "MID")],
            "at most 50 MIDs",
        ),
        ({"MID": MID}, [("MISSING_PARAMETER", "since")], "since is required"),
        ({"MID": MID, "since": "2026-02-30"}, [("INVALID_DATE", "since")], "not a real date"),
        ({"MID": MID, "since": "yesterday"}, [("INVALID_DATE", "since")], "is not a date"),
        (
            {"MID": MID, "since": "2026-11-01T10:00:00"},
            [("INVALID_DATE", "since")],
            "has no time zone",
        ),
        (
            {"MID": MID, "since": "2026-11-10", "until": "2026-11-01"},
            [("INVALID_DATE_RANGE", "until")],
            "since must be before until",
        ),
        (
            {"MID": MID, "since": "2026-01-01", "until": "2026-11-01"},
            [("DATE_RANGE_TOO_LONG", "until")],
            "more than 92 days",
        ),
        (
            {"MID": MID, "since": "2026-11-01", "limit": "0"},
            [("INVALID_LIMIT", "limit")],
            "from 1 to 1000",
        ),
        (
            {"MID": MID, "since": "2026-11-01", "limit": "1001"},
            [("INVALID_LIMIT", "limit")],
            "from 1 to 1000",
        ),
        (
            {"MID": MID, "since": "2026-11-01", "limit": "ten"},
            [("INVALID_LIMIT", "limit")],
            "whole number",
        ),
        (
            {"MID": [MID, MID], "since": "2026-11-01"},
            [("REPEATED_PARAMETER", "MID")],
            "Give MID once",
        ),
        # Ends of the calendar: refused with a message, never a 500 (date overflow).
        (
            {"MID": MID, "since": "2026-11-01", "until": "9999-12-31"},
            [("INVALID_DATE", "until")],
            "the year must be 2000 to",
        ),
        ({"MID": MID, "since": "9999-12-31"}, [("INVALID_DATE", "since")], "out of range"),
        (
            {"MID": MID, "since": "0001-01-01T00:00:00+01:00"},
            [("INVALID_DATE", "since")],
            "the year must be 2000 to",
        ),
        ({"MID": MID, "since": "1999-12-31"}, [("INVALID_DATE", "since")], "out of range"),
        (
            {"MID": MID, "since": "2026-11-01", "limit": "1" * 5000},
            [("INVALID_LIMIT", "limit")],
            "from 1 to 1000",
        ),
        (
            {"MID": MID, "since": "2026-11-01", "limit": "0" * 30 + "5"},
            [("INVALID_LIMIT", "limit")],
            "from 1 to 1000",
        ),
    ],
)
def test_each_bad_query_is_a_400_naming_its_parameter(params, expected, detail):
    client = api_client_for(shipper())

    response = client.get(EVENTS, params)

    assert response.status_code == 400
    assert problems(response) == expected
    assert detail in response.json()["error"]["errors"][0]["detail"]


def test_several_problems_are_listed_at_once():
    client = api_client_for(shipper())

    response = client.get(EVENTS, {"MID": "1", "since": "x", "limit": "0", "bar": "2"})

    assert {code for code, _ in problems(response)} == {
        "UNKNOWN_PARAMETER",
        "INVALID_MID",
        "INVALID_DATE",
        "INVALID_LIMIT",
    }


def test_any_denied_mid_refuses_the_page_listing_each_with_its_reason():
    client = api_client_for(shipper(mids=(MID,)))
    store(MID, 1)

    response = client.get(
        EVENTS, {"MID": f"{MID},{OTHER_MID},900777888", "since": recent().isoformat()}
    )

    assert response.status_code == 403
    errors = response.json()["error"]["errors"]
    assert [(e["code"], e["source"]["example"]) for e in errors] == [
        ("MID_NOT_AUTHORIZED", OTHER_MID),
        ("MID_NOT_AUTHORIZED", "900777888"),
    ]
    assert "events" not in response.json()


def test_another_tenants_mid_is_denied():
    store(MID, 1)
    stranger = api_client_for(shipper(mids=(OTHER_MID,)))

    response = stranger.get(EVENTS, {"MID": MID, "since": recent().isoformat()})

    assert response.status_code == 403
    assert problems(response) == [("MID_NOT_AUTHORIZED", "MID")]


def test_each_100_events_asked_for_cost_one_call_of_the_quota():
    client = api_client_for(shipper(), quota=7)
    query = {"MID": MID, "since": recent().isoformat()}

    first = client.get(EVENTS, query | {"limit": 500})  # 5 calls
    second = client.get(EVENTS, query | {"limit": 300})  # 3 more: over 7
    third = client.get(EVENTS, query | {"limit": 200})  # 2: exactly the rest

    assert first.status_code == 200 and first["X-RateLimit-Remaining"] == "2"
    assert second.status_code == 429
    assert problems(second) == [("QUOTA_EXCEEDED", None)]
    assert int(second["Retry-After"]) > 0 and second["X-RateLimit-Limit"] == "7"
    assert third.status_code == 200 and third["X-RateLimit-Remaining"] == "0"


# --- Extract files through the API -----------------------------------------------------------


def create(client, **overrides):
    body = {
        "MIDs": [MID],
        "startDate": recent().isoformat(),
        "endDate": recent().isoformat(),
        "format": "CSV",
    }
    return client.post(EXTRACTS, body | overrides, format="json")


def test_an_app_requests_polls_and_downloads_an_extract():
    provider = shipper()
    client = api_client_for(provider)
    store(MID, 2, events=2)

    created = create(client)

    assert created.status_code == 202, created.content
    extract = Extract.objects.get(public_id=created.json()["extractId"])
    assert (extract.source, extract.app, extract.requested_by) == (
        ExtractSource.API,
        client.app,
        None,
    )
    assert created.json()["status"] == ExtractStatus.QUEUED
    extract_build(extract_id=extract.pk)

    status = client.get(f"{EXTRACTS}/{extract.public_id}").json()
    assert status["status"] == "READY" and status["rowCount"] == 4
    file_link = next(link["href"] for link in status["links"] if link["rel"] == ["file"])
    download = client.get(file_link)

    assert download.status_code == 200
    data = b"".join(download.streaming_content)
    assert sha256(data) == status["sha256"] == download["X-Content-SHA256"]
    row = ExtractDownload.objects.get()
    assert (row.app, row.user) == (client.app, None)
    assert AuditEntry.objects.filter(
        action="extract_download", extra__app_id=client.app.pk
    ).exists()


def test_a_service_providers_api_extract_waits_for_approval():
    client = api_client_for(allowed_provider())
    created = create(client)
    assert created.status_code == 202 and created.json()["status"] == "PENDING_APPROVAL"
    assert "file" not in {rel for link in created.json()["links"] for rel in link["rel"]}


@pytest.mark.parametrize(
    ("overrides", "expected", "detail"),
    [
        ({"MIDs": ["12345"]}, [("INVALID_REQUEST", "MIDs")], "Not valid MIDs"),
        ({"MIDs": []}, [("INVALID_REQUEST", "MIDs")], "Give at least one MID."),
        (
            {"startDate": recent(1).isoformat(), "endDate": recent(2).isoformat()},
            [("INVALID_REQUEST", "startDate")],
            "is after the end date",
        ),
        (
            {"endDate": (today() + timedelta(days=2)).isoformat()},
            [("INVALID_REQUEST", "endDate")],
            "in the future",
        ),
        ({"startDate": "2026-13-01"}, [("invalid", "startDate")], "Date has wrong format"),
        ({"format": "XML"}, [("invalid_choice", "format")], '"XML" is not a valid choice.'),
        ({"extra": 1}, [("invalid", "extra")], "Unknown field"),
        (
            {"startDate": "0001-01-01", "endDate": "0001-01-02"},
            [("INVALID_REQUEST", "startDate")],
            "the year must be 2000 to",
        ),
        (
            {"startDate": "9999-12-30", "endDate": "9999-12-31"},
            [("INVALID_REQUEST", "startDate")],
            "the year must be 2000 to",
        ),
    ],
)
def test_a_bad_extract_request_is_a_400_naming_its_field(overrides, expected, detail):
    client = api_client_for(shipper())

    response = create(client, **overrides)

    assert response.status_code == 400
    assert problems(response) == expected
    assert detail in response.json()["error"]["errors"][0]["detail"]
    assert not Extract.objects.exists()


def test_a_body_that_is_not_an_object_or_too_big_is_refused(settings):
    client = api_client_for(shipper())
    settings.API_MAX_BODY_BYTES = 1000

    not_object = client.post(EXTRACTS, [MID], format="json")
    too_big = client.post(
        EXTRACTS, json.dumps({"MIDs": ["9" * 8] * 200}), content_type="application/json"
    )

    assert not_object.status_code == 400
    assert (
        too_big.status_code == 400
        and "over 1,000 bytes" in too_big.json()["error"]["errors"][0]["detail"]
    )
    assert not Extract.objects.exists()


def test_an_extract_across_allowed_and_denied_mids_is_a_403_listing_each():
    client = api_client_for(shipper(mids=(MID,)))

    response = create(client, MIDs=[MID, OTHER_MID])

    assert response.status_code == 403
    assert problems(response) == [("MID_NOT_AUTHORIZED", "MIDs")]
    assert not Extract.objects.exists()


def built_extract(provider):
    client = api_client_for(provider)
    store(MID, 1, events=2, first_serial=500)
    extract = Extract.objects.get(public_id=create(client).json()["extractId"])
    extract_build(extract_id=extract.pk)
    extract.refresh_from_db()
    return client, extract


@pytest.mark.parametrize("suffix", ["", "/file"])
def test_another_providers_extract_is_not_found(suffix):
    _, extract = built_extract(shipper())
    stranger = api_client_for(shipper(mids=(OTHER_MID,)))

    response = stranger.get(f"{EXTRACTS}/{extract.public_id}{suffix}")

    assert response.status_code == 404
    assert problems(response)[0][0] == "not_found"
    assert not ExtractDownload.objects.exists()


def test_the_file_is_refused_when_a_mid_was_revoked_gone_when_expired_and_absent_until_built():
    provider = shipper()
    client, extract = built_extract(provider)
    waiting = Extract.objects.get(public_id=create(client).json()["extractId"])

    not_built = client.get(f"{EXTRACTS}/{waiting.public_id}/file")
    mid_link_revoke(
        link=MidLink.objects.get(provider=provider, mid=MID), actor=StaffFactory(), reason="Gone"
    )
    revoked = client.get(f"{EXTRACTS}/{extract.public_id}/file")
    Extract.objects.filter(pk=extract.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    expired = client.get(f"{EXTRACTS}/{extract.public_id}/file")

    assert not_built.status_code == 409 and problems(not_built) == [("EXTRACT_NOT_READY", None)]
    assert revoked.status_code == 403 and problems(revoked) == [("MID_NOT_AUTHORIZED", "extractId")]
    assert expired.status_code == 410 and problems(expired) == [("EXTRACT_EXPIRED", None)]
    assert not ExtractDownload.objects.exists()


# --- Disclosures, HEAD, open-extract cap ------------------------------------------------------


def test_each_piece_on_a_page_is_recorded_as_a_disclosure_like_a_lookup():
    provider = shipper()
    client = api_client_for(provider)
    store(MID, 3, events=2)
    link = MidLink.objects.get(provider=provider, mid=MID)

    response = client.get(
        EVENTS,
        {"MID": MID, "since": recent().isoformat(), "limit": 4},
        HTTP_X_REQUEST_ID="page-req-0001",
    )
    assert response.status_code == 200
    assert Disclosure.objects.count() == 0  # buffered, written by the drain
    disclosures_service.drain()

    rows = list(Disclosure.objects.order_by("tracking_number"))
    numbers = sorted({r["trackingNumber"] for r in response.json()["events"]})
    assert [row.tracking_number for row in rows] == numbers  # one per piece, not per event
    assert len(rows) == 2
    for row in rows:
        assert (row.allowed, row.http_status, row.mid, row.request_id) == (
            True,
            200,
            MID,
            "page-req-0001",
        )
        assert (row.provider_id, row.app_id) == (provider.pk, client.app.pk)
        assert row.basis == f"MID_LINK:{link.pk}"
    usage = DailyUsage.objects.get()
    assert (usage.allowed, usage.calls) == (True, 2)


def test_a_page_is_refused_with_503_when_its_disclosures_cannot_be_recorded(monkeypatch):
    client = api_client_for(shipper())
    store(MID, 1, events=1)
    unreachable = redis_lib.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2)
    real_client = tracking_redis.client()
    # Quotas still work; only the disclosure buffer is unreachable.
    monkeypatch.setattr(api_disclosures, "client", lambda: unreachable)

    response = client.get(EVENTS, {"MID": MID, "since": recent().isoformat()})

    assert response.status_code == 503
    assert problems(response) == [("SERVICE_UNAVAILABLE", None)]
    assert response["Retry-After"] == "30"
    assert "events" not in response.json()
    assert real_client.llen(api_disclosures.BUFFER_KEY) == 0


def test_a_head_request_answers_the_headers_and_records_no_download():
    client, extract = built_extract(shipper())

    head = client.head(f"{EXTRACTS}/{extract.public_id}/file")

    assert head.status_code == 200
    assert head["X-Content-SHA256"] == extract.sha256
    assert head["Content-Length"] == str(extract.byte_count)
    assert not ExtractDownload.objects.exists()
    assert not AuditEntry.objects.filter(action="extract_download").exists()


def test_the_open_extracts_of_a_provider_are_capped_with_a_429(settings):
    settings.EXTRACT_MAX_OPEN_PER_PROVIDER = 2
    client = api_client_for(shipper())

    answers = [create(client).status_code for _ in range(3)]

    assert answers == [202, 202, 429]
    refused = create(client)
    assert problems(refused) == [("TOO_MANY_OPEN_EXTRACTS", None)]
    assert "the most it may have at once (2)" in refused.json()["error"]["errors"][0]["detail"]
    assert Extract.objects.count() == 2

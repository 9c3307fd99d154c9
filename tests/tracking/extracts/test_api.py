"""The extracts API: the cursor-paginated events endpoint (stable order, no skip and no
duplicate while new events arrive, cursors bound to their query, every bad input a 400 in the
USPS envelope, denied MIDs a 403 listing each, the hourly quota), and extract files requested,
polled and downloaded by an app, scoped to its provider."""

import json
import threading
from datetime import UTC, datetime, timedelta

import pytest
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
from tracking.constants import ExtractSource, ExtractStatus
from tracking.extracts.services import extract_build
from tracking.models import Extract, ExtractDownload, TrackingEvent

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


@pytest.mark.django_db(transaction=True)
def test_an_insert_still_in_flight_is_waited_for_not_skipped():
    """Ids are handed out when rows are inserted, but transactions commit in any order. An
    import holding id N open while id N+1 commits must not let a page move past N unseen."""
    client = api_client_for(shipper())
    piece = store_piece(number_for(MID, 1), mid=MID, mailing_date=recent(), events=1)
    inserted, release = threading.Event(), threading.Event()

    def slow_import():
        try:
            with transaction.atomic():
                add_event(piece, "07", hours=20)  # takes id N, not committed yet
                inserted.set()
                release.wait(10)
        finally:
            connection.close()

    importer = threading.Thread(target=slow_import)
    importer.start()
    assert inserted.wait(10)
    add_event(piece, "OF", hours=21)  # id N + 1, committed at once
    threading.Timer(0.5, release.set).start()

    body = client.get(EVENTS, {"MID": MID, "since": recent().isoformat()}).json()
    importer.join(10)

    assert [r["trackingEvent"]["eventCode"] for r in body["events"]] == ["03", "07", "OF"]


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
    assert body["next"] is None  # a window that has ended, read to its end


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

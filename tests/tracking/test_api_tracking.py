"""The USPS-compatible endpoints: shapes, timestamps, access, errors, 207 batches."""

import json
import re
from datetime import date, timedelta

import pytest
from django.utils import timezone

from accounts.constants import ProviderStatus, ProviderType, SuspensionCause
from agreements.constants import AgreementStatus
from agreements.models import Agreement, MidLink
from core.tracking_numbers import mod10_check_digit
from tests.factories import ProviderFactory
from tests.tracking.api_helpers import (
    MID,
    OTHER_MID,
    allowed_provider,
    api_client_for,
    number_for,
    store_piece,
)
from tracking.models import TrackingEvent

pytestmark = pytest.mark.django_db

LEGACY_LOCAL = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$")
GMT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
V3R2_LOCAL = re.compile(r"^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}:\d{2}[+-]\d{2}:\d{2})?$")


@pytest.fixture
def provider():
    return allowed_provider()


@pytest.fixture
def api(provider):
    return api_client_for(provider)


@pytest.fixture
def piece():
    return store_piece(number_for(MID, 1), mid=MID)


def legacy(api, number, **params):
    return api.get(f"/tracking/v3/tracking/{number}", params)


def batch(api, body):
    return api.post("/tracking/v3r2/tracking", body, format="json")


def assert_envelope(body, status, api_version):
    assert body["apiVersion"] == api_version
    assert body["error"]["code"] == str(status)
    assert body["error"]["message"]
    for item in body["error"]["errors"]:
        assert item["status"] == str(status)
        assert item["code"] and item["title"] and item["detail"]


# --- Tracking 3.0 ------------------------------------------------------------------------


def test_detail_has_the_legacy_shape_and_timestamps(api, piece):
    response = legacy(api, piece.tracking_number, expand="DETAIL")

    assert response.status_code == 200
    body = response.json()
    assert body["trackingNumber"] == piece.tracking_number
    assert body["mailClass"] == "PRIORITY_MAIL"
    assert body["destinationZIP"] == "80301"
    assert body["uniqueMailPieceId"] == piece.unique_mail_piece_id
    assert body["expectedDeliveryTimeStamp"] == "2026-11-24T20:00:00"
    events = body["trackingEvents"]
    assert len(events) == 3
    for event in events:
        assert LEGACY_LOCAL.match(event["eventTimestamp"]), event["eventTimestamp"]
        assert GMT.match(event["GMTTimestamp"]), event["GMTTimestamp"]
        assert event["GMTOffset"] == "-7:00"
        assert event["eventZIP"] == "80202"
        assert "eventZIPCode" not in event and "recipientName" not in event
    # Newest first: local 10:00, 09:00, 08:00 on the mailing day.
    assert [e["eventTimestamp"][11:16] for e in events] == ["10:00", "09:00", "08:00"]
    assert events[0]["GMTTimestamp"] == "2026-11-20T17:00:00Z"
    assert response["Cache-Control"] == "no-store"
    assert response["X-Request-ID"]


def test_summary_is_the_default(api, piece):
    body = legacy(api, piece.tracking_number).json()

    assert set(body) == {
        "trackingNumber",
        "expectedDeliveryDate",
        "expectedDeliveryTime",
        "eventSummaries",
    }
    assert body["expectedDeliveryDate"] == "2026-11-24"
    assert body["expectedDeliveryTime"] == "8:00 pm"
    assert body["eventSummaries"][0] == "Processed, November 20, 2026, 10:00 am, DENVER, CO 80202"


def test_a_date_only_scan_is_written_in_each_version_as_its_clients_parse_it(api, piece):
    TrackingEvent.objects.create(
        piece=piece,
        event_code="MA",
        event_type="Shipping Label Created",
        event_timestamp="2026-11-19",
    )
    legacy_events = legacy(api, piece.tracking_number, expand="DETAIL").json()["trackingEvents"]
    v3r2_events = batch(api, [{"trackingNumber": piece.tracking_number}]).json()[0][
        "trackingEvents"
    ]

    assert legacy_events[-1]["eventTimestamp"] == "2026-11-19T00:00:00"
    assert "GMTTimestamp" not in legacy_events[-1]
    assert v3r2_events[-1]["eventTimestamp"] == "2026-11-19"
    assert v3r2_events[0]["eventTimestamp"] == "2026-11-20T10:00:00-07:00"


def test_events_are_capped_at_99_newest_first(api):
    piece = store_piece(number_for(MID, 2), mid=MID, events=120)

    events = legacy(api, piece.tracking_number, expand="DETAIL").json()["trackingEvents"]

    assert len(events) == 99
    stamps = [event["GMTTimestamp"] for event in events]
    assert stamps == sorted(stamps, reverse=True)
    newest = TrackingEvent.objects.filter(piece=piece).order_by("-gmt_timestamp").first()
    assert stamps[0] == newest.gmt_timestamp.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_a_reused_number_answers_the_newest_piece_unless_a_mailing_date_is_given(api):
    number = number_for(MID, 3)
    old = store_piece(number, mid=MID, mailing_date=date(2025, 1, 5))
    new = store_piece(number, mid=MID, mailing_date=date(2026, 11, 1))

    newest = legacy(api, number, expand="DETAIL").json()
    chosen = legacy(api, number, expand="DETAIL", mailingDate="2025-01-05").json()

    assert newest["uniqueMailPieceId"] == new.unique_mail_piece_id
    assert chosen["uniqueMailPieceId"] == old.unique_mail_piece_id


def test_an_authorized_unknown_number_is_404_in_usps_words(api):
    response = legacy(api, number_for(MID, 999))

    assert response.status_code == 404
    body = response.json()
    assert_envelope(body, 404, "/tracking/v3")
    assert body["error"]["errors"][0]["detail"].startswith(
        "Tracking is not available for this item."
    )


def test_a_malformed_number_is_400_with_the_parsers_reason(api):
    good = number_for(MID, 4)
    typo = good[:-1] + str((int(good[-1]) + 1) % 10)

    response = legacy(api, typo)

    assert response.status_code == 400
    error = response.json()["error"]["errors"][0]
    assert error["code"] == "INVALID_TRACKING_NUMBER"
    assert "check digit" in error["detail"]
    assert error["source"] == {"parameter": "trackingNumber", "example": typo}


RETAIL = "950011000000000000000" + mod10_check_digit("950011000000000000000")


@pytest.mark.parametrize("number", ["EC123456785US", RETAIL], ids=["s10", "retail-95"])
def test_a_number_without_a_mid_is_denied(api, number):
    response = legacy(api, number)

    assert response.status_code == 403
    assert response.json()["error"]["errors"][0]["code"] == "NO_MID_IN_TRACKING_NUMBER"


def test_a_denial_says_the_same_whether_or_not_the_piece_exists(api):
    stored = store_piece(number_for(OTHER_MID, 5), mid=OTHER_MID).tracking_number
    unknown = number_for(OTHER_MID, 6)

    answers = [legacy(api, number, expand="DETAIL") for number in (stored, unknown)]

    assert [a.status_code for a in answers] == [403, 403]
    bodies = [
        a.content.decode().replace(number, "N")
        for a, number in zip(answers, (stored, unknown), strict=True)
    ]
    assert bodies[0] == bodies[1]
    assert answers[0].json()["error"]["errors"][0]["code"] == "MID_NOT_AUTHORIZED"


def _suspend(provider):
    provider.status = ProviderStatus.SUSPENDED
    provider.suspension_cause = SuspensionCause.STAFF_ACTION
    provider.save()


def _hold(provider):
    provider.billing_hold, provider.billing_hold_at = True, timezone.now()
    provider.save()


def _end_agreement(provider):
    Agreement.objects.filter(provider=provider).update(status=AgreementStatus.TERMINATED)


def _link_window_ended(provider):
    MidLink.objects.filter(provider=provider).update(valid_until=timezone.now() - timedelta(days=1))


@pytest.mark.parametrize(
    ("change", "code"),
    [
        (_suspend, "PROVIDER_NOT_ACTIVE"),
        (_hold, "BILLING_HOLD"),
        (_end_agreement, "AGREEMENT_REQUIRED"),
        (_link_window_ended, "MID_LINK_NOT_IN_WINDOW"),
    ],
)
def test_each_denial_reason_reaches_the_client(provider, api, piece, change, code):
    change(provider)

    response = legacy(api, piece.tracking_number)

    assert response.status_code == 403
    assert response.json()["error"]["errors"][0]["code"] == code


def test_a_shipper_reads_its_own_mid_without_an_agreement():
    shipper = ProviderFactory(provider_type=ProviderType.SHIPPER)
    from tests.factories import MidLinkFactory

    MidLinkFactory(provider=shipper, mid=MID)
    piece = store_piece(number_for(MID, 7), mid=MID)

    assert legacy(api_client_for(shipper), piece.tracking_number).status_code == 200


def test_an_ambiguous_routed_barcode_is_400(api):
    # 420 + ZIP5 + a 26-digit PIC on channel 93 with STC 009 also reads as ZIP9 + 22 digits.
    from core.tracking_numbers import make_impb

    pic = make_impb(mid="123456", service_type_code="009", serial="00000000000000", channel="93")
    response = legacy(api, "42080301" + pic)

    if response.status_code == 400:
        assert response.json()["error"]["errors"][0]["code"] in {
            "AMBIGUOUS_TRACKING_NUMBER",
            "INVALID_TRACKING_NUMBER",
        }
    else:  # the ZIP9 reading's MID differs from ours: still refused, never served
        assert response.status_code == 403


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({"expand": "EVERYTHING"}, "expand"),
        ({"mailingDate": "2026-13-01"}, "mailingDate"),
        ({"destinationZIPCode": "8030"}, "destinationZIPCode"),
    ],
)
def test_bad_query_parameters_are_400_naming_the_parameter(api, piece, params, parameter):
    response = legacy(api, piece.tracking_number, **params)

    assert response.status_code == 400
    body = response.json()
    assert_envelope(body, 400, "/tracking/v3")
    assert body["error"]["errors"][0]["source"]["parameter"] == parameter


# --- Tracking 3.2 ------------------------------------------------------------------------


def test_a_batch_of_found_numbers_is_200_in_the_v3r2_shape(api, piece):
    second = store_piece(number_for(MID, 8), mid=MID)

    response = batch(
        api,
        [{"trackingNumber": piece.tracking_number}, {"trackingNumber": second.tracking_number}],
    )

    assert response.status_code == 200
    items = response.json()
    assert [item["trackingNumber"] for item in items] == [
        piece.tracking_number,
        second.tracking_number,
    ]
    event = items[0]["trackingEvents"][0]
    assert V3R2_LOCAL.match(event["eventTimestamp"])
    assert event["eventZIPCode"] == "80202" and "eventZIP" not in event
    assert items[0]["servicesEligibility"] == {
        "proofOfDeliveryEnabled": False,
        "RREEnabled": False,
        "trackingProofOfDeliveryEnabled": False,
    }
    assert items[0]["mailingDate"] == "2026-11-20"


def test_a_mixed_batch_is_207_with_a_status_per_item(api, piece):
    foreign = number_for(OTHER_MID, 9)
    unknown = number_for(MID, 10)

    response = batch(
        api,
        [
            {"trackingNumber": piece.tracking_number},
            {"trackingNumber": foreign},
            {"trackingNumber": unknown},
            {"trackingNumber": "12345"},
        ],
    )

    assert response.status_code == 207
    items = response.json()
    assert [item["statusCode"] for item in items] == ["200", "403", "404", "400"]
    assert items[0]["trackingEvents"]
    assert items[1]["trackingNumber"] == foreign
    assert items[1]["error"]["errors"][0]["code"] == "MID_NOT_AUTHORIZED"
    assert "trackingEvents" not in items[1]
    assert items[2]["error"]["errors"][0]["code"] == "TRACKING_NOT_AVAILABLE"
    assert items[3]["error"]["errors"][0]["source"]["parameter"] == "[3].trackingNumber"


def test_a_batch_failing_the_same_way_answers_that_status_listing_each_item(api):
    numbers = [number_for(OTHER_MID, 11), number_for(OTHER_MID, 12)]

    response = batch(api, [{"trackingNumber": n} for n in numbers])

    assert response.status_code == 403
    body = response.json()
    assert_envelope(body, 403, "/tracking/v3r2")
    assert [e["source"]["example"] for e in body["error"]["errors"]] == numbers


@pytest.mark.parametrize(
    ("body", "parameter"),
    [
        ({"trackingNumber": "x"}, None),
        ([], None),
        ([{"trackingNumber": number_for(MID, n)} for n in range(36)], None),
        ([{"trackingNumber": "9400100000000000000000", "colour": "red"}], "[0].colour"),
        ([{"mailingDate": "2026-11-20"}], "[0].trackingNumber"),
        ([{"trackingNumber": "x", "mailingDate": "yesterday"}], "[0].mailingDate"),
    ],
    ids=["object", "empty", "36-items", "unknown-key", "no-number", "bad-date"],
)
def test_a_malformed_batch_is_400_and_costs_no_quota(api, body, parameter):
    response = batch(api, body)

    assert response.status_code == 400
    errors = response.json()["error"]["errors"]
    assert errors
    if parameter:
        assert parameter in [e.get("source", {}).get("parameter") for e in errors]
    assert "X-RateLimit-Remaining" not in response


# --- Protocol errors -----------------------------------------------------------------------


def test_no_token_is_401_with_www_authenticate(client, piece):
    response = client.get(f"/tracking/v3/tracking/{piece.tracking_number}")

    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert_envelope(response.json(), 401, "/tracking/v3")


def test_an_unknown_token_is_401(client, piece):
    response = client.get(
        f"/tracking/v3/tracking/{piece.tracking_number}", HTTP_AUTHORIZATION="Bearer not-a-token"
    )

    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_a_token_without_the_tracking_scope_is_401(provider, piece):
    api = api_client_for(provider, scopes=("subscriptions-tracking",))

    response = legacy(api, piece.tracking_number)

    assert response.status_code == 401
    assert "insufficient_scope" in response["WWW-Authenticate"]
    assert_envelope(response.json(), 401, "/tracking/v3")


def test_wrong_method_is_405_in_the_envelope(api):
    response = api.put("/tracking/v3r2/tracking", [], format="json")

    assert response.status_code == 405
    assert_envelope(response.json(), 405, "/tracking/v3r2")


def test_a_body_that_is_not_json_is_415(api):
    response = api.post("/tracking/v3r2/tracking", "trackingNumber=1", content_type="text/plain")

    assert response.status_code == 415
    assert_envelope(response.json(), 415, "/tracking/v3r2")


def test_broken_json_is_400(api):
    response = api.post("/tracking/v3r2/tracking", "[{", content_type="application/json")

    assert response.status_code == 400
    assert_envelope(response.json(), 400, "/tracking/v3r2")


def test_an_unknown_api_path_is_404_in_the_envelope(api):
    response = api.get("/tracking/v3/nothing-here")

    assert response.status_code == 404
    assert_envelope(response.json(), 404, "/tracking/v3r2")


def test_a_bug_is_a_500_in_the_envelope(api, piece, monkeypatch):
    # Mocked: a genuine server fault cannot be caused through the public interface.
    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr("tracking.api.views.shapes.v3_summary", broken)
    api.raise_request_exception = False

    response = legacy(api, piece.tracking_number)

    assert response.status_code == 500
    body = response.json()
    assert_envelope(body, 500, "/tracking/v3")
    assert "boom" not in response.content.decode()


@pytest.mark.parametrize(
    "body",
    ["[" * 50_000, json.dumps([{"trackingNumber": "9" * 30, "mailingDate": "x" * 70_000}])],
    ids=["deep", "huge"],
)
def test_an_absurd_body_is_400_in_the_envelope_not_a_500(api, body):
    response = api.post("/tracking/v3r2/tracking", body, content_type="application/json")

    assert response.status_code == 400
    assert_envelope(response.json(), 400, "/tracking/v3r2")
    assert "X-RateLimit-Remaining" not in response

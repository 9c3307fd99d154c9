"""A third-party USPS v3 client (usps-v3 1.0.4, from PyPI) works against our server unchanged.

The client takes its base URL and token-cache folder as constructor arguments (`base_url`,
`cache_dir`), so it is pointed at `live_server` the way its own API allows: nothing of it is
patched. It asks /oauth2/v3/token with a JSON body, then GET /tracking/v3/tracking/{n}.
"""

import json

import pytest
from oauth2_provider.models import AccessToken
from usps_v3 import APIError, AuthError, Client, RateLimitError

from tests.tracking.api_helpers import MID, OTHER_MID, allowed_provider, number_for, store_piece
from tracking.credentials_cache import token_checksum
from tracking.models import ProviderApiQuota
from tracking.services.apps import app_create

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def provider():
    provider = allowed_provider()
    ProviderApiQuota.objects.create(provider=provider, calls_per_hour=1000)
    return provider


@pytest.fixture
def issued(provider):
    return app_create(provider=provider, name="usps-v3 client", actor=None, scopes=("tracking",))


@pytest.fixture
def usps(live_server, issued, tmp_path):
    client = Client(
        client_id=issued.client_id,
        client_secret=issued.client_secret,
        base_url=live_server.url,
        cache_dir=tmp_path / "usps-v3",
        timeout=10,
    )
    yield client
    client.close()


def test_the_client_gets_a_token_from_our_token_endpoint(usps, issued, tmp_path):
    refreshed = usps.refresh_tokens()

    # Its payment token is a labels feature (CRID, EPA account) we do not offer.
    assert refreshed["oauth"] is True
    status = usps.token_status["oauth"]
    assert status["valid"] is True
    assert status["scope"] == "tracking"
    cached = json.loads((tmp_path / "usps-v3" / "tokens.json").read_text())
    assert cached["oauth_scope"] == "tracking"
    # Ours, issued to this app: stored as a checksum of the token the client holds.
    token = AccessToken.objects.get(application=issued.app.application)
    assert token.token_checksum == token_checksum(cached["oauth_token"])
    # It read our expires_in: its expiry is ours less its 30-minute safety margin (the slack
    # covers the moments between our clock reading and its own, not a speed limit).
    assert abs(token.expires.timestamp() - 1800 - status["expires_at"]) < 60


def test_the_client_tracks_an_authorized_stored_number(usps):
    piece = store_piece(number_for(MID, 1), mid=MID)

    body = usps.tracking.track(piece.tracking_number)  # expand=DETAIL by default

    assert body["trackingNumber"] == piece.tracking_number
    assert body["mailClass"] == "PRIORITY_MAIL"
    assert body["destinationCity"] == "BOULDER"
    assert body["destinationZIP"] == "80301"
    assert body["uniqueMailPieceId"] == piece.unique_mail_piece_id
    assert body["expectedDeliveryTimeStamp"] == "2026-11-24T20:00:00"
    events = body["trackingEvents"]
    assert [event["eventTimestamp"] for event in events] == [
        "2026-11-20T10:00:00",
        "2026-11-20T09:00:00",
        "2026-11-20T08:00:00",
    ]
    assert events[0]["GMTTimestamp"] == "2026-11-20T17:00:00Z"
    assert events[0]["GMTOffset"] == "-7:00"
    assert events[-1]["eventCode"] == "03"


def test_the_client_reads_a_summary(usps):
    piece = store_piece(number_for(MID, 2), mid=MID)

    body = usps.tracking.track(piece.tracking_number, expand="SUMMARY")

    assert body["trackingNumber"] == piece.tracking_number
    assert body["eventSummaries"][0].startswith("Processed, November 20, 2026, 10:00 am")


def test_a_denial_reaches_the_client_as_its_api_error_with_our_envelope(usps):
    # Stored, so the denial is about the MID, not about a missing piece.
    denied = store_piece(number_for(OTHER_MID, 1), mid=OTHER_MID)

    with pytest.raises(APIError) as raised:
        usps.tracking.track(denied.tracking_number)

    error = raised.value
    assert error.status_code == 403
    body = json.loads(error.response_body)
    assert body["apiVersion"] == "/tracking/v3"
    assert body["error"]["code"] == "403"
    (item,) = body["error"]["errors"]
    assert item["status"] == "403"
    assert item["code"] == "MID_NOT_AUTHORIZED"
    assert item["detail"]
    assert item["source"]["parameter"] == "trackingNumber"

    # Not stored: the client sees the same error, bar the number it sent.
    unknown = number_for(OTHER_MID, 2)
    with pytest.raises(APIError) as raised_unknown:
        usps.tracking.track(unknown)
    assert raised_unknown.value.status_code == 403
    assert (
        raised_unknown.value.response_body.replace(unknown, denied.tracking_number)
        == error.response_body
    )


def test_an_authorized_unknown_number_reaches_the_client_as_a_404(usps):
    with pytest.raises(APIError) as raised:
        usps.tracking.track(number_for(MID, 999))

    assert raised.value.status_code == 404
    body = json.loads(raised.value.response_body)
    assert body["error"]["errors"][0]["code"] == "TRACKING_NOT_AVAILABLE"


def test_wrong_credentials_reach_the_client_as_its_auth_error(live_server, issued, tmp_path):
    client = Client(
        client_id=issued.client_id,
        client_secret="not-the-secret",
        base_url=live_server.url,
        cache_dir=tmp_path / "bad",
        timeout=10,
    )
    with client, pytest.raises(AuthError) as raised:
        client.tracking.track(number_for(MID, 1))

    assert raised.value.status_code == 401
    assert json.loads(raised.value.response_body)["error"] == "invalid_client"


def test_an_exhausted_quota_reaches_the_client_as_its_rate_limit_error(usps, provider):
    ProviderApiQuota.objects.filter(provider=provider).update(calls_per_hour=1)
    piece = store_piece(number_for(MID, 3), mid=MID)
    usps.tracking.track(piece.tracking_number)

    with pytest.raises(RateLimitError) as raised:
        usps.tracking.track(piece.tracking_number)

    assert raised.value.status_code == 429
    assert 0 < raised.value.retry_after <= 3600

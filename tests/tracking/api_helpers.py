"""Builders for the tracking API tests: an allowed provider, stored pieces, a bearer client."""

from datetime import UTC, date, datetime, timedelta
from urllib.parse import urlencode

from rest_framework.test import APIClient

from accounts.constants import ProviderType
from core.tracking_numbers import make_impb
from tests.factories import AgreementFactory, MidLinkFactory, ProviderFactory
from tracking.models import MailPiece, ProviderApiQuota, TrackingEvent
from tracking.services.apps import app_create

MID = "900100200"
OTHER_MID = "900300400"


def allowed_provider(*, mids: tuple[str, ...] = (MID,), **fields):
    """An active service provider with an approved agreement and verified links to `mids`."""
    provider = ProviderFactory(provider_type=ProviderType.SERVICE_PROVIDER, **fields)
    AgreementFactory(provider=provider)
    for mid in mids:
        MidLinkFactory(provider=provider, mid=mid)
    return provider


def number_for(mid: str, serial: int) -> str:
    width = 22 - 2 - 3 - len(mid) - 1
    return make_impb(mid=mid, service_type_code="001", serial=f"{serial:0{width}d}")


_UNIQUE = iter(range(10**6))


def store_piece(
    tracking_number: str,
    *,
    mid: str,
    mailing_date: date = date(2026, 11, 20),
    events: int = 3,
    **fields,
) -> MailPiece:
    """A stored piece with `events` scans an hour apart in Denver (UTC-7), newest last."""
    piece = MailPiece.objects.create(
        tracking_number=tracking_number,
        mailing_date=mailing_date,
        mid=mid,
        unique_mail_piece_id=f"UMP{next(_UNIQUE):09d}",
        service_type_code="001",
        mail_class="Priority Mail",
        mail_type="DOMESTIC_MAIL",
        origin_city="DENVER",
        origin_state="CO",
        origin_zip="80202",
        destination_city="BOULDER",
        destination_state="CO",
        destination_zip="80301",
        status="In Transit to Next Facility",
        status_category="In Transit",
        status_summary="Your item is in transit.",
        expected_delivery="2026-11-24T20:00:00",
        **fields,
    )
    start = datetime.combine(mailing_date, datetime.min.time(), tzinfo=UTC) + timedelta(hours=15)
    for n in range(events):
        gmt = start + timedelta(hours=n)
        local = gmt - timedelta(hours=7)
        TrackingEvent.objects.create(
            piece=piece,
            event_code="10" if n else "03",
            event_type="Processed" if n else "USPS in possession of item",
            event_timestamp=local.strftime("%Y-%m-%dT%H:%M:%S"),
            gmt_timestamp=gmt,
            gmt_offset="-7:00",
            city="DENVER",
            state="CO",
            zip_code="80202",
            country="US",
        )
    return piece


def api_client_for(provider, *, quota: int | None = 1000, scopes=("tracking",)) -> APIClient:
    """An API client holding a real token from the token endpoint for a new app of `provider`."""
    if quota is not None:
        ProviderApiQuota.objects.update_or_create(
            provider=provider, defaults={"calls_per_hour": quota}
        )
    issued = app_create(provider=provider, name=f"app {next(_UNIQUE)}", actor=None, scopes=scopes)
    client = APIClient()
    form = {
        "grant_type": "client_credentials",
        "client_id": issued.client_id,
        "client_secret": issued.client_secret,
    }
    response = client.post(
        "/oauth2/v3/token", urlencode(form), content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 200, response.content
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {response.json()['access_token']}")
    client.app = issued.app
    return client

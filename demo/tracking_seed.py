"""The tracking API's demo: generated pieces in the store, API clients with known credentials,
and sample tracking numbers that behave as labelled. Idempotent like the rest of seed_demo:
the data is generated from a fixed seed and start date, so a re-run imports nothing new, and
existing clients and quotas are left as they are."""

from dataclasses import dataclass
from datetime import date
from typing import Any

from django.conf import settings
from django.contrib.auth.hashers import check_password

from accounts.models import Provider, User
from agreements.decision import decide_for_number
from core.audit import audit_record
from core.tracking_numbers import make_impb, mod10_check_digit, parse, s10_check_digit
from tracking.constants import SCOPES, ApiAppStatus
from tracking.generator import generate_records, records_for_number
from tracking.imports import import_events
from tracking.models import ApiApp, MailPiece, ProviderApiQuota
from tracking.services.apps import app_create

# Fixed, so every run generates exactly the same rows (a re-run finds them all stored).
TRACKING_SEED = 2026
TRACKING_START = date(2026, 10, 1)
TRACKING_DAYS = 45
PIECES_PER_MID = 30
# MIDs nobody has claimed: pieces exist, and every provider is denied them.
UNCLAIMED_MIDS = ("987654321", "765432")
QUOTA_PER_HOUR = 100_000
CLIENT_NAME = "Demo client"
CLIENT_SCOPE = "tracking"


@dataclass(frozen=True, slots=True)
class DemoClient:
    provider: str  # legal name
    client_id: str

    @property
    def secret(self) -> str:
        # Known, like the demo passwords: DEMO_PASSWORD plus the client id.
        return f"{settings.DEMO_PASSWORD}-{self.client_id}"


CLIENTS = (
    DemoClient("Parcel Insights LLC", "demo-parcel-insights"),
    DemoClient("Acme Shipping Co.", "demo-acme-shipping"),
)


def no_mid_numbers() -> tuple[str, str]:
    """A Priority Mail Express International (S10) number and a retail counter (95) number:
    neither carries a shipper MID."""
    serial = "26100101"
    s10 = f"EC{serial}{s10_check_digit(serial)}US"
    payload = "95" + "055" + "4123" + "620100000001"
    return s10, payload + mod10_check_digit(payload)


def load_pieces(*, mids: list[str]) -> dict[str, Any]:
    """Generate and import the demo pieces; returns what the report shows, with the rows."""
    records = list(
        generate_records(
            pieces=PIECES_PER_MID * len(mids),
            mids=mids,
            seed=TRACKING_SEED,
            start=TRACKING_START,
            days=TRACKING_DAYS,
        )
    )
    for number in no_mid_numbers():
        records += records_for_number(
            tracking_number=number, mailing_date=TRACKING_START, seed=TRACKING_SEED
        )
    report = import_events(records=records)
    return {
        "mids": mids,
        "pieces_per_mid": PIECES_PER_MID,
        "rows": len(records),
        "pieces_created": report.pieces_created,
        "events_imported": report.events_imported,
        "rejected": report.rejected,
        "_records": records,
    }


def delivered_piece(records: list[dict[str, str]], mid: str) -> str:
    """The first generated piece of `mid` that was delivered (its last scan is 01)."""
    last: dict[str, str] = {}
    order: list[str] = []
    for record in records:
        if record["mailerID"] == mid:
            number = record["trackingNumber"]
            if number not in last:
                order.append(number)
            last[number] = record["eventCode"]
    return next(number for number in order if last[number] == "01")


def unknown_number(mid: str) -> str:
    """A valid number of `mid` that is not in the store (the API answers 404 for it)."""
    for serial in range(1_000_001, 1_000_100):
        number = make_impb(mid=mid, service_type_code="001", serial=str(serial))
        if not MailPiece.objects.filter(tracking_number=number).exists():
            return number
    raise RuntimeError(f"no unstored demo number left for MID {mid}")


def sample(provider: Provider, number: str) -> dict[str, Any]:
    decision = decide_for_number(provider=provider, tracking_number=number)
    try:
        pic = parse(number).pic
    except ValueError:
        pic = None
    return {
        "provider": provider.legal_name,
        "tracking_number": number,
        "mid": decision.mid,
        "allowed": decision.allowed,
        "reasons": decision.reason_codes,
        "stored": pic is not None and MailPiece.objects.filter(tracking_number=pic).exists(),
    }


def api_client(*, client: DemoClient, provider: Provider, actor: User) -> tuple[dict, bool]:
    """The provider's demo API app with a fixed client id and the known secret, made with the
    real service the first time. Later runs leave it alone; if its secret was rotated or the
    app revoked meanwhile, the secret is not shown (it would not work)."""
    app = (
        ApiApp.objects.select_related("application")
        .filter(application__client_id=client.client_id)
        .first()
    )
    created = app is None
    if created:
        # Both scopes, so the demo client can try the subscriptions API too.
        issued = app_create(provider=provider, name=CLIENT_NAME, actor=actor, scopes=tuple(SCOPES))
        app = issued.app
        application = app.application
        application.client_id = client.client_id
        application.client_secret = client.secret  # hashed on save, like any secret
        application.save(update_fields=["client_id", "client_secret", "updated"])
        audit_record(
            subject=app,
            action="api_app_demo_credentials",
            actor=actor,
            provider_id=provider.pk,
            extra={"client_id": client.client_id, "replaced_client_id": issued.client_id},
        )
    quota, quota_created = ProviderApiQuota.objects.get_or_create(
        provider=provider, defaults={"calls_per_hour": QUOTA_PER_HOUR}
    )
    works = app.status == ApiAppStatus.ACTIVE and check_password(
        client.secret, app.application.client_secret
    )
    entry = {
        "provider": provider.legal_name,
        "name": app.name,
        "client_id": client.client_id,
        "client_secret": client.secret if works else None,
        "scope": app.scope,
        "status": app.status,
        "quota_per_hour": quota.calls_per_hour,
        "created": created,
    }
    return entry, created or quota_created

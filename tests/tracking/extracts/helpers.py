"""Builders of the extract tests: providers allowed to read MIDs, their members, stored
events on recent days, and readers of a built file."""

import csv
import gzip
import hashlib
import io
import json
from datetime import date, timedelta
from pathlib import Path

from django.utils import timezone

from accounts.constants import MembershipRole, ProviderType
from tests.factories import AgreementFactory, MembershipFactory, MidLinkFactory, ProviderFactory
from tests.tracking.api_helpers import MID, OTHER_MID, allowed_provider, number_for, store_piece

__all__ = ["MID", "OTHER_MID", "allowed_provider", "number_for", "store_piece"]


def today() -> date:
    return timezone.now().date()


def recent(days_ago: int = 3) -> date:
    return today() - timedelta(days=days_ago)


def shipper(*, mids=(MID,)):
    """A provider allowed to read `mids` whose extracts need no approval (SHIPPER is not in
    the default EXTRACT_APPROVAL_REQUIRED_TYPES)."""
    provider = ProviderFactory(provider_type=ProviderType.SHIPPER)
    AgreementFactory(provider=provider)
    for mid in mids:
        MidLinkFactory(provider=provider, mid=mid)
    return provider


def member(provider, role=MembershipRole.OWNER):
    return MembershipFactory(provider=provider, role=role).user


def store(mid: str, count: int, *, events: int = 3, first_serial: int = 1, day: date | None = None):
    """`count` pieces of `mid`, each with `events` scans on `day` (default 3 days ago)."""
    return [
        store_piece(
            number_for(mid, first_serial + n), mid=mid, mailing_date=day or recent(), events=events
        )
        for n in range(count)
    ]


def ndjson_lines(data: bytes) -> list[dict]:
    # Split on "\n" only, as NDJSON does: str.splitlines() would also split inside a value
    # holding U+2028 or NEL, which JSON leaves unescaped.
    text = gzip.decompress(data).decode()
    return [json.loads(line) for line in text.split("\n") if line]


def csv_rows(data: bytes) -> list[dict]:
    return list(csv.DictReader(io.StringIO(gzip.decompress(data).decode(), newline="")))


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def files_under(root: Path) -> list[Path]:
    return sorted(path for path in Path(root).rglob("*") if path.is_file())

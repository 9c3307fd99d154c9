"""Realistic rows for the decision benchmarks, built with the test factories.

50 providers: most are service providers with an approved agreement, ten MID links (seven
owned, one expired, two authorized by a neighbour's owner) and three approved schedule lines;
every tenth is on billing hold, every tenth is a shipper (no agreement needed) and two never
signed. The workload asks about a mix of MIDs so that allowed and denied paths are both timed.
"""

import random
import string
from dataclasses import dataclass, field
from datetime import timedelta

from django.db import connection
from django.utils import timezone

from accounts.constants import ProviderType
from accounts.models import Provider, User
from agreements.constants import MidRelation
from bench.samples import SEED
from core.tracking_numbers import make_impb
from tests.factories import (
    AgreementFactory,
    AgreementVersionFactory,
    MidLinkFactory,
    ProviderFactory,
    ScheduleLineFactory,
    UserFactory,
)

PROVIDERS = 50
OWNED_LINKS = 7
AUTHORIZED_LINKS = 2
SCHEDULE_LINES = 3


@dataclass
class ProviderRows:
    provider: Provider
    user: User
    owned: list[str] = field(default_factory=list)
    expired: list[str] = field(default_factory=list)
    authorized: list[str] = field(default_factory=list)
    scheduled: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Dataset:
    rows: list[ProviderRows]
    # The same (provider, MID) questions, as MIDs and as tracking numbers, in one order.
    pairs: list[tuple[Provider, str]]
    numbers: list[tuple[Provider, str]]
    counts: dict[str, int]


def build_dataset() -> Dataset:
    rows = _build_rows()
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")  # planner statistics now, not whenever autovacuum wakes up
    rng = random.Random(SEED)
    pairs = _questions(rows, rng)
    numbers = [(provider, _tracking_number(mid, rng)) for provider, mid in pairs]
    counts = {
        "providers": len(rows),
        "MID links": sum(len(r.owned) + len(r.expired) + len(r.authorized) for r in rows),
        "approved agreements": sum(1 for r in rows if r.scheduled),
        "schedule lines": sum(len(r.scheduled) for r in rows),
        "(provider, MID) questions": len(pairs),
    }
    return Dataset(rows=rows, pairs=pairs, numbers=numbers, counts=counts)


def _mid(provider_index: int, link_index: int) -> str:
    if link_index % 3 == 2:
        return f"{100000 + provider_index * 100 + link_index}"  # 6-digit MID
    return f"9{provider_index:04d}{link_index:04d}"


def _provider(index: int) -> Provider:
    if index % 10 == 7:
        return ProviderFactory(
            billing_hold=True, billing_hold_at=timezone.now(), billing_hold_reason="Unpaid"
        )
    if index % 10 == 8:
        return ProviderFactory(provider_type=ProviderType.SHIPPER)
    return ProviderFactory()


def _build_rows() -> list[ProviderRows]:
    now = timezone.now()
    version = AgreementVersionFactory()
    rows: list[ProviderRows] = []
    for i in range(PROVIDERS):
        row = ProviderRows(provider=_provider(i), user=UserFactory())
        for j in range(OWNED_LINKS):
            row.owned.append(_link(row, _mid(i, j)))
        row.expired.append(
            _link(
                row,
                f"9{i:04d}9999",
                valid_from=now - timedelta(days=40),
                valid_until=now - timedelta(days=5),
            )
        )
        signs = row.provider.provider_type == ProviderType.SERVICE_PROVIDER and i % 25 != 9
        if signs:
            agreement = AgreementFactory(provider=row.provider, version=version, signer=row.user)
            for k in range(SCHEDULE_LINES):
                mid = f"{700000 + i * 10 + k}"
                ScheduleLineFactory(agreement=agreement, mid=mid)
                row.scheduled.append(mid)
        rows.append(row)
    for i, row in enumerate(rows):
        for offset in range(1, AUTHORIZED_LINKS + 1):
            owner_mid = rows[(i + offset) % PROVIDERS].owned[0]
            row.authorized.append(
                _link(
                    row,
                    owner_mid,
                    relation=MidRelation.AUTHORIZED_BY_OWNER,
                    owner_name="Example Shipper Inc.",
                )
            )
    return rows


def _link(row: ProviderRows, mid: str, **fields: object) -> str:
    MidLinkFactory(provider=row.provider, mid=mid, requested_by=row.user, **fields)
    return mid


def _questions(rows: list[ProviderRows], rng: random.Random) -> list[tuple[Provider, str]]:
    """Per provider: owned, authorized, scheduled, expired and someone else's MIDs."""
    pairs: list[tuple[Provider, str]] = []
    for i, row in enumerate(rows):
        stranger = rows[(i + PROVIDERS // 2) % PROVIDERS].owned[1]
        mids = rng.sample(row.owned, 3) + row.authorized[:1] + row.scheduled[:1]
        mids += [row.expired[0], stranger]
        pairs += [(row.provider, mid) for mid in mids]
    rng.shuffle(pairs)
    return pairs


def _tracking_number(mid: str, rng: random.Random) -> str:
    """A valid 22-digit IMpb carrying ``mid``; a third are scanned with 420+ZIP5 routing.

    22-digit PICs keep routed barcodes at 30 digits: a 34-digit one could be read with a
    different split (see core.tracking_numbers) and so ask about another MID.
    """
    serial_length = 7 if len(mid) == 9 else 10
    serial = "".join(rng.choices(string.digits, k=serial_length))
    service = rng.choice(["001", "055", "261", "748"])
    pic = make_impb(mid=mid, service_type_code=service, serial=serial)
    if rng.random() < 1 / 3:
        return "420" + "".join(rng.choices(string.digits, k=5)) + pic
    return pic

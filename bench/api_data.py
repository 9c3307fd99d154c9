"""Data of the tracking API benchmark: a tenant allowed for a subset of the MIDs, and a store
of synthetic scan events loaded with the real generator and the real importer.

The tenant is built with the ORM (no test factories): an active service provider with an
approved signature of a published agreement version, verified OWNED links to every fourth MID,
a 10M/hour quota and one API app made by the real service (its secret hashed like any other).
"""

import json
import os
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from multiprocessing import get_context
from pathlib import Path

from django.db import connection
from django.db.models import Model
from django.utils import timezone

from accounts.constants import ProviderStatus, ProviderType
from accounts.models import Provider, User
from agreements.constants import AgreementStatus, MidLinkStatus, MidRelation
from agreements.decision import decide
from agreements.models import Agreement, AgreementVersion, MidLink
from agreements.services.versions import canonical_text, text_sha256
from tracking.generator import generate_records, write_records
from tracking.imports import import_events
from tracking.models import Disclosure, MailPiece, ProviderApiQuota, TrackingEvent
from tracking.services.apps import app_create

MID_COUNT = 1_000
ALLOWED_EVERY = 4  # the tenant holds every fourth MID: 250 of 1,000
QUOTA_PER_HOUR = 10_000_000
# The generator makes about 8.7 events per piece: 120k pieces give a little over 1M events.
PIECES_PER_UNIT = 120_000
CHUNK_PIECES = 30_000  # one file; files are generated two at a time and imported one by one
FIRST_MAILING_DATE = date(2026, 1, 5)
MAILING_DAYS = 300
BATCH_SIZE = 35


@dataclass(frozen=True, slots=True)
class Tenant:
    provider: Provider
    client_id: str
    client_secret: str
    allowed_mids: list[str]
    denied_mids: list[str]


@dataclass(frozen=True, slots=True)
class ImportStats:
    files: int
    rows: int
    events: int
    duplicates: int
    rejected: int
    pieces_created: int
    seconds: float  # import only: generating the files is not counted

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0


@dataclass(frozen=True, slots=True)
class StoreSize:
    pieces: int
    events: int
    piece_heap_bytes: int
    piece_index_bytes: int
    event_heap_bytes: int
    event_index_bytes: int

    @property
    def heap_bytes_per_event(self) -> float:
        return self.event_heap_bytes / max(self.events, 1)

    @property
    def total_bytes_per_event(self) -> float:
        """Event heap and indexes, plus the pieces' share, per event."""
        total = (
            self.event_heap_bytes
            + self.event_index_bytes
            + self.piece_heap_bytes
            + self.piece_index_bytes
        )
        return total / max(self.events, 1)


def all_mids() -> list[str]:
    return [f"9{20_000_000 + index * 37:08d}" for index in range(MID_COUNT)]


def build_tenant() -> Tenant:
    now = timezone.now()
    mids = all_mids()
    allowed = mids[::ALLOWED_EVERY]
    denied = [mid for mid in mids if mid not in set(allowed)]
    user = User.objects.create_user(email="bench-owner@example.com", password=None)
    provider = Provider.objects.create(
        legal_name="Bench Analytics LLC",
        provider_type=ProviderType.SERVICE_PROVIDER,
        address_line1="475 L'Enfant Plaza SW",
        city="Washington",
        state="DC",
        zip_code="20260",
        contact_email="bench-owner@example.com",
        contact_phone="+1 202 555 0100",
        status=ProviderStatus.ACTIVE,
    )
    text = canonical_text("Tracking data may be read only for the MIDs a provider may read.")
    version = AgreementVersion.objects.create(
        label="bench-v1",
        text=text,
        text_sha256=text_sha256(text),
        published_at=now - timedelta(days=60),
        effective_at=now - timedelta(days=30),
        reacceptance_days=30,
        applies_to=[ProviderType.SERVICE_PROVIDER],
    )
    Agreement.objects.create(
        provider=provider,
        version=version,
        signer=user,
        signer_name="Pat Bench",
        signer_title="Chief Executive",
        attested_authority=True,
        signed_at=now - timedelta(days=20),
        signed_text_sha256=version.text_sha256,
        status=AgreementStatus.APPROVED,
        decided_at=now - timedelta(days=19),
    )
    MidLink.objects.bulk_create(
        MidLink(
            provider=provider,
            mid=mid,
            relation=MidRelation.OWNED,
            status=MidLinkStatus.VERIFIED,
            valid_from=now - timedelta(days=10),
            requested_by=user,
            verified_at=now - timedelta(days=10),
        )
        for mid in allowed
    )
    ProviderApiQuota.objects.create(provider=provider, calls_per_hour=QUOTA_PER_HOUR)
    issued = app_create(provider=provider, name="Bench load", actor=None)
    for mid, expected in ((allowed[0], True), (denied[0], False)):
        decision = decide(provider=provider, mid=mid)
        assert decision.allowed is expected, (mid, decision)
    return Tenant(
        provider=provider,
        client_id=issued.client_id,
        client_secret=issued.client_secret,
        allowed_mids=allowed,
        denied_mids=denied,
    )


def _write_chunk(job: tuple[str, int, int, list[str]]) -> int:
    path, seed, pieces, mids = job
    records = generate_records(
        pieces=pieces, mids=mids, seed=seed, start=FIRST_MAILING_DATE, days=MAILING_DAYS
    )
    return write_records(records, Path(path))


@contextmanager
def generated_files(*, pieces: int, first_seed: int) -> Iterator[list[Path]]:
    """NDJSON files holding ``pieces`` pieces over all MIDs (two processes generate them);
    deleted on exit."""
    with tempfile.TemporaryDirectory(prefix="bench-api-") as directory:
        jobs = []
        for index, start in enumerate(range(0, pieces, CHUNK_PIECES)):
            path = Path(directory) / f"events-{first_seed + index}.ndjson"
            jobs.append(
                (str(path), first_seed + index, min(CHUNK_PIECES, pieces - start), all_mids())
            )
        # fork: the children inherit the configured Django; they only generate, never query.
        with ProcessPoolExecutor(
            max_workers=os.cpu_count() or 2, mp_context=get_context("fork")
        ) as pool:
            list(pool.map(_write_chunk, jobs))
        yield [Path(job[0]) for job in jobs]


def import_files(paths: list[Path]) -> ImportStats:
    """The real importer over each file in turn, timed from the first row to the last commit."""
    rows = events = duplicates = rejected = created = 0
    seconds = 0.0
    for path in paths:
        started = time.perf_counter()
        report = import_events(path=path)
        seconds += time.perf_counter() - started
        assert report.accounted_for, report
        rows += report.rows_read
        events += report.events_imported
        duplicates += report.duplicates
        rejected += report.rejected
        created += report.pieces_created
    assert rejected == 0, f"the importer rejected {rejected} generated rows"
    with connection.cursor() as cursor:
        # Fresh statistics and a visibility map, so autovacuum does not wake up mid-measurement.
        cursor.execute(f"VACUUM ANALYZE {MailPiece._meta.db_table}")
        cursor.execute(f"VACUUM ANALYZE {TrackingEvent._meta.db_table}")
    return ImportStats(
        files=len(paths),
        rows=rows,
        events=events,
        duplicates=duplicates,
        rejected=rejected,
        pieces_created=created,
        seconds=seconds,
    )


def _sizes(model: type[Model]) -> tuple[int, int, int]:
    """(rows, table bytes, index bytes) of a model's table."""
    table = model._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT count(*), pg_relation_size(%s), pg_indexes_size(%s) FROM {table}",  # noqa: S608
            [table, table],
        )
        return cursor.fetchone()


def store_size() -> StoreSize:
    pieces, piece_heap, piece_index = _sizes(MailPiece)
    events, event_heap, event_index = _sizes(TrackingEvent)
    return StoreSize(pieces, events, piece_heap, piece_index, event_heap, event_index)


def disclosure_size() -> tuple[int, int, int]:
    """(rows, table bytes, index bytes) of the disclosure audit the run wrote."""
    return _sizes(Disclosure)


def stored_numbers(mids: list[str], count: int) -> list[str]:
    """``count`` distinct stored tracking numbers of ``mids``, in a fixed pseudo-random order."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tracking_number FROM (SELECT DISTINCT tracking_number FROM tracking_mailpiece"
            " WHERE mid = ANY(%s)) AS n ORDER BY md5(tracking_number) LIMIT %s",
            [mids, count],
        )
        numbers = [row[0] for row in cursor.fetchall()]
    assert len(numbers) == count, f"only {len(numbers)} stored numbers for the allowed MIDs"
    return numbers


def write_inputs(numbers: list[str], directory: Path) -> tuple[Path, Path]:
    """The wrk inputs: one number per line, and 35-number v3r2 bodies, one per line."""
    numbers_path = directory / "numbers.txt"
    numbers_path.write_text("\n".join(numbers) + "\n")
    bodies = [
        json.dumps([{"trackingNumber": n} for n in numbers[i : i + BATCH_SIZE]])
        for i in range(0, len(numbers) - BATCH_SIZE + 1, BATCH_SIZE)
    ]
    bodies_path = directory / "bodies.txt"
    bodies_path.write_text("\n".join(bodies) + "\n")
    return numbers_path, bodies_path

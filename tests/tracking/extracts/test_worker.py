"""End to end through a real Celery worker (Redis broker, committed rows): a request is built
on commit, and housekeeping takes back a build whose worker died and builds it again."""

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from tests.tracking.extracts.helpers import (
    MID,
    member,
    ndjson_lines,
    recent,
    sha256,
    shipper,
    store,
)
from tracking.constants import ExtractSource, ExtractStatus
from tracking.extracts import tasks
from tracking.extracts.services import BUILD_STUCK_AFTER, extract_request
from tracking.models import Extract


def wait_for(extract: Extract, status: str, seconds: float = 30) -> Extract:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        extract.refresh_from_db()
        if extract.status == status:
            return extract
        time.sleep(0.1)
    raise AssertionError(f"still {extract.status}, not {status}")


@pytest.mark.django_db(transaction=True)
def test_the_worker_builds_a_requested_extract_and_rebuilds_one_whose_worker_died(celery_worker):
    provider = shipper()
    store(MID, 3, events=2)
    extract = extract_request(
        provider=provider,
        actor=member(provider),
        mids=[MID],
        start_date=recent(),
        end_date=recent(),
        file_format="NDJSON",
        source=ExtractSource.PORTAL,
    )

    built = wait_for(extract, ExtractStatus.READY)

    with built.file.open("rb") as handle:
        data = handle.read()
    assert built.row_count == len(ndjson_lines(data)) == 6
    assert built.sha256 == sha256(data)

    # A build whose worker died an hour ago: housekeeping queues it again and it is built.
    stuck = Extract.objects.create(
        provider=provider,
        source=ExtractSource.PORTAL,
        mids=[MID],
        start_date=recent(),
        end_date=recent(),
        file_format="CSV",
        status=ExtractStatus.BUILDING,
        build_started_at=timezone.now() - BUILD_STUCK_AFTER - timedelta(minutes=1),
    )
    tasks.housekeeping.delay()

    rebuilt = wait_for(stuck, ExtractStatus.READY)
    assert rebuilt.row_count == 6

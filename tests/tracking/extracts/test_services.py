"""The extract services: a request checked field by field and MID by MID (refused whole, nothing
saved), approval by provider type, the build (READY with its facts, or FAILED with no file when
access is withdrawn mid-build or anything goes wrong), idempotence, housekeeping, downloads."""

import os
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.checks import run_checks
from django.db import connection
from django.utils import timezone

from agreements.constants import ReasonCode
from agreements.models import MidLink
from agreements.services.mid_links import mid_link_revoke
from core.errors import DomainError, InvalidTransition
from core.models import AuditEntry
from tests.factories import StaffFactory
from tests.tracking.extracts.helpers import (
    MID,
    OTHER_MID,
    allowed_provider,
    files_under,
    member,
    ndjson_lines,
    recent,
    sha256,
    shipper,
    store,
    today,
)
from tracking.constants import ExtractSource, ExtractStatus
from tracking.extracts.checks import check_approval_required_types
from tracking.extracts.requests import ExtractRefused
from tracking.extracts.services import (
    BUILD_STUCK_AFTER,
    MAX_BUILD_ATTEMPTS,
    ExtractLimitReached,
    _claim,
    extract_approve,
    extract_build,
    extract_reject,
    extract_request,
    extracts_housekeeping,
    record_download,
)
from tracking.extracts.tasks import build_extract
from tracking.models import Extract, ExtractDownload

pytestmark = pytest.mark.django_db


def request(provider, **overrides):
    arguments = {
        "provider": provider,
        "actor": member(provider),
        "mids": [MID],
        "start_date": recent(),
        "end_date": recent(),
        "file_format": "NDJSON",
        "source": ExtractSource.PORTAL,
    }
    return extract_request(**(arguments | overrides))


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"mids": []}, "mids", "Give at least one MID."),
        ({"mids": [MID, "12345", "abc"]}, "mids", "Not valid MIDs: '12345', 'abc'"),
        ({"mids": [MID, OTHER_MID, "900500600"]}, "mids", "at most 2 MIDs; this asked for 3"),
        ({"start_date": recent(1), "end_date": recent(2)}, "start_date", "is after the end date"),
        ({"end_date": today() + timedelta(days=1)}, "end_date", "is in the future"),
        (
            {"start_date": recent(40)},
            "end_date",
            "The range covers 38 days; an extract covers at most 30",
        ),
        ({"file_format": "XML"}, "file_format", "The format must be one of NDJSON, CSV"),
    ],
)
def test_each_bad_input_is_refused_on_its_field_and_nothing_is_saved(
    settings, overrides, field, message
):
    settings.EXTRACT_MAX_MIDS = 2
    settings.EXTRACT_MAX_DAYS = 30
    provider = shipper()

    with pytest.raises(DomainError) as refused:
        request(provider, **overrides)

    assert message in " ".join(refused.value.field_errors[field])
    assert not Extract.objects.exists()


def test_mids_are_stripped_deduplicated_and_sorted():
    provider = shipper(mids=(MID, OTHER_MID))

    extract = request(provider, mids=[f" {OTHER_MID}", MID, OTHER_MID])

    assert extract.mids == sorted([MID, OTHER_MID])


def test_an_extract_across_an_authorized_and_an_unauthorized_mid_is_refused_whole():
    provider = shipper(mids=(MID,))

    with pytest.raises(ExtractRefused) as refused:
        request(provider, mids=[MID, OTHER_MID, "900777888"])

    assert list(refused.value.denied) == [OTHER_MID, "900777888"]
    assert {r.code for r in refused.value.denied.values()} == {ReasonCode.MID_NOT_AUTHORIZED.value}
    assert f"MID {OTHER_MID}: MID_NOT_AUTHORIZED" in refused.value.message
    assert MID not in refused.value.denied
    assert not Extract.objects.exists()
    assert not AuditEntry.objects.filter(action="extract_request").exists()


def test_a_service_providers_extract_waits_for_approval(
    monkeypatch, django_capture_on_commit_callbacks
):
    built = []
    monkeypatch.setattr(build_extract, "delay", built.append)
    provider = allowed_provider()  # SERVICE_PROVIDER

    with django_capture_on_commit_callbacks(execute=True):
        extract = request(provider)

    assert extract.status == ExtractStatus.PENDING_APPROVAL
    entry = AuditEntry.objects.get(action="extract_request")
    assert entry.extra["mids"] == [MID] and entry.extra["format"] == "NDJSON"
    assert entry.extra["start_date"] == recent().isoformat()
    assert entry.actor == extract.requested_by
    assert built == []  # no build


def test_other_types_are_queued_and_built_on_commit(
    settings, monkeypatch, django_capture_on_commit_callbacks
):
    settings.EXTRACT_APPROVAL_REQUIRED_TYPES = []
    built = []
    monkeypatch.setattr(build_extract, "delay", built.append)
    provider = allowed_provider()

    with django_capture_on_commit_callbacks(execute=True):
        extract = request(provider)

    assert extract.status == ExtractStatus.QUEUED
    assert built == [extract.pk]


def queued_extract(provider=None, *, events=3, pieces=2, **overrides):
    provider = provider or shipper()
    store(MID, pieces, events=events)
    return request(provider, **overrides)


def test_a_build_stores_the_file_and_records_its_rows_size_and_hash(private_root):
    extract = queued_extract(file_format="NDJSON")

    built = extract_build(extract_id=extract.pk)

    assert built.status == ExtractStatus.READY
    built.refresh_from_db()
    data = built.file.open("rb").read()
    built.file.close()
    assert built.row_count == len(ndjson_lines(data)) == 6
    assert built.byte_count == len(data)
    assert built.sha256 == sha256(data)
    assert built.expires_at == built.built_at + timedelta(hours=24)
    assert [p.name for p in files_under(private_root)] == [f"{extract.public_id}.ndjson.gz"]
    ready = AuditEntry.objects.get(action="extract_ready")
    assert ready.extra["rows"] == 6 and ready.extra["sha256"] == built.sha256


def test_a_second_run_of_the_build_does_nothing():
    extract = queued_extract()
    extract_build(extract_id=extract.pk)
    extract.refresh_from_db()
    facts = (extract.status, extract.sha256, extract.file.name, extract.built_at)

    assert extract_build(extract_id=extract.pk) is None

    extract.refresh_from_db()
    assert (extract.status, extract.sha256, extract.file.name, extract.built_at) == facts
    assert AuditEntry.objects.filter(action="extract_ready").count() == 1


def test_an_extract_waiting_for_approval_is_not_built():
    extract = queued_extract(allowed_provider())

    assert extract_build(extract_id=extract.pk) is None
    extract.refresh_from_db()
    assert extract.status == ExtractStatus.PENDING_APPROVAL


def test_a_mid_revoked_mid_build_fails_the_build_closed(private_root):
    extract = queued_extract(events=1, pieces=6)
    link = MidLink.objects.get(provider=extract.provider, mid=MID)
    progress = []

    def revoke_after_first_chunk(rows: int) -> None:
        progress.append(rows)
        if len(progress) == 1:
            mid_link_revoke(link=link, actor=StaffFactory(), reason="Letter withdrawn")

    result = extract_build(
        extract_id=extract.pk, chunk_rows=2, on_progress=revoke_after_first_chunk
    )

    assert progress == [2]  # stopped before the second chunk was written
    assert result.status == ExtractStatus.FAILED
    extract.refresh_from_db()
    assert extract.status == ExtractStatus.FAILED
    assert f"access to MID {MID} was withdrawn" in extract.status_reason
    assert not extract.file and not extract.sha256 and extract.row_count is None
    assert files_under(private_root) == []  # not even the partial file
    assert AuditEntry.objects.filter(action="extract_build_fail").count() == 1


def test_any_error_fails_the_build_and_keeps_no_file(private_root):
    extract = queued_extract(events=1, pieces=4)

    def crash(rows):
        raise RuntimeError("disk full")

    extract_build(extract_id=extract.pk, chunk_rows=2, on_progress=crash)

    extract.refresh_from_db()
    assert extract.status == ExtractStatus.FAILED
    assert "The build failed (RuntimeError)" in extract.status_reason
    assert files_under(private_root) == []


def test_staff_approve_and_the_build_is_queued(monkeypatch, django_capture_on_commit_callbacks):
    extract = queued_extract(allowed_provider())
    staff = StaffFactory()
    built = []
    monkeypatch.setattr(build_extract, "delay", built.append)

    with django_capture_on_commit_callbacks(execute=True):
        extract_approve(extract=extract, actor=staff, reason="Checked")

    extract.refresh_from_db()
    assert extract.status == ExtractStatus.QUEUED and extract.decided_by == staff
    assert built == [extract.pk]
    assert AuditEntry.objects.get(action="extract_approve").reason == "Checked"


def test_a_rejection_needs_a_reason_and_cannot_be_approved_afterwards():
    extract = queued_extract(allowed_provider())
    staff = StaffFactory()

    with pytest.raises(DomainError, match="A reason is required"):
        extract_reject(extract=extract, actor=staff, reason="  ")
    extract_reject(extract=extract, actor=staff, reason="Too broad; ask for one MID")

    extract.refresh_from_db()
    assert extract.status == ExtractStatus.REJECTED
    assert extract.status_reason == "Too broad; ask for one MID"
    with pytest.raises(InvalidTransition):
        extract_approve(extract=extract, actor=staff)


def test_housekeeping_expires_files_and_requeues_dead_builds(
    private_root, django_capture_on_commit_callbacks
):
    ready = queued_extract()
    extract_build(extract_id=ready.pk)
    ready.refresh_from_db()
    path = ready.file.path
    Extract.objects.filter(pk=ready.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    stuck = request(ready.provider)
    Extract.objects.filter(pk=stuck.pk).update(
        status=ExtractStatus.BUILDING,
        build_started_at=timezone.now() - BUILD_STUCK_AFTER - timedelta(minutes=1),
    )
    partial = private_root / "extracts" / ".building" / "dead.partial"
    partial.write_bytes(b"half a file")
    old = time.time() - BUILD_STUCK_AFTER.total_seconds() - 60
    os.utime(partial, (old, old))

    # The re-enqueue needs a broker (the worker test covers it); the file deletion is run by
    # hand once the expiry's transaction would have committed.
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        report = extracts_housekeeping()

    ready.refresh_from_db()
    assert (report.expired, report.requeued, report.partial_files_removed) == (1, 1, 1)
    assert ready.status == ExtractStatus.EXPIRED and not ready.file
    stuck.refresh_from_db()
    assert stuck.status == ExtractStatus.QUEUED
    assert not partial.exists()
    assert os.path.exists(path)  # deleted only once the expiry commits
    deletions = [
        c
        for c in callbacks
        if "private_storage" in getattr(getattr(c, "__code__", None), "co_names", ())
    ]
    assert len(deletions) == 1
    deletions[0]()
    assert not os.path.exists(path)


def test_a_download_is_recorded_and_audited():
    extract = queued_extract()
    extract_build(extract_id=extract.pk)
    extract.refresh_from_db()
    user = extract.requested_by

    record_download(extract=extract, user=user, ip="203.0.113.9")

    download = ExtractDownload.objects.get()
    assert (download.user, download.ip_address) == (user, "203.0.113.9")
    entry = AuditEntry.objects.get(action="extract_download")
    assert entry.actor == user and entry.extra["sha256"] == extract.sha256


# --- Approval types, the open-extract cap ----------------------------------------------------


@pytest.mark.parametrize(
    "value", [[" SERVICE_PROVIDER"], ["service_provider "], "SERVICE_PROVIDER"]
)
def test_approval_types_are_read_stripped_and_upper_cased(settings, value):
    settings.EXTRACT_APPROVAL_REQUIRED_TYPES = value

    extract = request(allowed_provider())  # a SERVICE_PROVIDER

    assert extract.status == ExtractStatus.PENDING_APPROVAL
    assert check_approval_required_types() == []


def test_an_approval_type_that_is_no_provider_type_is_a_system_check_error(settings):
    settings.EXTRACT_APPROVAL_REQUIRED_TYPES = ["SERVICE_PROVDER", "SHIPPER"]

    errors = check_approval_required_types()

    assert [error.id for error in errors] == ["tracking.E101"]
    assert "'SERVICE_PROVDER'" in errors[0].msg and "SHIPPER" not in errors[0].msg
    assert any(error.id == "tracking.E101" for error in run_checks())


def test_a_provider_may_have_a_few_open_extracts_at_once(settings):
    settings.EXTRACT_MAX_OPEN_PER_PROVIDER = 2
    provider = allowed_provider()  # waits for approval: stays open
    request(provider)
    request(provider)

    with pytest.raises(ExtractLimitReached, match=r"already has 2 extracts waiting"):
        request(provider)
    assert Extract.objects.count() == 2

    extract_reject(extract=Extract.objects.first(), actor=StaffFactory(), reason="No")
    assert request(provider).status == ExtractStatus.PENDING_APPROVAL  # room again


@pytest.mark.django_db(transaction=True)
def test_the_cap_holds_for_two_requests_at_once(settings):
    """Both count under the provider's row lock: the second waits for the first's commit."""
    settings.EXTRACT_MAX_OPEN_PER_PROVIDER = 1
    provider = allowed_provider()
    actor = member(provider)
    outcomes = []

    def ask() -> None:
        try:
            request(provider, actor=actor)
            outcomes.append("created")
        except ExtractLimitReached:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=ask) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)

    assert sorted(outcomes) == ["created", "refused"]
    assert Extract.objects.count() == 1


# --- Builds: attempts, orphans, claims -------------------------------------------------------


def test_a_build_that_cannot_create_its_partial_file_fails_instead_of_staying_building(
    private_root,
):
    extract = queued_extract()
    # A file where the building directory belongs: mkdir raises an OSError.
    (private_root / "extracts").mkdir(parents=True)
    (private_root / "extracts" / ".building").write_bytes(b"not a directory")

    result = extract_build(extract_id=extract.pk)

    assert result.status == ExtractStatus.FAILED
    assert "The build failed (FileExistsError)" in result.status_reason


@pytest.mark.django_db(transaction=True)
def test_each_claim_counts_an_attempt_and_housekeeping_gives_up_after_the_last(
    monkeypatch, private_root
):
    queued = []
    monkeypatch.setattr(build_extract, "delay", queued.append)
    extract = queued_extract()
    stale = timezone.now() - BUILD_STUCK_AFTER - timedelta(minutes=1)

    for attempt in range(1, MAX_BUILD_ATTEMPTS + 1):
        # A worker claims it and dies.
        assert _claim(extract.pk).build_attempts == attempt
        Extract.objects.filter(pk=extract.pk).update(build_started_at=stale)
        report = extracts_housekeeping()
        extract.refresh_from_db()
        if attempt < MAX_BUILD_ATTEMPTS:
            assert (report.requeued, report.failed, extract.status) == (1, 0, ExtractStatus.QUEUED)
        else:
            assert (report.requeued, report.failed, extract.status) == (0, 1, ExtractStatus.FAILED)

    # Queued on commit: by the request, then by each requeue but the last (given up).
    assert queued == [extract.pk] * MAX_BUILD_ATTEMPTS
    assert f"did not finish in {MAX_BUILD_ATTEMPTS} attempts" in extract.status_reason


def test_housekeeping_deletes_old_files_no_ready_extract_points_to(private_root):
    ready = queued_extract()
    extract_build(extract_id=ready.pk)
    ready.refresh_from_db()
    directory = private_root / "extracts"
    orphan, fresh = directory / "orphan.ndjson.gz", directory / "fresh.ndjson.gz"
    orphan.write_bytes(b"left by a killed build")
    fresh.write_bytes(b"being moved into place")
    old = time.time() - 2 * 3600
    for path in (orphan, Path(ready.file.path)):
        os.utime(path, (old, old))

    report = extracts_housekeeping()

    assert report.orphan_files_removed == 1
    assert not orphan.exists()
    assert fresh.exists()  # too young to be nobody's
    assert os.path.exists(ready.file.path)  # a READY extract's file is kept, however old


@pytest.mark.django_db(transaction=True)
def test_a_build_superseded_by_a_later_claim_leaves_the_result_to_that_claim(
    monkeypatch, private_root
):
    """Run A claims and stalls; housekeeping queues the extract again and run B claims it.
    A then fails: its failure belongs to no one any more and must not touch B's build. B
    finishes: one file, one READY."""
    monkeypatch.setattr(build_extract, "delay", lambda extract_id: None)
    extract = queued_extract(events=1, pieces=4)
    b_claimed, a_done = threading.Event(), threading.Event()
    results = {}

    def run_b() -> None:
        try:
            later = timezone.now() + BUILD_STUCK_AFTER + timedelta(minutes=1)
            extracts_housekeeping(now=later)  # A's claim looks dead: QUEUED again

            def hold(rows: int) -> None:
                b_claimed.set()
                a_done.wait(10)

            results["B"] = extract_build(extract_id=extract.pk, chunk_rows=2, on_progress=hold)
        finally:
            connection.close()

    b = threading.Thread(target=run_b)

    def a_progress(rows: int) -> None:
        b.start()
        assert b_claimed.wait(10)
        raise RuntimeError("A's disk failed")

    results["A"] = extract_build(extract_id=extract.pk, chunk_rows=2, on_progress=a_progress)
    a_done.set()
    b.join(20)

    extract.refresh_from_db()
    assert results["A"] is None  # discarded: not A's extract any more
    assert results["B"].status == extract.status == ExtractStatus.READY
    assert extract.build_attempts == 2 and extract.row_count == 4
    assert [p.name for p in files_under(private_root)] == [f"{extract.public_id}.ndjson.gz"]
    assert AuditEntry.objects.filter(action="extract_ready").count() == 1
    assert not AuditEntry.objects.filter(action="extract_build_fail").exists()


@pytest.mark.django_db(transaction=True)
def test_a_mid_revoked_from_another_connection_between_chunks_fails_the_build(private_root):
    """The revocation is a staff action on its own connection, committed while the build's
    transaction (its server-side cursor) is open: the next access check sees it."""
    extract = queued_extract(events=1, pieces=6)
    link = MidLink.objects.get(provider=extract.provider, mid=MID)
    staff = StaffFactory()
    go, revoked = threading.Event(), threading.Event()

    def revoke() -> None:
        try:
            assert go.wait(10)
            mid_link_revoke(link=link, actor=staff, reason="Letter withdrawn")
            revoked.set()
        finally:
            connection.close()

    other = threading.Thread(target=revoke)
    other.start()
    progress = []

    def after_chunk(rows: int) -> None:
        progress.append(rows)
        if len(progress) == 1:
            go.set()
            assert revoked.wait(10)

    result = extract_build(extract_id=extract.pk, chunk_rows=2, on_progress=after_chunk)
    other.join(10)

    assert progress == [2]
    assert result.status == ExtractStatus.FAILED
    assert f"access to MID {MID} was withdrawn" in result.status_reason
    extract.refresh_from_db()
    assert not extract.file and extract.row_count is None
    assert files_under(private_root) == []

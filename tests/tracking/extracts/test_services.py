"""The extract services: a request checked field by field and MID by MID (refused whole, nothing
saved), approval by provider type, the build (READY with its facts, or FAILED with no file when
access is withdrawn mid-build or anything goes wrong), idempotence, housekeeping, downloads."""

import os
import time
from datetime import timedelta

import pytest
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
from tracking.extracts.requests import ExtractRefused
from tracking.extracts.services import (
    BUILD_STUCK_AFTER,
    extract_approve,
    extract_build,
    extract_reject,
    extract_request,
    extracts_housekeeping,
    record_download,
)
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


def test_a_service_providers_extract_waits_for_approval(django_capture_on_commit_callbacks):
    provider = allowed_provider()  # SERVICE_PROVIDER

    with django_capture_on_commit_callbacks() as queued:
        extract = request(provider)

    assert extract.status == ExtractStatus.PENDING_APPROVAL
    entry = AuditEntry.objects.get(action="extract_request")
    assert entry.extra["mids"] == [MID] and entry.extra["format"] == "NDJSON"
    assert entry.extra["start_date"] == recent().isoformat()
    assert entry.actor == extract.requested_by
    assert not [c for c in queued if "build_extract" in repr(getattr(c, "__code__", c))]
    assert len(queued) == 0  # no build


def test_other_types_are_queued_and_built_on_commit(settings, django_capture_on_commit_callbacks):
    settings.EXTRACT_APPROVAL_REQUIRED_TYPES = []
    provider = allowed_provider()

    with django_capture_on_commit_callbacks() as queued:
        extract = request(provider)

    assert extract.status == ExtractStatus.QUEUED
    assert len(queued) == 1


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


def test_staff_approve_and_the_build_is_queued(django_capture_on_commit_callbacks):
    extract = queued_extract(allowed_provider())
    staff = StaffFactory()

    with django_capture_on_commit_callbacks() as queued:
        extract_approve(extract=extract, actor=staff, reason="Checked")

    extract.refresh_from_db()
    assert extract.status == ExtractStatus.QUEUED and extract.decided_by == staff
    assert len(queued) >= 1  # the build (and the access cache bump)
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

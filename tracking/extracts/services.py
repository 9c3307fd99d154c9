"""Writes of scan event extracts: request, staff approval or rejection, the build, expiry and
each download. Every status change goes through core.transitions.transition() with
EXTRACT_TRANSITIONS, so it is locked, checked and audited.

PENDING_APPROVAL -> QUEUED -> BUILDING -> READY -> EXPIRED
                 \\-> REJECTED        \\-> FAILED (access withdrawn, or any error)
BUILDING -> QUEUED when a worker died mid-build (housekeeping), to start again.
"""

import logging
import os
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.files import File
from django.db import transaction
from django.utils import timezone

from accounts.models import Provider, User
from agreements.decision import Reason, decide_many
from core.audit import audit_record
from core.errors import DomainError, InvalidTransition
from core.storage import private_storage
from core.transitions import transition
from tracking.constants import EXTRACT_TRANSITIONS, ExtractFormat, ExtractSource, ExtractStatus
from tracking.extracts.build import AccessRevoked, write_extract
from tracking.extracts.requests import ExtractRefused, clean_request
from tracking.models import ApiApp, Extract, ExtractDownload

logger = logging.getLogger(__name__)

# The build task's hard time limit (tasks.py); a BUILDING extract older than this plus a
# margin has lost its worker, so housekeeping queues it again.
BUILD_TIME_LIMIT_SECONDS = 3600
BUILD_STUCK_AFTER = timedelta(seconds=BUILD_TIME_LIMIT_SECONDS + 300)
# Partial files live here while they are written; nothing in it is ever served.
BUILDING_DIR = "extracts/.building"
EXTENSIONS = {ExtractFormat.NDJSON: "ndjson.gz", ExtractFormat.CSV: "csv.gz"}


def _provider_id(extract: Extract) -> int:
    return extract.provider_id


def _enqueue_build(extract: Extract) -> None:
    from tracking.extracts.tasks import build_extract  # the task module imports this one

    extract_id = extract.pk
    transaction.on_commit(lambda: build_extract.delay(extract_id), robust=True)


def _extra(extract: Extract, **more) -> dict:
    return {
        "public_id": str(extract.public_id),
        "mids": list(extract.mids),
        "start_date": extract.start_date.isoformat(),
        "end_date": extract.end_date.isoformat(),
        "format": extract.file_format,
        **more,
    }


def denied_mids(*, provider: Provider, mids: Iterable[str]) -> dict[str, Reason]:
    """The MIDs the access decision denies now, each with its first reason (fails closed: a
    decision without a reason still counts as denied)."""
    decisions = decide_many(provider=provider, mids=list(mids))
    return {
        mid: (decision.reasons[0] if decision.reasons else Reason("DENIED", "Access denied."))
        for mid, decision in decisions.items()
        if not decision.allowed
    }


def extract_request(
    *,
    provider: Provider,
    actor: User | None,
    mids: Iterable[str],
    start_date: date,
    end_date: date,
    file_format: str,
    source: str,
    app: ApiApp | None = None,
) -> Extract:
    """Record a request, or raise DomainError (a bad field) or ExtractRefused (denied MIDs)
    and save nothing. Waits for staff when the provider's type needs approval
    (EXTRACT_APPROVAL_REQUIRED_TYPES); otherwise queued, and the build starts on commit."""
    if source not in ExtractSource.values:
        raise DomainError(f"Unknown source {source!r}.")
    query = clean_request(
        mids=mids, start_date=start_date, end_date=end_date, file_format=file_format
    )
    denied = denied_mids(provider=provider, mids=query.mids)
    if denied:
        raise ExtractRefused(denied)
    needs_approval = provider.provider_type in settings.EXTRACT_APPROVAL_REQUIRED_TYPES
    status = ExtractStatus.PENDING_APPROVAL if needs_approval else ExtractStatus.QUEUED
    with transaction.atomic():
        extract = Extract.objects.create(
            provider=provider,
            requested_by=actor if actor is not None and actor.is_authenticated else None,
            app=app,
            source=source,
            mids=list(query.mids),
            start_date=query.start_date,
            end_date=query.end_date,
            file_format=query.file_format,
            status=status,
        )
        audit_record(
            subject=extract,
            action="extract_request",
            actor=actor,
            provider_id=provider.pk,
            to_status=status,
            extra=_extract_request_extra(extract),
        )
        if not needs_approval:
            _enqueue_build(extract)
    return extract


def _extract_request_extra(extract: Extract) -> dict:
    return _extra(extract, source=extract.source, app_id=extract.app_id)


def extract_approve(*, extract: Extract, actor: User, reason: str = "") -> Extract:
    """Staff let a waiting extract be built (the build starts on commit)."""
    with transaction.atomic():
        transition(
            instance=extract,
            to_status=ExtractStatus.QUEUED,
            table=EXTRACT_TRANSITIONS,
            action="extract_approve",
            actor=actor,
            reason=reason,
            provider_id_of=_provider_id,
            extra=_extra(extract),
            only_from=frozenset({ExtractStatus.PENDING_APPROVAL}),
        )
        _enqueue_build(extract)
    return extract


def extract_reject(*, extract: Extract, actor: User, reason: str) -> Extract:
    """Staff refuse a waiting extract; the reason is required and shown to the provider."""
    return transition(
        instance=extract,
        to_status=ExtractStatus.REJECTED,
        table=EXTRACT_TRANSITIONS,
        action="extract_reject",
        actor=actor,
        reason=reason,
        reason_required=True,
        changes={"status_reason": reason.strip()[:500]},
        provider_id_of=_provider_id,
        extra=_extra(extract),
    )


# --- The build -----------------------------------------------------------------------------


def _claim(extract_id: int) -> Extract | None:
    """QUEUED -> BUILDING under the row lock; None when it is not QUEUED (another run of the
    task has it, or it is finished): a second delivery of the task does nothing."""
    with transaction.atomic():
        extract = (
            Extract.objects.select_for_update(no_key=True)
            .select_related("provider")
            .filter(pk=extract_id)
            .first()
        )
        if extract is None or extract.status != ExtractStatus.QUEUED:
            return None
        return transition(
            instance=extract,
            to_status=ExtractStatus.BUILDING,
            table=EXTRACT_TRANSITIONS,
            action="extract_build_start",
            actor=None,
            changes={"build_started_at": timezone.now(), "status_reason": ""},
            provider_id_of=_provider_id,
            decision_fields=False,
        )


def _access_check(extract: Extract):
    provider, mids = extract.provider, list(extract.mids)

    def check() -> None:
        denied = denied_mids(provider=provider, mids=mids)
        if denied:
            mid, reason = next(iter(sorted(denied.items())))
            raise AccessRevoked(mid, reason.code)

    return check


def _fail(extract: Extract, reason: str) -> Extract:
    try:
        return transition(
            instance=extract,
            to_status=ExtractStatus.FAILED,
            table=EXTRACT_TRANSITIONS,
            action="extract_build_fail",
            actor=None,
            reason=reason,
            changes={"status_reason": reason[:500]},
            provider_id_of=_provider_id,
            extra=_extra(extract),
            decision_fields=False,
        )
    except InvalidTransition:
        # Housekeeping took it back (QUEUED) meanwhile: the next build owns it now.
        logger.warning("extract %s left BUILDING before its build failed", extract.pk)
        return extract


def _building_path() -> Path:
    directory = Path(private_storage().path(BUILDING_DIR))
    directory.mkdir(parents=True, exist_ok=True)
    return directory


class _BuiltFile(File):
    """The finished temporary file: FileSystemStorage moves it into place (no copy)."""

    def temporary_file_path(self) -> str:
        return self.file.name


def extract_build(
    *,
    extract_id: int,
    chunk_rows: int | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> Extract | None:
    """Build a QUEUED extract into private storage and make it READY, or FAILED with the
    reason (access withdrawn mid-build, or any error) and no file. Idempotent: None when the
    extract is not QUEUED. on_progress(rows_so_far) runs after each chunk."""
    extract = _claim(extract_id)
    if extract is None:
        return None
    check = _access_check(extract)
    handle = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed or removed below
        dir=_building_path(), prefix=f"{extract.public_id}-", suffix=".partial", delete=False
    )
    stored_name = ""
    try:
        with handle:
            result = write_extract(
                mids=extract.mids,
                start=extract.start_date,
                end=extract.end_date,
                file_format=extract.file_format,
                out=handle,
                chunk_rows=chunk_rows,
                check_access=check,
                on_progress=on_progress,
            )
            handle.flush()
            os.fsync(handle.fileno())
        # One last look after the final chunk: a file is only kept if access still holds.
        check()
        name = f"extracts/{extract.public_id}.{EXTENSIONS[extract.file_format]}"
        with open(handle.name, "rb") as finished:
            stored_name = private_storage().save(name, _BuiltFile(finished, name=name))
        now = timezone.now()
        return transition(
            instance=extract,
            to_status=ExtractStatus.READY,
            table=EXTRACT_TRANSITIONS,
            action="extract_ready",
            actor=None,
            changes={
                "file": stored_name,
                "row_count": result.rows,
                "byte_count": result.byte_count,
                "sha256": result.sha256,
                "built_at": now,
                "expires_at": now + timedelta(hours=settings.EXTRACT_LINK_TTL_HOURS),
            },
            provider_id_of=_provider_id,
            extra=_extra(extract, rows=result.rows, bytes=result.byte_count, sha256=result.sha256),
            decision_fields=False,
        )
    except AccessRevoked as exc:
        _discard(handle.name, stored_name)
        return _fail(
            extract,
            f"Stopped: access to MID {exc.mid} was withdrawn during the build ({exc.reason}). "
            "No file was kept.",
        )
    except SoftTimeLimitExceeded:
        _discard(handle.name, stored_name)
        return _fail(
            extract,
            f"Stopped: the build took longer than {BUILD_TIME_LIMIT_SECONDS // 60} minutes. "
            "No file was kept; request a shorter range or fewer MIDs.",
        )
    except InvalidTransition:
        # Housekeeping queued it again while this build ran long: the next build owns it.
        _discard(handle.name, stored_name)
        logger.warning("extract %s left BUILDING during its build; file discarded", extract.pk)
        return None
    except Exception as exc:
        _discard(handle.name, stored_name)
        logger.exception("extract %s build failed", extract.pk)
        return _fail(
            extract,
            f"The build failed ({type(exc).__name__}). No file was kept; request the extract "
            "again, and tell the portal staff if it fails again.",
        )


def _discard(temporary: str, stored_name: str) -> None:
    try:
        os.unlink(temporary)
    except FileNotFoundError:
        pass
    if stored_name:
        private_storage().delete(stored_name)


# --- Housekeeping and downloads ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Housekeeping:
    expired: int
    requeued: int
    partial_files_removed: int


def _delete_on_commit(name: str) -> None:
    if name:
        transaction.on_commit(lambda: private_storage().delete(name), robust=True)


def extract_expire(*, extract: Extract) -> Extract:
    """READY -> EXPIRED and the file deleted (after the commit)."""
    with transaction.atomic():
        name = extract.file.name
        transition(
            instance=extract,
            to_status=ExtractStatus.EXPIRED,
            table=EXTRACT_TRANSITIONS,
            action="extract_expire",
            actor=None,
            changes={"file": ""},
            provider_id_of=_provider_id,
            decision_fields=False,
        )
        _delete_on_commit(name)
    return extract


def extracts_housekeeping(*, now: datetime | None = None) -> Housekeeping:
    """Expire READY extracts past expires_at; queue again builds whose worker died; remove
    partial files no build is writing any more."""
    now = now or timezone.now()
    expired = requeued = 0
    for extract in Extract.objects.filter(status=ExtractStatus.READY, expires_at__lte=now):
        try:
            extract_expire(extract=extract)
            expired += 1
        except InvalidTransition:
            pass  # expired by a concurrent run
    stale = now - BUILD_STUCK_AFTER
    for extract in Extract.objects.filter(
        status=ExtractStatus.BUILDING, build_started_at__lt=stale
    ):
        try:
            with transaction.atomic():
                transition(
                    instance=extract,
                    to_status=ExtractStatus.QUEUED,
                    table=EXTRACT_TRANSITIONS,
                    action="extract_requeue",
                    actor=None,
                    reason="The build did not finish (its worker stopped); building again.",
                    provider_id_of=_provider_id,
                    decision_fields=False,
                )
                _enqueue_build(extract)
            requeued += 1
        except InvalidTransition:
            pass
    removed = 0
    directory = _building_path()
    for partial in directory.glob("*.partial"):
        try:
            if partial.stat().st_mtime < stale.timestamp():
                partial.unlink()
                removed += 1
        except FileNotFoundError:
            pass
    return Housekeeping(expired=expired, requeued=requeued, partial_files_removed=removed)


def record_download(
    *, extract: Extract, ip: str | None, user: User | None = None, app: ApiApp | None = None
) -> ExtractDownload:
    """One download of the file, by a member (user) or an API app, audited: who, from where,
    which bytes."""
    if (user is None) == (app is None):
        raise ValueError("A download is by a user or by an app.")
    with transaction.atomic():
        download = ExtractDownload.objects.create(
            extract=extract, user=user, app=app, ip_address=ip
        )
        audit_record(
            subject=extract,
            action="extract_download",
            actor=user,
            provider_id=extract.provider_id,
            extra=_extra(
                extract,
                ip=ip,
                app_id=app.pk if app else None,
                sha256=extract.sha256,
                rows=extract.row_count,
            ),
        )
    return download

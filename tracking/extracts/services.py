"""Writes of scan event extracts: request, staff approval or rejection, the build, expiry and
each download. Every status change goes through core.transitions.transition() with
EXTRACT_TRANSITIONS, so it is locked, checked and audited.

PENDING_APPROVAL -> QUEUED -> BUILDING -> READY -> EXPIRED
                 \\-> REJECTED        \\-> FAILED (access withdrawn, or any error)
BUILDING -> QUEUED when a worker died mid-build (housekeeping), to start again; FAILED
instead once MAX_BUILD_ATTEMPTS claims did not finish. A build's own result counts only while
the extract is still under its claim (_finish).
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
from agreements.decision import Decision, Reason, decide_many
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
FILES_DIR = "extracts"
# A build is tried this many times (claims); a build still unfinished after the last one is
# FAILED by housekeeping instead of being queued again forever.
MAX_BUILD_ATTEMPTS = 3
# Open extracts (waiting, queued or building) a provider may have at once; a setting
# (EXTRACT_MAX_OPEN_PER_PROVIDER) may change it.
MAX_OPEN_EXTRACTS = 5
OPEN_STATUSES = (ExtractStatus.PENDING_APPROVAL, ExtractStatus.QUEUED, ExtractStatus.BUILDING)
# A file in extracts/ that no READY extract points to and older than this is an orphan (a
# build killed between saving its file and its READY transition): housekeeping deletes it.
ORPHAN_FILE_AGE = timedelta(hours=1)


def max_open_extracts() -> int:
    return int(getattr(settings, "EXTRACT_MAX_OPEN_PER_PROVIDER", MAX_OPEN_EXTRACTS))


def approval_required_types() -> frozenset[str]:
    """EXTRACT_APPROVAL_REQUIRED_TYPES as provider types: stripped and upper-cased, so
    " service_provider" still means SERVICE_PROVIDER (a value that is no provider type at all
    is reported by the system check tracking.extracts.checks)."""
    values = settings.EXTRACT_APPROVAL_REQUIRED_TYPES
    if isinstance(values, str):
        values = values.split(",")
    return frozenset(str(value).strip().upper() for value in values if str(value).strip())


def needs_approval(provider: Provider) -> bool:
    return provider.provider_type in approval_required_types()


class ExtractLimitReached(DomainError):
    """The provider already has the most open extracts it may have; nothing was saved."""


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
    return denied_from(decide_many(provider=provider, mids=list(mids)))


def denied_from(decisions: dict[str, Decision]) -> dict[str, Reason]:
    """The denied MIDs of decide_many's answer, each with its first reason."""
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
    waits = needs_approval(provider)
    status = ExtractStatus.PENDING_APPROVAL if waits else ExtractStatus.QUEUED
    with transaction.atomic():
        # The provider's row lock makes the count and the insert one step: two requests at
        # once cannot both pass a cap that has room for one.
        Provider.objects.select_for_update(no_key=True).filter(pk=provider.pk).first()
        cap = max_open_extracts()
        open_count = Extract.objects.filter(provider=provider, status__in=OPEN_STATUSES).count()
        if open_count >= cap:
            raise ExtractLimitReached(
                f"Your organisation already has {open_count} extracts waiting or being built, "
                f"the most it may have at once ({cap}). Request this one when one of them is "
                "ready, failed or rejected."
            )
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
        if not waits:
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
            changes={
                "build_started_at": timezone.now(),
                "build_attempts": extract.build_attempts + 1,
                "status_reason": "",
            },
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


class _Superseded(Exception):
    """The extract is no longer this run's: housekeeping queued it again (and maybe another
    run claimed it) while this build ran. Its result is thrown away."""


def _finish(extract: Extract, *, claimed_at: datetime | None, to_status: str, **kwargs) -> Extract:
    """The build's last transition, only if the extract is still BUILDING under this run's
    claim (build_started_at as the claim set it), checked under the row lock."""
    with transaction.atomic():
        current = (
            Extract.objects.select_for_update(no_key=True)
            .filter(pk=extract.pk)
            .values_list("status", "build_started_at")
            .first()
        )
        if current != (ExtractStatus.BUILDING, claimed_at):
            raise _Superseded
        return transition(
            instance=extract,
            to_status=to_status,
            table=EXTRACT_TRANSITIONS,
            actor=None,
            provider_id_of=_provider_id,
            decision_fields=False,
            only_from=frozenset({ExtractStatus.BUILDING}),
            **kwargs,
        )


def _fail(extract: Extract, reason: str, *, claimed_at: datetime | None) -> Extract | None:
    try:
        return _finish(
            extract,
            claimed_at=claimed_at,
            to_status=ExtractStatus.FAILED,
            action="extract_build_fail",
            reason=reason,
            changes={"status_reason": reason[:500]},
            extra=_extra(extract),
        )
    except (_Superseded, InvalidTransition):
        # Housekeeping took it back (QUEUED) meanwhile: the next build owns it now.
        logger.warning("extract %s left this build's claim before it failed", extract.pk)
        return None


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
    claimed_at = extract.build_started_at
    check = _access_check(extract)
    handle = None
    stored_name = ""

    def discard() -> None:
        _discard(handle.name if handle is not None else "", stored_name)

    try:
        # Inside the try: a full or unwritable disk fails the build, never leaves it BUILDING.
        handle = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed or removed below
            dir=_building_path(), prefix=f"{extract.public_id}-", suffix=".partial", delete=False
        )
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
        name = f"{FILES_DIR}/{extract.public_id}.{EXTENSIONS[extract.file_format]}"
        with open(handle.name, "rb") as finished:
            stored_name = private_storage().save(name, _BuiltFile(finished, name=name))
        now = timezone.now()
        return _finish(
            extract,
            claimed_at=claimed_at,
            to_status=ExtractStatus.READY,
            action="extract_ready",
            changes={
                "file": stored_name,
                "row_count": result.rows,
                "byte_count": result.byte_count,
                "sha256": result.sha256,
                "built_at": now,
                "expires_at": now + timedelta(hours=settings.EXTRACT_LINK_TTL_HOURS),
            },
            extra=_extra(extract, rows=result.rows, bytes=result.byte_count, sha256=result.sha256),
        )
    except AccessRevoked as exc:
        discard()
        return _fail(
            extract,
            f"Stopped: access to MID {exc.mid} was withdrawn during the build ({exc.reason}). "
            "No file was kept.",
            claimed_at=claimed_at,
        )
    except SoftTimeLimitExceeded:
        discard()
        return _fail(
            extract,
            f"Stopped: the build took longer than {BUILD_TIME_LIMIT_SECONDS // 60} minutes. "
            "No file was kept; request a shorter range or fewer MIDs.",
            claimed_at=claimed_at,
        )
    except (_Superseded, InvalidTransition):
        # Housekeeping queued it again while this build ran long: the next build owns it.
        discard()
        logger.warning(
            "extract %s left this build's claim during the build; file discarded", extract.pk
        )
        return None
    except Exception as exc:
        discard()
        logger.exception("extract %s build failed", extract.pk)
        return _fail(
            extract,
            f"The build failed ({type(exc).__name__}). No file was kept; request the extract "
            "again, and tell the portal staff if it fails again.",
            claimed_at=claimed_at,
        )


def _discard(temporary: str, stored_name: str) -> None:
    if temporary:
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
    failed: int = 0  # stuck builds out of attempts
    orphan_files_removed: int = 0


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
    failed = 0
    for extract in Extract.objects.filter(
        status=ExtractStatus.BUILDING, build_started_at__lt=stale
    ):
        if extract.build_attempts >= MAX_BUILD_ATTEMPTS:
            if _give_up(extract):
                failed += 1
        elif _requeue(extract):
            requeued += 1
    removed = 0
    try:
        directory = _building_path()
        for partial in directory.glob("*.partial"):
            try:
                if partial.stat().st_mtime < stale.timestamp():
                    partial.unlink()
                    removed += 1
            except FileNotFoundError:
                pass
    except OSError:
        logger.exception("extract housekeeping could not clean %s", BUILDING_DIR)
    return Housekeeping(
        expired=expired,
        requeued=requeued,
        partial_files_removed=removed,
        failed=failed,
        orphan_files_removed=_remove_orphan_files(now),
    )


def _requeue(extract: Extract) -> bool:
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
                only_from=frozenset({ExtractStatus.BUILDING}),
            )
            _enqueue_build(extract)
    except InvalidTransition:
        return False
    return True


def _give_up(extract: Extract) -> bool:
    reason = (
        f"The build did not finish in {extract.build_attempts} attempts (its worker stopped "
        "each time). No file was kept; request a shorter range or fewer MIDs, and tell the "
        "portal staff if it happens again."
    )
    try:
        transition(
            instance=extract,
            to_status=ExtractStatus.FAILED,
            table=EXTRACT_TRANSITIONS,
            action="extract_build_fail",
            actor=None,
            reason=reason,
            changes={"status_reason": reason[:500]},
            provider_id_of=_provider_id,
            extra=_extra(extract, attempts=extract.build_attempts),
            decision_fields=False,
            only_from=frozenset({ExtractStatus.BUILDING}),
        )
    except InvalidTransition:
        return False
    return True


def _remove_orphan_files(now: datetime) -> int:
    """Delete files in extracts/ that no READY extract points to and that are older than
    ORPHAN_FILE_AGE (a build killed between saving its file and its READY transition; an
    expiry whose delete failed). A build saves its file and goes READY within moments, so an
    hour-old unclaimed file is nobody's."""
    storage = private_storage()
    try:
        _, names = storage.listdir(FILES_DIR)
    except FileNotFoundError:
        return 0
    kept = set(
        Extract.objects.filter(status=ExtractStatus.READY)
        .exclude(file="")
        .values_list("file", flat=True)
    )
    cutoff = now - ORPHAN_FILE_AGE
    removed = 0
    for base in names:
        name = f"{FILES_DIR}/{base}"
        if name in kept:
            continue
        try:
            if storage.get_modified_time(name) < cutoff:
                storage.delete(name)
                removed += 1
        except FileNotFoundError:
            pass
    return removed


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

"""Celery tasks of scan event extracts: thin, idempotent, ids only."""

from celery import shared_task

from tracking.extracts.services import BUILD_TIME_LIMIT_SECONDS


# The global limits (CELERY_TASK_SOFT_TIME_LIMIT, 60 s) suit API-sized work; an extract of
# millions of events takes minutes. The soft limit leaves the build time to mark the extract
# FAILED and delete its partial file before the hard limit kills the worker process.
# acks_late: a build whose worker dies is delivered again; the second run finds the extract
# BUILDING (not QUEUED) and does nothing, and housekeeping queues it again once it is stale.
@shared_task(
    acks_late=True,
    ignore_result=True,
    soft_time_limit=BUILD_TIME_LIMIT_SECONDS - 120,
    time_limit=BUILD_TIME_LIMIT_SECONDS,
)
def build_extract(extract_id: int) -> str:
    from tracking.extracts.services import extract_build

    extract = extract_build(extract_id=extract_id)
    return extract.status if extract is not None else "skipped"


@shared_task(acks_late=True, ignore_result=True)
def housekeeping() -> dict[str, int]:
    """Periodic (beat): expire READY extracts past their time and delete their files, queue
    again builds whose worker died (or fail them after their last attempt), remove abandoned
    partial files and files no READY extract points to."""
    from tracking.extracts.services import extracts_housekeeping

    report = extracts_housekeeping()
    return {
        "expired": report.expired,
        "requeued": report.requeued,
        "partial_files_removed": report.partial_files_removed,
        "failed": report.failed,
        "orphan_files_removed": report.orphan_files_removed,
    }

"""Celery tasks of the tracking API: thin, idempotent, ids only."""

from celery import shared_task

from tracking.services import disclosures


@shared_task(acks_late=True, ignore_result=True)
def drain_disclosures() -> dict[str, int]:
    """Every few seconds (beat): the buffered disclosure records into PostgreSQL."""
    report = disclosures.drain()
    return {"written": report.written, "repeated": report.repeated, "batches": report.batches}

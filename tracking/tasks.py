"""Celery tasks of the tracking API: thin, idempotent, ids only."""

from celery import shared_task

from tracking.services import disclosures


@shared_task(acks_late=True, ignore_result=True)
def drain_disclosures() -> dict[str, int]:
    """Every few seconds (beat): the buffered disclosure records into PostgreSQL."""
    report = disclosures.drain()
    return {"written": report.written, "repeated": report.repeated, "batches": report.batches}


# Extract and webhook tasks live beside their code; importing registers them with Celery.
from tracking.extracts import tasks as _extract_tasks  # noqa: E402,F401
from tracking.webhooks import tasks as _webhook_tasks  # noqa: E402,F401

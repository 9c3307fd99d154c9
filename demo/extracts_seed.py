"""The extracts' demo: one built extract per demo provider, over the first two weeks of the
generated tracking data, made with the real services (checked, audited). A service provider's
extract is approved by the demo reviewer first, as staff would. The build runs here, at once,
so the demo has a file to download without waiting for a worker; the task queued on commit
then finds it built and does nothing. Idempotent: a provider that already has an extract of
those MIDs and days is left alone."""

from datetime import date, timedelta
from typing import Any

from accounts.models import Provider, User
from core.errors import DomainError
from demo.tracking_seed import TRACKING_START
from tracking.constants import ExtractFormat, ExtractSource, ExtractStatus
from tracking.extracts.services import extract_approve, extract_build, extract_request
from tracking.models import Extract

DEMO_DAYS = 14


def seed_extracts(
    *,
    provider: Provider,
    actor: User,
    mids: list[str],
    reviewer: User | None = None,
    start: date = TRACKING_START,
    days: int = DEMO_DAYS,
    file_format: str = ExtractFormat.NDJSON,
) -> dict[str, Any]:
    """Returns the entry for seed_demo's report: the extract's id, status, rows and SHA-256
    (or why there is none)."""
    end = start + timedelta(days=days - 1)
    extract = Extract.objects.filter(
        provider=provider, mids=sorted(mids), start_date=start, end_date=end
    ).first()
    created = extract is None
    if created:
        try:
            extract = extract_request(
                provider=provider,
                actor=actor,
                mids=mids,
                start_date=start,
                end_date=end,
                file_format=file_format,
                source=ExtractSource.PORTAL,
            )
        except DomainError as exc:
            return {"provider": provider.legal_name, "created": False, "refused": exc.message}
        if extract.status == ExtractStatus.PENDING_APPROVAL and reviewer is not None:
            extract_approve(extract=extract, actor=reviewer, reason="Demo data")
        if extract.status == ExtractStatus.QUEUED:
            extract_build(extract_id=extract.pk)
        extract.refresh_from_db()
    return {
        "provider": provider.legal_name,
        "created": created,
        "extract_id": str(extract.public_id),
        "status": extract.status,
        "mids": list(extract.mids),
        "range": f"{extract.start_date:%Y-%m-%d} to {extract.end_date:%Y-%m-%d}",
        "rows": extract.row_count,
        "sha256": extract.sha256,
    }

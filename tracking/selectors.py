"""Reads of the tracking app for the portal: a provider's API apps and its usage over the last
days (from DailyUsage, which the disclosure drain keeps up to date). The hourly quota is
tracking.services.quotas.effective_quota_per_hour."""

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from django.db.models import Q, QuerySet, Sum

from agreements.constants import ReasonCode
from tracking.constants import ApiAppStatus
from tracking.models import ApiApp, DailyUsage

USAGE_DAYS = 30


def api_apps_for_provider(*, provider_id: int) -> QuerySet[ApiApp]:
    """Every app of the provider, active ones first; the OAuth client comes along (client_id)."""
    return (
        ApiApp.objects.filter(provider_id=provider_id)
        .select_related("application")
        .order_by("status", "name", "pk")  # "ACTIVE" sorts before "REVOKED"
    )


def active_api_apps_for_provider(*, provider_id: int) -> QuerySet[ApiApp]:
    return api_apps_for_provider(provider_id=provider_id).filter(status=ApiAppStatus.ACTIVE)


@dataclass(frozen=True)
class DayUsage:
    day: date
    allowed: int
    denied: int

    @property
    def total(self) -> int:
        return self.allowed + self.denied


@dataclass(frozen=True)
class ReasonUsage:
    code: str
    label: str
    calls: int


def _window(days: int, today: date | None) -> tuple[date, date]:
    # DailyUsage days are UTC days, so "today" is the UTC date whatever the server's zone.
    last = today or datetime.now(UTC).date()
    return last - timedelta(days=days - 1), last


def usage_by_day(
    *, provider_id: int, days: int = USAGE_DAYS, today: date | None = None
) -> list[DayUsage]:
    """Allowed and denied calls of all the provider's apps for each of the last `days` days
    (today included), oldest first; a day without calls is a row of zeros. One query."""
    first, last = _window(days, today)
    rows = (
        DailyUsage.objects.filter(provider_id=provider_id, day__gte=first, day__lte=last)
        .values("day")
        .annotate(
            allowed_calls=Sum("calls", filter=Q(allowed=True), default=0),
            denied_calls=Sum("calls", filter=Q(allowed=False), default=0),
        )
        .order_by()
    )
    by_day = {row["day"]: row for row in rows}
    result = []
    for offset in range(days):
        day = first + timedelta(days=offset)
        row = by_day.get(day, {})
        result.append(
            DayUsage(
                day=day,
                allowed=row.get("allowed_calls", 0),
                denied=row.get("denied_calls", 0),
            )
        )
    return result


def reason_label(code: str) -> str:
    """The decision's plain-language text for a reason code; an unknown code reads as itself."""
    return ReasonCode(code).label if code in ReasonCode.values else code


def top_denial_reasons(
    *, provider_id: int, days: int = USAGE_DAYS, limit: int = 5, today: date | None = None
) -> list[ReasonUsage]:
    """The reasons the provider's calls were denied most often over the last `days` days, most
    frequent first (ties by code, so the order is stable). One query."""
    first, last = _window(days, today)
    rows = (
        DailyUsage.objects.filter(
            provider_id=provider_id, allowed=False, day__gte=first, day__lte=last
        )
        .values("reason_code")
        .annotate(total=Sum("calls"))
        .filter(total__gt=0)
        .order_by("-total", "reason_code")[:limit]
    )
    return [
        ReasonUsage(
            code=row["reason_code"], label=reason_label(row["reason_code"]), calls=row["total"]
        )
        for row in rows
    ]

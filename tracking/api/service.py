"""One API call, whatever its shape: count it against the quota, look the numbers up, record
the disclosures. Used by the API views and by the portal's "try it" form alike."""

import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace

from redis import RedisError

from tracking.api import disclosures, quotas
from tracking.api.errors import ApiError, Problem
from tracking.api.lookup import Shape, TrackOutcome, TrackRequest, disclosure_records, track
from tracking.api.quotas import QuotaResult
from tracking.credentials_cache import ApiCaller

RETRY_AFTER_UNAVAILABLE = 30
QUOTA_MESSAGE = (
    "Exceeded quota limit. Ask the Tracking Access Portal staff for a higher quota, or retry "
    "after the time in Retry-After."
)


@dataclass(frozen=True, slots=True)
class Served:
    outcomes: list[TrackOutcome]
    quota: QuotaResult


def new_request_id() -> str:
    return uuid.uuid4().hex


def unavailable() -> ApiError:
    """Without Redis nothing can be metered or recorded, so nothing is disclosed: a 503."""
    return ApiError(
        503,
        [
            Problem(
                503,
                "SERVICE_UNAVAILABLE",
                "Tracking is briefly unavailable; please retry after the time in Retry-After.",
            )
        ],
        headers={"Retry-After": str(RETRY_AFTER_UNAVAILABLE)},
    )


def quota_headers(quota: QuotaResult) -> dict[str, str]:
    return {
        "X-RateLimit-Limit": str(quota.limit),
        "X-RateLimit-Remaining": str(quota.remaining),
        "X-RateLimit-Reset": str(quota.reset_in),
    }


def consume_quota(
    *, caller: ApiCaller, calls: int, refusal: Callable[[QuotaResult], str]
) -> QuotaResult:
    """Count `calls` against the caller's hour, or raise: 429 over quota (with `refusal`'s
    detail and Retry-After), 503 when Redis is down. Every metered API surface calls this."""
    try:
        quota = quotas.consume(app_id=caller.app_id, calls=calls, limit=caller.quota_per_hour)
    except RedisError as exc:
        raise unavailable() from exc
    if not quota.allowed:
        raise ApiError(
            429,
            [Problem(429, "QUOTA_EXCEEDED", refusal(quota), title="Too Many Requests.")],
            message=QUOTA_MESSAGE,
            headers={"Retry-After": str(quota.reset_in), **quota_headers(quota)},
        )
    return quota


def serve(
    *,
    caller: ApiCaller,
    requests: list[TrackRequest],
    shape: Shape,
    parameter: Callable[[int], str],
    request_id: str,
) -> Served:
    """Raises ApiError (429 over quota, 503 when Redis is down); per-number refusals are in
    the outcomes."""
    quota = consume_quota(
        caller=caller,
        calls=len(requests),
        refusal=lambda quota: (
            f"This app may look up {quota.limit} tracking numbers per hour and has "
            f"{quota.remaining} left; this request asked for {len(requests)}. "
            f"The count starts again in {quota.reset_in} seconds."
        ),
    )
    outcomes = track(caller=caller, requests=requests, shape=shape, parameter=parameter)
    for outcome in outcomes:
        if outcome.problem is not None:
            outcome.problem = replace(outcome.problem, example=outcome.request.tracking_number)
    try:
        disclosures.push(
            disclosure_records(caller=caller, outcomes=outcomes, request_id=request_id)
        )
    except RedisError as exc:
        raise unavailable() from exc
    return Served(outcomes=outcomes, quota=quota)

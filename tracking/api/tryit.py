"""The portal's "try it" form: one lookup as one of the provider's apps, through exactly the
path the API takes (quota, decision, store, disclosure record)."""

from typing import Any

from tracking.api import shapes
from tracking.api.errors import ApiError, envelope
from tracking.api.lookup import TrackRequest
from tracking.api.service import new_request_id, serve
from tracking.constants import ApiAppStatus
from tracking.credentials_cache import ApiCaller
from tracking.models import ApiApp
from tracking.services.quotas import effective_quota_per_hour

LEGACY_API_VERSION = "/tracking/v3"


def caller_for_app(app: ApiApp) -> ApiCaller:
    return ApiCaller(
        app_id=app.pk,
        provider_id=app.provider_id,
        client_id=app.application.client_id,
        scopes=tuple(app.scopes),
        quota_per_hour=effective_quota_per_hour(provider_id=app.provider_id),
        expires_at=0.0,
    )


def try_tracking_number(
    *, app: ApiApp, tracking_number: str, expand: str = "DETAIL"
) -> tuple[int, dict[str, Any]]:
    """The status and JSON body GET /tracking/v3/tracking/{n} would answer for this app."""
    if app.status != ApiAppStatus.ACTIVE:
        raise ValueError("a revoked app cannot make calls")
    shape = shapes.v3_detail if expand == "DETAIL" else shapes.v3_summary
    try:
        served = serve(
            caller=caller_for_app(app),
            requests=[TrackRequest(tracking_number=tracking_number)],
            shape=shape,
            parameter=lambda _: "trackingNumber",
            request_id=new_request_id(),
        )
    except ApiError as exc:
        return exc.status_code, envelope(
            status_code=exc.status_code,
            problems=exc.problems,
            api_version=LEGACY_API_VERSION,
            message=exc.message,
        )
    (outcome,) = served.outcomes
    if outcome.problem is not None:
        return outcome.status, envelope(
            status_code=outcome.status, problems=[outcome.problem], api_version=LEGACY_API_VERSION
        )
    return 200, outcome.detail

"""System check of the extract settings: EXTRACT_APPROVAL_REQUIRED_TYPES must name provider
types. A value that names none (a typo such as "SERVICE_PROVDER") would silently let that
type's extracts through without staff approval: fail open. Case and spaces are forgiven where
the setting is read (services.approval_required_types); anything else stops the start-up."""

from django.core.checks import Error, register

from accounts.constants import ProviderType


@register()
def check_approval_required_types(app_configs=None, **kwargs) -> list[Error]:
    from tracking.extracts.services import approval_required_types

    unknown = sorted(approval_required_types() - set(ProviderType.values))
    if not unknown:
        return []
    return [
        Error(
            f"EXTRACT_APPROVAL_REQUIRED_TYPES names {', '.join(map(repr, unknown))}, which "
            f"{'is not a provider type' if len(unknown) == 1 else 'are not provider types'}.",
            hint=f"Use values of ProviderType: {', '.join(ProviderType.values)} "
            "(comma-separated in the environment variable).",
            id="tracking.E101",
        )
    ]

from django.apps import AppConfig


class TrackingConfig(AppConfig):
    name = "tracking"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # drf-spectacular finds extensions by import.
        from tracking.api import schema_auth  # noqa: F401

        # Registers the system check of the extract settings.
        from tracking.extracts import checks  # noqa: F401

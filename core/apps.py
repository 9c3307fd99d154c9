from django.apps import AppConfig


class CoreConfig(AppConfig):
    """The bottom layer: the audit log, the transition helper, domain errors, the access-decision
    cache and the tracking-number parser. Every other app may import it; it imports none."""

    verbose_name = "Audit log"
    name = "core"
    default_auto_field = "django.db.models.BigAutoField"

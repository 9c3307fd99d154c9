from django.apps import AppConfig


class DemoConfig(AppConfig):
    """The top layer: demo data seeded through every domain app's services. No app imports it."""

    verbose_name = "Demo data"
    name = "demo"
    default_auto_field = "django.db.models.BigAutoField"

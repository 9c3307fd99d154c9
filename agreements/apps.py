from django.apps import AppConfig


class AgreementsConfig(AppConfig):
    verbose_name = "Agreements and Mailer IDs"
    name = "agreements"
    default_auto_field = "django.db.models.BigAutoField"

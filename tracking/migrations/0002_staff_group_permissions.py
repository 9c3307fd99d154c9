"""The staff groups' permissions on the tracking API's records (issue 9).

The groups are core/migrations/0002_staff_groups.py's, which grants the project's models that
existed then; this adds the tracking app's, on the same rules: pages answer on "view", writes
on "change"/"add", and no group deletes anything.

- Agreement reviewers read everything here and set providers' hourly quotas (add and change
  ProviderApiQuota). Revoking an app (change_apiapp) is for superusers: no group holds it.
- Finance reads the API apps and their daily usage, which billing counts; no disclosures, no
  tracking data.
- Support reads every tracking model and changes nothing.

Forward is idempotent: each group ends with exactly these permissions on these models (others
it holds, later migrations' tracking models included, are left alone). Backward removes the groups' tracking permissions. Permissions are referenced
by app label and codename only, as in core's migration.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

VIEW = ("view",)

GRANTS: dict[str, dict[str, tuple[str, ...]]] = {
    "Agreement reviewers": {
        "apiapp": VIEW,
        "providerapiquota": ("view", "change", "add"),
        "mailpiece": VIEW,
        "trackingevent": VIEW,
        "disclosure": VIEW,
        "dailyusage": VIEW,
    },
    "Finance": {
        "apiapp": VIEW,
        "dailyusage": VIEW,
    },
    "Support": {
        "apiapp": VIEW,
        "providerapiquota": VIEW,
        "mailpiece": VIEW,
        "trackingevent": VIEW,
        "disclosure": VIEW,
        "dailyusage": VIEW,
    },
}


# The models this migration speaks for; 0005 grants the extract and webhook models.
MODELS = ("apiapp", "providerapiquota", "mailpiece", "trackingevent", "disclosure", "dailyusage")


def _ensure_permissions(apps, using: str) -> None:
    """Django creates permissions after the last migration (post_migrate); on a fresh
    database they do not exist yet at this point, so create them from the historical models."""
    app_config = apps.get_app_config("tracking")
    app_config.models_module = True  # create_permissions skips app configs without one
    try:
        create_permissions(app_config, verbosity=0, using=using, apps=apps)
    finally:
        app_config.models_module = None


def grant(apps, schema_editor):
    using = schema_editor.connection.alias
    _ensure_permissions(apps, using)
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    tracking = Permission.objects.using(using).filter(
        content_type__app_label="tracking", content_type__model__in=MODELS
    )
    for name, grants in GRANTS.items():
        wanted = {f"{action}_{model}" for model, actions in grants.items() for action in actions}
        permissions = list(tracking.filter(codename__in=wanted))
        found = {p.codename for p in permissions}
        if found != wanted:
            raise RuntimeError(f"Missing permissions for {name!r}: {sorted(wanted - found)}")
        group, _ = Group.objects.using(using).get_or_create(name=name)
        held = group.permissions.filter(
            content_type__app_label="tracking", content_type__model__in=MODELS
        )
        group.permissions.remove(*held.exclude(codename__in=wanted))
        group.permissions.add(*permissions)


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    for group in Group.objects.using(schema_editor.connection.alias).filter(name__in=GRANTS):
        group.permissions.remove(
            *group.permissions.filter(
                content_type__app_label="tracking", content_type__model__in=MODELS
            )
        )


class Migration(migrations.Migration):
    dependencies = [
        ("tracking", "0001_initial"),
        ("core", "0002_staff_groups"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(grant, revoke)]

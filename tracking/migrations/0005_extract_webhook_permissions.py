"""The staff groups' permissions on extracts and webhooks (issue 11), on 0002's rules.

- Agreement reviewers approve or reject service providers' extracts (change_extract) and read
  the download log, subscriptions and their deliveries.
- Support reads them all and changes nothing.
- Finance holds none of them: extracts and webhooks carry tracking data.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

VIEW = ("view",)
MODELS = ("extract", "extractdownload", "subscription", "webhookdelivery", "deliveryattempt")

GRANTS: dict[str, dict[str, tuple[str, ...]]] = {
    "Agreement reviewers": {**dict.fromkeys(MODELS, VIEW), "extract": ("view", "change")},
    "Support": dict.fromkeys(MODELS, VIEW),
}


def grant(apps, schema_editor):
    using = schema_editor.connection.alias
    app_config = apps.get_app_config("tracking")
    app_config.models_module = True  # create_permissions skips app configs without one
    try:
        create_permissions(app_config, verbosity=0, using=using, apps=apps)
    finally:
        app_config.models_module = None
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
        group.permissions.remove(
            *group.permissions.filter(
                content_type__app_label="tracking", content_type__model__in=MODELS
            ).exclude(codename__in=wanted)
        )
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
        ("tracking", "0004_extracts_and_webhooks"),
        ("tracking", "0002_staff_group_permissions"),
    ]

    operations = [migrations.RunPython(grant, revoke)]

"""The staff groups' permissions on billing's records (issue 10).

The groups are core/migrations/0002_staff_groups.py's; this adds the billing app's, on the same
rules: admin pages answer on "view", decisions on "change"/"add", and no group deletes anything.

- Finance runs billing: every decision on an invoice (approve, void, write off, credit note,
  wire or check recorded, resend, CSV export) needs change_invoice, as every action of a review
  queue needs the queue's one permission; it adds fee schedule rows (add_feeschedule; a row is
  never changed once added) and resolves reconciliation findings (change_reconciliationissue).
  It reads everything else billing keeps.
- Support answers providers' questions about their bills: it reads every billing model and
  changes nothing (core's rule for Support and project models added later).
- Agreement reviewers get nothing here: billing is not theirs to see.

Forward is idempotent: each group ends with exactly these billing permissions (others it holds
are left alone). Backward removes the groups' billing permissions. Permissions are referenced
by app label and codename only, as in core's migration.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

VIEW = ("view",)
READABLE = (
    "feeschedule",
    "billingaccount",
    "invoice",
    "invoiceline",
    "creditnote",
    "payment",
    "stripeevent",
    "reconciliationissue",
)

GRANTS: dict[str, dict[str, tuple[str, ...]]] = {
    "Finance": {
        **dict.fromkeys(READABLE, VIEW),
        "invoice": ("view", "change"),
        "feeschedule": ("view", "add"),
        "reconciliationissue": ("view", "change"),
    },
    "Support": dict.fromkeys(READABLE, VIEW),
    "Agreement reviewers": {},
}


def _ensure_permissions(apps, using: str) -> None:
    """Django creates permissions after the last migration (post_migrate); on a fresh
    database they do not exist yet at this point, so create them from the historical models."""
    app_config = apps.get_app_config("billing")
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
    billing = Permission.objects.using(using).filter(content_type__app_label="billing")
    for name, grants in GRANTS.items():
        wanted = {f"{action}_{model}" for model, actions in grants.items() for action in actions}
        permissions = list(billing.filter(codename__in=wanted))
        found = {p.codename for p in permissions}
        if found != wanted:
            raise RuntimeError(f"Missing permissions for {name!r}: {sorted(wanted - found)}")
        group, _ = Group.objects.using(using).get_or_create(name=name)
        held = group.permissions.filter(content_type__app_label="billing")
        group.permissions.remove(*held.exclude(codename__in=wanted))
        group.permissions.add(*permissions)


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    for group in Group.objects.using(schema_editor.connection.alias).filter(name__in=GRANTS):
        group.permissions.remove(*group.permissions.filter(content_type__app_label="billing"))


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0001_initial"),
        ("core", "0002_staff_groups"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(grant, revoke)]

"""The staff permission groups (issue 8): least privilege for each kind of postal staff.

Staff admin pages are shown on "view" permissions and decisions (admin actions) are gated on
"change" permissions, e.g. approving an agreement needs agreements.change_agreement.
No group holds a delete permission, nor any permission outside the project's own apps: in
particular nothing of auth (groups, permissions) and no add/change on accounts.User, so no
group can grant itself more. The whole matrix is tested in tests/config/test_permission_matrix.py.

Permissions are referenced by app label and codename only: core imports no other app's code.
Forward is idempotent (each group ends with exactly these permissions); backward deletes them.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations
from django.db.models import Q

VIEW = ("view",)
REVIEW = ("view", "change")

GROUPS: dict[str, dict[tuple[str, str], tuple[str, ...]]] = {
    # Reviews providers, agreements and their schedule lines, MID links, and drafts agreement
    # versions; reads the teams and the audit log behind those decisions.
    "Agreement reviewers": {
        ("accounts", "provider"): REVIEW,
        ("agreements", "agreement"): REVIEW,
        ("agreements", "agreementscheduleline"): REVIEW,
        ("agreements", "midlink"): REVIEW,
        ("agreements", "agreementversion"): (*REVIEW, "add"),
        ("accounts", "membership"): VIEW,
        ("accounts", "invitation"): VIEW,
        ("core", "auditentry"): VIEW,
    },
    # Billing has no models yet. The billing issue grants Finance view/change on its invoices
    # and payments in its own migration (and keeps them away from the other groups); until then
    # Finance sees only who it will bill. It never gets change on agreements: no approvals.
    "Finance": {
        ("accounts", "provider"): VIEW,
        ("accounts", "membership"): VIEW,
    },
    # Answers providers' questions: reads every project model, changes nothing. A project model
    # added later gets its view permission here in the migration that adds it.
    "Support": {
        ("accounts", "user"): VIEW,
        ("accounts", "provider"): VIEW,
        ("accounts", "membership"): VIEW,
        ("accounts", "invitation"): VIEW,
        ("agreements", "agreementversion"): VIEW,
        ("agreements", "agreement"): VIEW,
        ("agreements", "agreementscheduleline"): VIEW,
        ("agreements", "midlink"): VIEW,
        ("core", "auditentry"): VIEW,
    },
}


def _ensure_permissions(apps, using: str) -> None:
    """Django creates permissions after the last migration (post_migrate); on a fresh
    database they do not exist yet at this point, so create them from the historical models."""
    for label in ("accounts", "agreements", "core"):
        app_config = apps.get_app_config(label)
        app_config.models_module = True  # create_permissions skips app configs without one
        try:
            create_permissions(app_config, verbosity=0, using=using, apps=apps)
        finally:
            app_config.models_module = None


def create_groups(apps, schema_editor):
    using = schema_editor.connection.alias
    _ensure_permissions(apps, using)
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, grants in GROUPS.items():
        wanted = {
            (app_label, f"{action}_{model}")
            for (app_label, model), actions in grants.items()
            for action in actions
        }
        query = Q()
        for app_label, codename in wanted:
            query |= Q(content_type__app_label=app_label, codename=codename)
        permissions = list(Permission.objects.using(using).filter(query))
        found = {(p.content_type.app_label, p.codename) for p in permissions}
        if found != wanted:
            raise RuntimeError(f"Missing permissions for {name!r}: {sorted(wanted - found)}")
        group, _ = Group.objects.using(using).get_or_create(name=name)
        group.permissions.set(permissions)


def delete_groups(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Group.objects.using(schema_editor.connection.alias).filter(name__in=GROUPS).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0001_auditentry_moved_from_agreements"),
        ("accounts", "0005_crid_zip_ascii_digits"),
        ("agreements", "0006_owner_crid_ascii_digits"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_groups, delete_groups)]

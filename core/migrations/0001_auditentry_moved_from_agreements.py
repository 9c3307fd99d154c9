"""AuditEntry moves from agreements to core without touching the database.

Only Django's model state moves: the table `agreements_auditentry`, its indexes and its
append-only trigger (agreements 0002) stay exactly as they are. agreements 0004 removes the
model from that app's state once this migration has added it here.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def move_content_type(apps, schema_editor):
    """Keep the content type (and the permissions hanging off it) instead of orphaning it."""
    ContentType = apps.get_model("contenttypes", "ContentType")
    if ContentType.objects.filter(app_label="core", model="auditentry").exists():
        return
    ContentType.objects.filter(app_label="agreements", model="auditentry").update(
        app_label="core"
    )


def restore_content_type(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    ContentType.objects.filter(app_label="core", model="auditentry").update(
        app_label="agreements"
    )


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("accounts", "0002_provider_membership"),
        ("agreements", "0003_midlink_verified_by_owner_crid"),
        ("contenttypes", "0002_remove_content_type_name"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="AuditEntry",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("subject_id", models.BigIntegerField()),
                        ("action", models.CharField(max_length=60)),
                        ("from_status", models.CharField(blank=True, max_length=30)),
                        ("to_status", models.CharField(blank=True, max_length=30)),
                        ("reason", models.TextField(blank=True)),
                        ("extra", models.JSONField(blank=True, default=dict)),
                        ("created_at", models.DateTimeField(auto_now_add=True, db_index=True)),
                        ("actor", models.ForeignKey(blank=True, help_text="Empty for system actions (scheduled jobs, webhooks).", null=True, on_delete=django.db.models.deletion.PROTECT, related_name="+", to=settings.AUTH_USER_MODEL)),
                        ("provider", models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name="audit_entries", to="accounts.provider")),
                        ("subject_type", models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, to="contenttypes.contenttype")),
                    ],
                    options={
                        "verbose_name_plural": "audit entries",
                        "db_table": "agreements_auditentry",
                        "ordering": ["-created_at", "-pk"],
                        "indexes": [
                            models.Index(fields=["subject_type", "subject_id"], name="agreements__subject_3269e4_idx"),
                            models.Index(fields=["provider", "-created_at"], name="agreements__provide_fa4c5f_idx"),
                        ],
                    },
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(move_content_type, restore_content_type),
    ]

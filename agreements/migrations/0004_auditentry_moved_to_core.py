"""AuditEntry now lives in core (core 0001): drop it from this app's state only.

The table, its indexes and its append-only trigger are untouched.
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("agreements", "0003_midlink_verified_by_owner_crid"),
        ("core", "0001_auditentry_moved_from_agreements"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="AuditEntry")],
            database_operations=[],
        ),
    ]

"""Make the audit log append-only in the database itself, not just in the admin.

Row-level UPDATE and DELETE raise. TRUNCATE (used by test teardown) is a table-level
operation and is not affected.
"""

from django.db import migrations

FORBID = """
CREATE OR REPLACE FUNCTION agreements_auditentry_forbid_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit entries are append-only (% refused)', TG_OP
        USING ERRCODE = 'integrity_constraint_violation';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER agreements_auditentry_append_only
    BEFORE UPDATE OR DELETE ON agreements_auditentry
    FOR EACH ROW EXECUTE FUNCTION agreements_auditentry_forbid_change();
"""

ALLOW = """
DROP TRIGGER IF EXISTS agreements_auditentry_append_only ON agreements_auditentry;
DROP FUNCTION IF EXISTS agreements_auditentry_forbid_change();
"""


class Migration(migrations.Migration):
    dependencies = [("agreements", "0001_initial")]

    operations = [migrations.RunSQL(FORBID, reverse_sql=ALLOW)]

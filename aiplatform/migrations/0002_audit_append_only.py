"""On PostgreSQL, refuse UPDATE and DELETE on the audit trail at the database itself."""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION aiplatform_audit_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'the audit trail is append-only: % refused on aiplatform_auditevent', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER aiplatform_audit_append_only
    BEFORE UPDATE OR DELETE ON aiplatform_auditevent
    FOR EACH ROW EXECUTE FUNCTION aiplatform_audit_append_only();
"""

DROP = """
DROP TRIGGER IF EXISTS aiplatform_audit_append_only ON aiplatform_auditevent;
DROP FUNCTION IF EXISTS aiplatform_audit_append_only();
"""


def create_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE, params=None)


def drop_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP, params=None)


class Migration(migrations.Migration):
    dependencies = [("aiplatform", "0001_initial")]
    operations = [migrations.RunPython(create_trigger, drop_trigger)]

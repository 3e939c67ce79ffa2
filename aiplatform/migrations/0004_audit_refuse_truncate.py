"""On PostgreSQL, refuse TRUNCATE of the audit trail too (row triggers never see a TRUNCATE).

The table's owner, who could drop the trigger anyway, may opt in for one session with
``SET switchboard.allow_audit_truncate = on``: the test suite does, for Django's flush.
"""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION aiplatform_audit_append_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'TRUNCATE'
       AND current_setting('switchboard.allow_audit_truncate', true) = 'on'
       AND pg_has_role(current_user, (SELECT relowner FROM pg_class WHERE oid = TG_RELID), 'MEMBER') THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION 'the audit trail is append-only: % refused on aiplatform_auditevent', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER aiplatform_audit_no_truncate
    BEFORE TRUNCATE ON aiplatform_auditevent
    FOR EACH STATEMENT EXECUTE FUNCTION aiplatform_audit_append_only();
"""

DROP = """
DROP TRIGGER IF EXISTS aiplatform_audit_no_truncate ON aiplatform_auditevent;
"""


def create_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE, params=None)


def drop_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP, params=None)


class Migration(migrations.Migration):
    dependencies = [("aiplatform", "0003_audit_request_id_index")]
    operations = [migrations.RunPython(create_trigger, drop_trigger)]

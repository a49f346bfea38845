"""The database refuses UPDATE and DELETE on audit entries."""

from django.db import migrations

POSTGRES_UP = """
CREATE OR REPLACE FUNCTION agenwork_refuse_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'agenwork: % rows are append-only (% refused)', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER auditentry_append_only
    BEFORE UPDATE OR DELETE ON audit_auditentry
    FOR EACH ROW EXECUTE FUNCTION agenwork_refuse_change();
"""
SQLITE_UP = [
    """CREATE TRIGGER auditentry_no_update BEFORE UPDATE ON audit_auditentry
       BEGIN SELECT RAISE(ABORT, 'agenwork: audit entries are append-only'); END;""",
    """CREATE TRIGGER auditentry_no_delete BEFORE DELETE ON audit_auditentry
       BEGIN SELECT RAISE(ABORT, 'agenwork: audit entries are append-only'); END;""",
]


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(POSTGRES_UP, params=None)
    elif schema_editor.connection.vendor == "sqlite":
        for statement in SQLITE_UP:
            schema_editor.execute(statement)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP TRIGGER IF EXISTS auditentry_append_only ON audit_auditentry;")
    elif schema_editor.connection.vendor == "sqlite":
        schema_editor.execute("DROP TRIGGER IF EXISTS auditentry_no_update;")
        schema_editor.execute("DROP TRIGGER IF EXISTS auditentry_no_delete;")


class Migration(migrations.Migration):
    dependencies = [("audit", "0001_initial")]

    operations = [migrations.RunPython(forwards, backwards)]

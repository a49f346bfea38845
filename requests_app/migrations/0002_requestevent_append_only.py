"""The database itself refuses UPDATE and DELETE on request events: the history is append-only."""

from django.db import migrations

POSTGRES_UP = """
CREATE OR REPLACE FUNCTION agenwork_refuse_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'agenwork: % rows are append-only (% refused)', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER requestevent_append_only
    BEFORE UPDATE OR DELETE ON requests_app_requestevent
    FOR EACH ROW EXECUTE FUNCTION agenwork_refuse_change();
"""
POSTGRES_DOWN = "DROP TRIGGER IF EXISTS requestevent_append_only ON requests_app_requestevent;"

SQLITE_UP = [
    """CREATE TRIGGER requestevent_no_update BEFORE UPDATE ON requests_app_requestevent
       BEGIN SELECT RAISE(ABORT, 'agenwork: request events are append-only'); END;""",
    """CREATE TRIGGER requestevent_no_delete BEFORE DELETE ON requests_app_requestevent
       BEGIN SELECT RAISE(ABORT, 'agenwork: request events are append-only'); END;""",
]
SQLITE_DOWN = [
    "DROP TRIGGER IF EXISTS requestevent_no_update;",
    "DROP TRIGGER IF EXISTS requestevent_no_delete;",
]


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(POSTGRES_UP, params=None)
    elif schema_editor.connection.vendor == "sqlite":
        for statement in SQLITE_UP:
            schema_editor.execute(statement)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(POSTGRES_DOWN)
    elif schema_editor.connection.vendor == "sqlite":
        for statement in SQLITE_DOWN:
            schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("requests_app", "0001_initial")]

    operations = [migrations.RunPython(forwards, backwards)]

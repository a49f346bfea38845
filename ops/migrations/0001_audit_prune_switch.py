"""Append-only rows may be deleted by `prune_activity --include-audit` only; UPDATE stays refused.

The trigger function of audit entries and request events lets a DELETE through only when the
transaction set `agenwork.prune_audit` to 'on' (SET LOCAL, so it ends with the transaction).
"""

from django.db import migrations

POSTGRES_UP = """
CREATE OR REPLACE FUNCTION agenwork_refuse_change() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' AND current_setting('agenwork.prune_audit', true) = 'on' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'agenwork: % rows are append-only (% refused)', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
"""
POSTGRES_DOWN = """
CREATE OR REPLACE FUNCTION agenwork_refuse_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'agenwork: % rows are append-only (% refused)', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(POSTGRES_UP, params=None)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(POSTGRES_DOWN, params=None)


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0002_append_only"),
        ("requests_app", "0002_requestevent_append_only"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]

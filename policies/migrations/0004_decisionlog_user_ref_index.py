"""An index on lower(user_ref), created_at: a person's decisions by email or external id.

On PostgreSQL the index is built CONCURRENTLY, so a decision log of millions of rows keeps taking
inserts meanwhile (hence a non-atomic migration); elsewhere (SQLite for `make run`) it is a plain
CREATE INDEX.
"""

from __future__ import annotations

import django.db.models.functions.text
from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models

INDEX = models.Index(
    django.db.models.functions.text.Lower("user_ref"),
    models.OrderBy(models.F("created_at"), descending=True),
    name="decisionlog_userref_time",
)


class AddIndexConcurrentlyOnPostgres(AddIndexConcurrently):
    """CREATE INDEX CONCURRENTLY on PostgreSQL, a plain CREATE INDEX on other databases."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            return super().database_forwards(app_label, schema_editor, from_state, to_state)
        model = to_state.apps.get_model(app_label, self.model_name)
        schema_editor.add_index(model, self.index)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            return super().database_backwards(app_label, schema_editor, from_state, to_state)
        model = from_state.apps.get_model(app_label, self.model_name)
        schema_editor.remove_index(model, self.index)


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("connectors", "0001_initial"),
        ("directory", "0002_person_deactivation_scim_token"),
        ("policies", "0003_decisionlog"),
    ]

    operations = [AddIndexConcurrentlyOnPostgres(model_name="decisionlog", index=INDEX)]

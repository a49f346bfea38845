from django.db import migrations, models

# Every request's tool keys, in order, from its tools: one statement per database.
FILL = {
    "postgresql": """
        UPDATE requests_app_accessrequest r SET tool_keys = k.keys
        FROM (
            SELECT rt.request_id, string_agg(t.key, ' ' ORDER BY rt.position) AS keys
            FROM requests_app_requesttool rt JOIN connectors_tool t ON t.id = rt.tool_id
            GROUP BY rt.request_id
        ) k
        WHERE k.request_id = r.id
    """,
    "sqlite": """
        UPDATE requests_app_accessrequest SET tool_keys = coalesce((
            SELECT group_concat(key, ' ') FROM (
                SELECT t.key FROM requests_app_requesttool rt
                JOIN connectors_tool t ON t.id = rt.tool_id
                WHERE rt.request_id = requests_app_accessrequest.id ORDER BY rt.position
            )
        ), '')
    """,
}


def fill_tool_keys(apps, schema_editor):
    statement = FILL.get(schema_editor.connection.vendor)
    if statement:
        schema_editor.execute(statement)


class Migration(migrations.Migration):

    dependencies = [
        ('requests_app', '0006_dashboard_figures_response_time'),
    ]

    operations = [
        migrations.AddField(
            model_name='accessrequest',
            name='tool_keys',
            field=models.TextField(blank=True, help_text="Every tool's key, in order, space-separated."),
        ),
        migrations.RunPython(fill_tool_keys, migrations.RunPython.noop),
    ]

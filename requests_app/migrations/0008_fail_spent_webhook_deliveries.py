"""Webhook deliveries left pending after their last attempt fail, as every outbox row now does.

Before the one outbox (agenwork.outbox), a reclaimed delivery went back to pending whatever its
attempts, and its claim had no limit. The claim now refuses a row without an attempt left, so
such a row would wait for ever, shown as pending; it fails now, with its reason on the API key's
page. Eight attempts: requests_app.webhooks.MAX_ATTEMPTS when this was written.
"""

from __future__ import annotations

from django.db import migrations

MAX_ATTEMPTS = 8
NO_ATTEMPT_LEFT = "No attempt left: a stopped worker's claim was retried past the limit."


def fail_spent_deliveries(apps, schema_editor) -> None:
    deliveries = apps.get_model("requests_app", "WebhookDelivery").objects
    deliveries.filter(status="pending", attempts__gte=MAX_ATTEMPTS).update(
        status="failed", claimed_at=None, last_error=NO_ATTEMPT_LEFT
    )


class Migration(migrations.Migration):
    dependencies = [("requests_app", "0007_accessrequest_tool_keys")]

    operations = [migrations.RunPython(fail_spent_deliveries, migrations.RunPython.noop)]

"""Bulk writers for generated request rows: COPY on PostgreSQL, bulk_create elsewhere.

- A batch arrives as plain tuples in the column orders below, with request ids already reserved,
  so the same generator feeds both writers. JSON columns carry their JSON text; times are naive
  UTC (cheaper to build and to print; COPY runs with the session time zone set to UTC), as
  datetimes or as their str() when one instant fills several rows (printed once).
- COPY uses the CSV format, written by the C `csv` module: quoting takes care of any character.
  An unquoted empty field is NULL, except in NOT NULL columns (FORCE_NOT_NULL), where it is "".
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from typing import Any

from django.db import connection, models, transaction

from approval_flows.models import Notification
from requests_app.models import AccessRequest, RequestEvent, RequestTool

REQUEST_COLUMNS = (
    "id", "public_id", "requester_id", "requester_name", "requester_identifier", "connector_id",
    "connector_name", "first_tool_key", "tool_count", "tool_keys", "note", "agent", "arguments",
    "dedupe_key", "status", "policy_id", "flow_id", "requested_at", "decided_at", "decided_by_id",
    "decided_by_name", "decided_via", "comment", "grant_expires_at", "consumed_at",
    "current_level", "reminders_sent", "next_reminder_at", "escalate_at", "timeout_at",
    "updated_at",
)  # fmt: skip
TOOL_COLUMNS = ("request_id", "tool_id", "position", "status")
EVENT_COLUMNS = (
    "request_id", "kind", "actor_id", "actor_name", "channel", "message", "data", "created_at",
    "response_ms",
)  # fmt: skip
NOTIFICATION_COLUMNS = (
    "request_public_id", "recipient_id", "address", "channel", "occasion", "sequence", "subject",
    "body_text", "status", "attempts", "next_attempt_at", "sent_at", "created_at",
)  # fmt: skip
JSON_COLUMNS = frozenset({"arguments", "data"})
TIME_COLUMNS = frozenset({"next_attempt_at", "sent_at", "created_at"})
TABLES: tuple[tuple[type[models.Model], tuple[str, ...]], ...] = (
    (AccessRequest, REQUEST_COLUMNS),
    (RequestTool, TOOL_COLUMNS),
    (RequestEvent, EVENT_COLUMNS),
    (Notification, NOTIFICATION_COLUMNS),
)
_COPY_BUFFER = 1 << 20


@dataclass
class Batch:
    """The rows of one batch of generated requests, ready for a writer."""

    requests: list[tuple[Any, ...]] = field(default_factory=list)
    tools: list[tuple[Any, ...]] = field(default_factory=list)
    events: list[tuple[Any, ...]] = field(default_factory=list)
    notifications: list[tuple[Any, ...]] = field(default_factory=list)

    def tables(self) -> tuple[list[tuple[Any, ...]], ...]:
        """The row lists in the order of TABLES."""
        return self.requests, self.tools, self.events, self.notifications


def copy_supported() -> bool:
    """Whether this connection can stream COPY FROM STDIN (PostgreSQL through psycopg2)."""
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cursor:
        return hasattr(cursor.cursor, "copy_expert")


def may_skip_triggers() -> bool:
    """Whether this PostgreSQL login may set session_replication_role (a superuser)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('is_superuser') = 'on'")
        return bool(cursor.fetchone()[0])


def reserve_request_ids(count: int) -> list[int]:
    """Ids for `count` new requests, taken from the table's sequence or above its highest id."""
    if count == 0:
        return []
    table = AccessRequest._meta.db_table
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
                [table, count],
            )
            return [row[0] for row in cursor.fetchall()]
    # SQLite and the like: the caller's transaction holds the write lock until the insert.
    top = AccessRequest.objects.aggregate(top=models.Max("id"))["top"] or 0
    return list(range(top + 1, top + 1 + count))


def copy_texts(batch: Batch) -> list[str]:
    """The batch as one CSV text per table (pure Python: may run beside the writer)."""
    texts = []
    for (model, columns), rows in zip(TABLES, batch.tables(), strict=True):
        defaults = _unlisted_defaults(model, columns)[1]
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerows([row + defaults for row in rows] if defaults else rows)
        texts.append(buffer.getvalue())
    return texts


@cache
def _unlisted_defaults(
    model: type[models.Model], columns: tuple[str, ...]
) -> tuple[tuple[str, ...], tuple[Any, ...]]:
    """NOT NULL fields the generator does not list, with their default value.

    - A column added to the model later (say a code with default "") is still filled in; a
      nullable one is left NULL.
    """
    fields = [
        f
        for f in model._meta.concrete_fields
        if f.attname not in columns and not f.primary_key and not f.null
    ]
    return tuple(f.column for f in fields), tuple(_default_value(f) for f in fields)


def _default_value(field: models.Field) -> Any:
    value = field.get_default()
    return json.dumps(value) if isinstance(field, models.JSONField) else value


def _copy_sql(model: type[models.Model], columns: tuple[str, ...]) -> str:
    names = columns + _unlisted_defaults(model, columns)[0]
    fields = {f.column: f for f in model._meta.concrete_fields}
    not_null = ", ".join(name for name in names if not fields[name].null)
    return (
        f"COPY {model._meta.db_table} ({', '.join(names)}) FROM STDIN "
        f"WITH (FORMAT csv, FORCE_NOT_NULL ({not_null}))"
    )


def write_copy(texts: list[str], *, skip_triggers: bool = False) -> None:
    """Stream one batch into PostgreSQL with one COPY per table, in one transaction.

    - skip_triggers: the transaction runs with session_replication_role = replica, as
      pg_restore --disable-triggers does, so no foreign-key check is queued per row. The rows
      only reference ids read or reserved in this run. Only a superuser may.
    """
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT set_config('TimeZone', 'UTC', true)")
        if skip_triggers:
            cursor.execute("SET LOCAL session_replication_role = replica")
        for (model, columns), text in zip(TABLES, texts, strict=True):
            if text:
                cursor.cursor.copy_expert(
                    _copy_sql(model, columns), io.StringIO(text), size=_COPY_BUFFER
                )
        # SET LOCAL lasts to the end of the outermost transaction: restore both at once.
        if skip_triggers:
            cursor.execute("SET LOCAL session_replication_role = DEFAULT")
        cursor.execute("SELECT set_config('TimeZone', %s, true)", [connection.timezone_name])


def write_orm(batch: Batch) -> None:
    """Insert the batch with bulk_create, in one transaction (SQLite and other databases)."""
    with transaction.atomic():
        for (model, columns), rows in zip(TABLES, batch.tables(), strict=True):
            model.objects.bulk_create(_instances(model, columns, rows), batch_size=500)


def _instances(
    model: type[models.Model], columns: tuple[str, ...], rows: list[tuple[Any, ...]]
) -> list[models.Model]:
    instances = []
    for row in rows:
        values = {
            name: _python_value(name, value) for name, value in zip(columns, row, strict=True)
        }
        instances.append(model(**values))
    return instances


def _python_value(name: str, value: Any) -> Any:
    if value is None:
        return None
    if name in JSON_COLUMNS:
        return json.loads(value)
    if isinstance(value, str) and name in TIME_COLUMNS:
        value = datetime.fromisoformat(value)
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC)
    return value


def analyze_tables() -> None:
    """Refresh the planner's statistics after a large insert (PostgreSQL only)."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        for model, _columns in TABLES:
            cursor.execute(f"ANALYZE {model._meta.db_table}")

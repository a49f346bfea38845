"""The demo scenario built once per test session, then put back in each test's database.

`seed_demo --requests 0` takes 1.2-1.8 s; copying its rows back takes a few milliseconds.

- `take_demo_rows()` runs the command inside a transaction that it rolls back, and keeps every
  row the command added, table by table, as JSON (`json_agg`). A table the command changes must
  have been empty before: a row it updated in place could not be put back this way.
- `DemoRows.put_back()` inserts those rows again (`json_populate_recordset`), with every
  timestamp moved forward by the time since they were taken: the demo reads as seeded just now
  (requests pending for minutes, not for the length of the run). It works in a test's
  transaction and in a transactional test (where the rows are committed, then flushed).
- The rows keep the ids they had. Sequences only move forward, so a test's own rows get higher
  ids; a sequence that a flush reset is moved past the demo's highest id.
- As seed_demo's own transaction does, putting the rows back moves the policy snapshot's version
  on commit: a transactional test reads a fresh snapshot version, as after a real seed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from io import StringIO

from django.core.management import call_command
from django.db import connection, transaction
from django.utils import timezone

from policies.snapshot import snapshot_changed

_TIMESTAMP_TYPES = {"timestamp with time zone", "timestamp without time zone"}


class DemoNotCopyable(RuntimeError):
    """seed_demo changed a table that already had rows: its rows cannot simply be put back."""


@dataclass(frozen=True)
class TableRows:
    """One table's demo rows as a JSON array, and how to insert them again."""

    table: str
    rows_json: str
    columns: tuple[str, ...]
    moved_columns: frozenset[str]  # timestamps, moved forward when put back
    day_columns: frozenset[str]  # dates, moved forward by whole days
    sequence: str | None  # of an `id` column
    max_id: int | None

    def insert_sql(self) -> str:
        def select(column: str) -> str:
            if column in self.moved_columns:
                return f'"{column}" + %(moved)s'
            if column in self.day_columns:
                return f'"{column}" + %(days)s'
            return f'"{column}"'

        names = ", ".join(f'"{column}"' for column in self.columns)
        values = ", ".join(select(column) for column in self.columns)
        return (
            f'INSERT INTO "{self.table}" ({names}) SELECT {values} '
            f'FROM json_populate_recordset(NULL::"{self.table}", %(rows)s)'
        )


@dataclass(frozen=True)
class DemoRows:
    """Every row `seed_demo --requests 0` adds, and when they were taken."""

    taken_at: datetime
    tables: tuple[TableRows, ...]

    def put_back(self) -> None:
        """Insert the demo's rows into the current database, timestamps moved to now."""
        now = timezone.now()
        params = {"moved": now - self.taken_at, "days": (now.date() - self.taken_at.date()).days}
        # One transaction: foreign keys are checked at its end, whatever the table order.
        with transaction.atomic(), connection.cursor() as cursor:
            for rows in self.tables:
                cursor.execute(rows.insert_sql(), {**params, "rows": rows.rows_json})
            for rows in self.tables:
                if rows.sequence:
                    cursor.execute(
                        f"SELECT setval(%s, %s) FROM {rows.sequence} WHERE last_value < %s",
                        [rows.sequence, rows.max_id, rows.max_id],
                    )
            snapshot_changed()


def _row_counts(cursor, tables: list[str]) -> dict[str, int]:
    union = " UNION ALL ".join(f"SELECT '{table}', count(*) FROM \"{table}\"" for table in tables)
    cursor.execute(union)
    return dict(cursor.fetchall())


def _table_rows(cursor, table: str) -> TableRows:
    cursor.execute(
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = current_schema() AND table_name = %s ORDER BY ordinal_position",
        [table],
    )
    types = dict(cursor.fetchall())
    cursor.execute(f'SELECT json_agg(t)::text FROM "{table}" t')
    rows_json = cursor.fetchone()[0]
    sequence = max_id = None
    if "id" in types:
        cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [f'"{table}"'])
        sequence = cursor.fetchone()[0]
        cursor.execute(f'SELECT max(id) FROM "{table}"')
        max_id = cursor.fetchone()[0]
    return TableRows(
        table=table,
        rows_json=rows_json,
        columns=tuple(types),
        moved_columns=frozenset(c for c, kind in types.items() if kind in _TIMESTAMP_TYPES),
        day_columns=frozenset(c for c, kind in types.items() if kind == "date"),
        sequence=sequence,
        max_id=max_id,
    )


def take_demo_rows() -> DemoRows:
    """Run `seed_demo --requests 0` in a transaction rolled back, keeping the rows it added."""
    tables = connection.introspection.table_names(include_views=False)
    with transaction.atomic(), connection.cursor() as cursor:
        before = _row_counts(cursor, tables)
        taken_at = timezone.now()
        call_command("seed_demo", requests=0, stdout=StringIO(), stderr=StringIO())
        after = _row_counts(cursor, tables)
        changed = [table for table in tables if after[table] != before[table]]
        if touched := [table for table in changed if before[table]]:
            raise DemoNotCopyable(f"seed_demo changed tables that had rows: {touched}")
        demo = DemoRows(taken_at, tuple(_table_rows(cursor, table) for table in changed))
        transaction.set_rollback(True)
    return demo

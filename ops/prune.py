"""Pruning old activity: decision logs, finished messages and, on request, the audit trail.

- Every row is written to the export (JSON lines, one object per row: table, then the row's
  columns) and the export is flushed to disk before the batch holding it is deleted.
- Audit rows (audit entries, request events) are append-only by database trigger: they are
  pruned only with `include_audit`, in transactions that set `agenwork.prune_audit` locally
  (the trigger lets DELETE through then; UPDATE stays refused), and the prune is itself audited.
- Work goes in batches of primary keys, oldest first; re-running picks up where a run stopped.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO, Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, models, transaction
from django.utils import timezone

from approval_flows.models import Notification
from audit.models import AuditEntry
from audit.services import audit_record
from policies.models import DecisionLog
from requests_app.models import RequestEvent, WebhookDelivery


@dataclass(frozen=True)
class Kind:
    """One kind of row that may be pruned, and which of its rows are finished."""

    name: str
    model: type[models.Model]
    finished: dict[str, Any] = field(default_factory=dict)
    audit: bool = False

    def older_than(self, cutoff: datetime) -> models.QuerySet:
        return self.model.objects.filter(created_at__lt=cutoff, **self.finished)

    @property
    def table(self) -> str:
        return self.model._meta.label_lower


KINDS = (
    Kind("decision_logs", DecisionLog),
    Kind(
        "notifications",
        Notification,
        {"status__in": [Notification.Status.SENT, Notification.Status.FAILED]},
    ),
    Kind(
        "webhook_deliveries",
        WebhookDelivery,
        {"status__in": [WebhookDelivery.Status.DELIVERED, WebhookDelivery.Status.FAILED]},
    ),
    Kind("request_events", RequestEvent, audit=True),
    Kind("audit_entries", AuditEntry, audit=True),
)


class PruneRefused(Exception):
    """The prune cannot run as asked (and nothing was changed)."""


def prune_kinds(*, include_audit: bool) -> list[Kind]:
    """The kinds a run covers: audit rows only when asked."""
    return [kind for kind in KINDS if include_audit or not kind.audit]


def prune_counts(*, cutoff: datetime, include_audit: bool) -> dict[str, int]:
    """How many rows of each kind are older than `cutoff` (what a dry run reports)."""
    return {
        kind.name: kind.older_than(cutoff).count()
        for kind in prune_kinds(include_audit=include_audit)
    }


@contextmanager
def open_export(path: Path) -> Iterator[IO[str]]:
    """The export file, appended to (never overwritten); gzip when its name ends in .gz."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "at", encoding="utf-8") as stream:
        yield stream


def prune_kind(
    *,
    kind: Kind,
    cutoff: datetime,
    export: IO[str],
    batch: int = 1000,
    progress: Callable[[int], object] = lambda n: None,
) -> int:
    """Export then delete every row of `kind` older than `cutoff`, a batch at a time."""
    deleted = 0
    while True:
        with transaction.atomic():
            if kind.audit:
                _allow_audit_delete()
            ids = list(kind.older_than(cutoff).order_by("pk").values_list("pk", flat=True)[:batch])
            if not ids:
                return deleted
            rows = kind.model.objects.filter(pk__in=ids).order_by("pk").values()
            for row in rows:
                export.write(json.dumps({"table": kind.table, "row": row}, cls=DjangoJSONEncoder))
                export.write("\n")
            export.flush()
            kind.model.objects.filter(pk__in=ids).delete()
        deleted += len(ids)
        progress(len(ids))


def _allow_audit_delete() -> None:
    """Let the append-only trigger pass DELETEs for this transaction only."""
    if connection.vendor != "postgresql":
        raise PruneRefused("audit rows can be pruned on PostgreSQL only")
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL agenwork.prune_audit = 'on'")


def prune_record(
    *, days: int, cutoff: datetime, deleted: dict[str, int], export_path: str
) -> AuditEntry:
    """The prune of audit rows is itself an audit entry (written after it, so never pruned)."""
    return audit_record(
        actor="manage.py prune_activity",
        action=AuditEntry.Action.DELETED,
        object_type="activity",
        object_id=cutoff.date().isoformat(),
        object_repr=f"Activity older than {days} days",
        after={"deleted": deleted, "export": export_path, "cutoff": cutoff.isoformat()},
        channel="cli",
    )


def cutoff_for(days: int, now: datetime | None = None) -> datetime:
    """The moment before which rows are pruned."""
    return (now or timezone.now()) - timedelta(days=days)

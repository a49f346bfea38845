"""The Activity trail: request history, API decisions and admin changes, merged newest first.

- Each source is read newest first from its time index (`event_time`, `decisionlog_time`,
  `audit_time`) with a LIMIT, and the (at most three) short lists are merged here: the same plan
  as a UNION ALL … ORDER BY … LIMIT, with nothing counted, on PostgreSQL and SQLite alike.
- Pages are keyset pages: a cursor (time, source, id) names the last row shown, and the next page
  starts strictly after it, so page 2,000 costs what page 1 costs.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID

from django.db.models import Q, QuerySet

from audit.models import AuditEntry
from dashboard.filtersets import day_end, day_start
from policies.models import DecisionLog
from requests_app.models import AccessRequest, RequestEvent

# Sources in tie-break order: at the same instant the higher rank is shown first.
DECISION, REQUEST, CHANGE = "decision", "request", "change"
SOURCES = (DECISION, REQUEST, CHANGE)
RANK = {source: rank for rank, source in enumerate(SOURCES)}
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
LATEST_MICROS = (datetime(9999, 12, 31, tzinfo=UTC) - EPOCH) // timedelta(microseconds=1)


@dataclass(frozen=True)
class Cursor:
    """Where a page starts: just after the row (time, source rank, id)."""

    at: datetime
    rank: int
    pk: int

    def encode(self) -> str:
        # Integer microseconds: a float timestamp would round and skip or repeat rows.
        micros = (self.at - EPOCH) // timedelta(microseconds=1)
        return f"{micros}.{self.rank}.{self.pk}"

    @classmethod
    def decode(cls, raw: str) -> Cursor | None:
        """The cursor in `raw`, or None when it is not one this page wrote."""
        parts = raw.split(".")
        digits = all(p.isascii() and p.isdecimal() and len(p) <= 20 for p in parts)
        if len(parts) != 3 or not digits:
            return None
        micros, rank, pk = map(int, parts)
        if rank >= len(SOURCES) or micros > LATEST_MICROS:
            return None
        return cls(EPOCH + timedelta(microseconds=micros), rank, pk)


@dataclass(frozen=True)
class TrailFilter:
    """What the Activity filters asked for, already validated (`dashboard.forms`)."""

    actor: str = ""
    kind: str = ""
    object_type: str = ""
    object_id: str = ""
    since: date | None = None
    until: date | None = None


@dataclass(frozen=True)
class Entry:
    """One line of the trail, whatever its source."""

    source: str
    at: datetime
    record: Any

    @property
    def cursor(self) -> Cursor:
        return Cursor(self.at, RANK[self.source], self.record.pk)

    @property
    def sort_key(self) -> tuple[datetime, int, int]:
        return (self.at, RANK[self.source], self.record.pk)


def _after(cursor: Cursor, source: str) -> Q:
    """Rows of `source` that come after the cursor in (time, rank, id) descending order."""
    rank = RANK[source]
    if rank < cursor.rank:
        return Q(created_at__lte=cursor.at)
    if rank > cursor.rank:
        return Q(created_at__lt=cursor.at)
    return Q(created_at__lt=cursor.at) | Q(created_at=cursor.at, id__lt=cursor.pk)


def _dates(qs: QuerySet, wanted: TrailFilter) -> QuerySet:
    if wanted.since:
        qs = qs.filter(created_at__gte=day_start(wanted.since))
    if wanted.until:
        qs = qs.filter(created_at__lte=day_end(wanted.until))
    return qs


def _as_uuid(value: str) -> UUID | None:
    try:
        return UUID(value)
    except ValueError:
        return None


def request_events(wanted: TrailFilter) -> QuerySet[RequestEvent] | None:
    """Request history rows for these filters, or None when the filters exclude them."""
    if wanted.kind not in ("", REQUEST) or wanted.object_type not in ("", "request"):
        return None
    qs = RequestEvent.objects.select_related("request").only(
        *("kind", "actor_name", "channel", "message", "created_at", "response_ms"),
        *("request__public_id", "request__requester_name", "request__connector_name"),
        "request__first_tool_key",
        "request__tool_count",
    )
    if wanted.object_id:
        public_id = _as_uuid(wanted.object_id)
        if public_id is None:
            return None
        # The request's key first (one query), so the events come from their request's index.
        pk = AccessRequest.objects.filter(public_id=public_id).values_list("pk", flat=True).first()
        qs = qs.filter(request_id=pk or 0)
    if wanted.actor:
        qs = qs.filter(actor_name__icontains=wanted.actor)
    return _dates(qs, wanted)


def api_decisions(wanted: TrailFilter) -> QuerySet[DecisionLog] | None:
    """API decisions for these filters (an object filter is about requests and changes)."""
    if wanted.kind not in ("", DECISION) or wanted.object_type or wanted.object_id:
        return None
    qs = DecisionLog.objects.defer("tool_decisions", "policy_ids")
    if wanted.actor:
        qs = qs.filter(user_ref__icontains=wanted.actor)
    return _dates(qs, wanted)


def admin_changes(wanted: TrailFilter) -> QuerySet[AuditEntry] | None:
    """Changes made in the console (and by imports) for these filters."""
    if wanted.kind not in ("", CHANGE) or wanted.object_type == "request":
        return None
    qs = AuditEntry.objects.defer("actor")
    if wanted.object_type:
        qs = qs.filter(object_type=wanted.object_type)
    if wanted.object_id:
        qs = qs.filter(object_id=wanted.object_id)
    if wanted.actor:
        qs = qs.filter(actor_name__icontains=wanted.actor)
    return _dates(qs, wanted)


BRANCHES = ((REQUEST, request_events), (DECISION, api_decisions), (CHANGE, admin_changes))


def trail_page(wanted: TrailFilter, cursor: Cursor | None, size: int) -> tuple[list[Entry], bool]:
    """Up to `size` entries after `cursor`, newest first, and whether more follow.

    - One query per source the filters leave in, each `ORDER BY created_at DESC, id DESC
      LIMIT size + 1` on its time index.
    """
    lists = []
    for source, rows in BRANCHES:
        qs = rows(wanted)
        if qs is None:
            continue
        if cursor is not None:
            qs = qs.filter(_after(cursor, source))
        records = qs.order_by("-created_at", "-id")[: size + 1]
        lists.append([Entry(source, record.created_at, record) for record in records])
    merged = list(heapq.merge(*lists, key=lambda entry: entry.sort_key, reverse=True))
    return merged[:size], len(merged) > size


def trail_iter(wanted: TrailFilter, batch: int = 1000) -> Iterator[Entry]:
    """Every entry for these filters, newest first, read a batch at a time (for the CSV export)."""
    cursor = None
    while True:
        entries, more = trail_page(wanted, cursor, batch)
        yield from entries
        if not more or not entries:
            return
        cursor = entries[-1].cursor

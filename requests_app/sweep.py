"""The sweep: claims due deadlines from PostgreSQL and acts on each exactly once.

- Deadlines are columns of the request (timeout_at, escalate_at, next_reminder_at). A batch of
  due rows is claimed with `SELECT … FOR UPDATE SKIP LOCKED` in a short transaction, acted on,
  and its deadlines moved in that same transaction: sweeps running side by side (beat, a second
  beat by mistake, `manage.py process_due`) never handle one deadline twice.
- The notification rows a reminder or an escalation causes are written in the claiming
  transaction (the outbox), so a crash loses or repeats nothing.
- A batch that fails is retried one request at a time, so one broken request cannot stall the
  others; it is reported and left for the next sweep.
- The sweep also hands due notifications and webhook deliveries to the workers.
"""

from __future__ import annotations

import logging
import multiprocessing
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded
from django.db import connections, transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from agenwork.broker import broker_refused, publish
from approval_flows.models import ApprovalFlow, ApprovalLevel
from approval_flows.notifications import NOTIFICATIONS, notification_due_ids
from connectors.models import Connector
from directory.models import Person
from requests_app import notify
from requests_app.models import AccessRequest, Channel, RequestEvent
from requests_app.notify_bulk import HAND_OUT_TASK, notify_reminders
from requests_app.outcomes import SYSTEM
from requests_app.services import request_time_out
from requests_app.webhooks import WEBHOOKS, webhook_due_ids

logger = logging.getLogger(__name__)

PENDING = AccessRequest.Status.PENDING
# What the sweep does, in this order: a request that times out is not reminded first.
DEADLINES = (
    ("timeouts", "timeout_at"),
    ("escalations", "escalate_at"),
    ("reminders", "next_reminder_at"),
)
PREVIEW_ROWS = 20

Handler = Callable[[list[AccessRequest], datetime], int]


@dataclass
class SweepReport:
    """What one sweep did (or, in a dry run, what is due)."""

    now: datetime
    dry_run: bool = False
    timeouts: int = 0
    escalations: int = 0
    reminders: int = 0
    notifications: int = 0
    webhooks: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)
    due: dict[str, list[str]] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        """Counts per kind, for logs, the Celery result and process_due."""
        kinds = ("timeouts", "escalations", "reminders", "notifications", "webhooks", "failed")
        return {kind: getattr(self, kind) for kind in kinds}


def sweep_due(
    *,
    now: datetime | None = None,
    batch: int = 500,
    dry_run: bool = False,
    workers: int = 1,
    budget: float | None = None,
) -> SweepReport:
    """Hand due messages to the workers, then act once on every deadline due at `now`.

    - `now` is the sweep's clock (tests move it forward instead of sleeping).
    - `dry_run`: count and list what is due, change nothing, enqueue nothing.
    - `workers` > 1 forks helper processes that claim the same deadlines side by side, for a
      large backlog on a machine with several cores; call it outside any transaction and
      outside a daemonic process (a Celery prefork child keeps 1).
    - `budget`: seconds after which no new batch is claimed; the rest waits for the next sweep
      (beat's sweep stays inside the task time limit).
    """
    report = SweepReport(now=now or timezone.now(), dry_run=dry_run)
    if dry_run:
        return _preview(report)
    _hand_off_messages(report)
    stop_at = time.monotonic() + budget if budget is not None else None
    if workers > 1:
        _with_helpers(report, batch, workers, stop_at)
    else:
        _act_on_deadlines(report, batch, stop_at)
    logger.info("sweep at %s: %s", report.now.isoformat(), report.counts())
    return report


def _act_on_deadlines(report: SweepReport, batch: int, stop_at: float | None) -> None:
    levels = _flow_positions()
    handlers: dict[str, Handler] = {
        "timeouts": _time_out_batch,
        "escalations": lambda rows, now: _escalate_batch(rows, now, levels),
        "reminders": _remind_batch,
    }
    for kind, column in DEADLINES:
        done = _drain(kind, column, handlers[kind], report, batch, stop_at)
        setattr(report, kind, getattr(report, kind) + done)


def _with_helpers(report: SweepReport, batch: int, workers: int, stop_at: float | None) -> None:
    """Fork `workers - 1` helpers that drain the deadlines alongside this process; add up."""
    connections.close_all()  # a forked child must not share this process's connections
    context = multiprocessing.get_context("fork")
    helpers = []
    for _ in range(workers - 1):
        receiver, sender = context.Pipe(duplex=False)
        arguments = (report.now, batch, stop_at, sender)
        process = context.Process(target=_helper, args=arguments, daemon=True)
        process.start()
        helpers.append((process, receiver))
    _act_on_deadlines(report, batch, stop_at)
    for process, receiver in helpers:
        process.join()
        if not receiver.poll():
            report.errors.append(f"a sweep helper exited with code {process.exitcode}")
            continue
        counts, errors = receiver.recv()
        for kind in ("timeouts", "escalations", "reminders", "failed"):
            setattr(report, kind, getattr(report, kind) + counts[kind])
        report.errors += errors


def _helper(now: datetime, batch: int, stop_at: float | None, sender: Any) -> None:
    """A forked helper: drain the deadlines with its own connection, send back its counts."""
    report = SweepReport(now=now)
    try:
        _act_on_deadlines(report, batch, stop_at)
    except Exception as exc:
        logger.exception("sweep helper failed")
        report.errors.append(f"a sweep helper failed: {type(exc).__name__}: {exc}"[:300])
    finally:
        connections.close_all()
    sender.send((report.counts(), report.errors[:20]))


# --- claiming ------------------------------------------------------------------------------


def _due(column: str, now: datetime) -> QuerySet[AccessRequest]:
    return AccessRequest.objects.filter(status=PENDING, **{f"{column}__lte": now})


def _claim(column: str, now: datetime, limit: int, skip: set[int]) -> list[AccessRequest]:
    """Lock up to `limit` due rows that no other transaction holds, oldest deadline first."""
    rows = _due(column, now).exclude(pk__in=skip) if skip else _due(column, now)
    rows = rows.select_for_update(skip_locked=True)
    return _with_related(list(rows.order_by(column, "pk")[:limit]))


def _with_related(rows: list[AccessRequest]) -> list[AccessRequest]:
    """Attach what the messages read (flow, connector, requester): one query each per batch.

    - A batch shares a few flows and connectors: one instance each instead of one per row.
    """
    flows = ApprovalFlow.objects.in_bulk({row.flow_id for row in rows if row.flow_id})
    connectors = Connector.objects.in_bulk({row.connector_id for row in rows})
    requesters = Person.objects.in_bulk({row.requester_id for row in rows})
    for row in rows:
        row.flow = flows.get(row.flow_id)
        row.connector = connectors[row.connector_id]
        row.requester = requesters[row.requester_id]
    return rows


def _drain(
    kind: str, column: str, handle: Handler, report: SweepReport, batch: int, stop_at: float | None
) -> int:
    """Claim and handle batches until nothing due is left (or time is up); return how many."""
    done, skip = 0, set[int]()
    while stop_at is None or time.monotonic() < stop_at:
        claimed: list[int] = []
        try:
            with transaction.atomic():
                rows = _claim(column, report.now, batch, skip)
                claimed = [row.pk for row in rows]
                done += handle(rows, report.now) if rows else 0
        except SoftTimeLimitExceeded:
            raise
        except Exception:
            if not claimed:
                raise
            logger.exception("sweep: a batch of %s failed; retrying it one by one", kind)
            done += _one_by_one(kind, column, handle, report, claimed, skip)
            continue
        if len(claimed) < batch:
            return done
    report.errors.append(f"{kind}: time is up; the rest waits for the next sweep")
    return done


def _one_by_one(
    kind: str, column: str, handle: Handler, report: SweepReport, ids: list[int], skip: set[int]
) -> int:
    """Handle a failed batch request by request; the ones that fail again wait for next time."""
    done = 0
    for pk in ids:
        try:
            with transaction.atomic():
                rows = _claim_one(column, report.now, pk)
                done += handle(rows, report.now) if rows else 0
        except SoftTimeLimitExceeded:
            raise
        except Exception as exc:
            skip.add(pk)
            report.failed += 1
            report.errors.append(f"{kind} of request {pk}: {type(exc).__name__}: {exc}"[:300])
            logger.exception("sweep: %s of request %s failed", kind, pk)
    return done


def _claim_one(column: str, now: datetime, pk: int) -> list[AccessRequest]:
    rows = _due(column, now).filter(pk=pk).select_for_update(skip_locked=True)
    return _with_related(list(rows))


# --- acting --------------------------------------------------------------------------------


def _time_out_batch(rows: list[AccessRequest], now: datetime) -> int:
    """Apply each flow's timeout outcome (auto-approve, deny or expire)."""
    for access_request in rows:
        request_time_out(access_request=access_request)
    return len(rows)


def _flow_positions() -> dict[int, list[int]]:
    """Every flow's level positions in order, read once per sweep."""
    positions: dict[int, list[int]] = defaultdict(list)
    for flow_id, position in ApprovalLevel.objects.order_by("flow_id", "position").values_list(
        "flow_id", "position"
    ):
        positions[flow_id].append(position)
    return positions


def _escalate_batch(rows: list[AccessRequest], now: datetime, levels: dict[int, list[int]]) -> int:
    """Ask the next level; the escalation deadline moves on while another level remains."""
    moved: dict[tuple[int, datetime | None], list[int]] = defaultdict(list)
    events = []
    for access_request in rows:
        positions = levels.get(access_request.flow_id, [])
        higher = [p for p in positions if p > access_request.current_level]
        if not higher:
            moved[(access_request.current_level, None)].append(access_request.pk)
            continue
        access_request.current_level = level = higher[0]
        queued = notify.notify_escalation(access_request, level=level)
        after = access_request.flow.escalate_after
        next_at = now + after if len(higher) > 1 and after and after.total_seconds() > 0 else None
        moved[(level, next_at)].append(access_request.pk)
        data = {"level": level, "queued": queued}
        events.append(
            _event(access_request, RequestEvent.Kind.ESCALATED, f"Escalated to level {level}", data)
        )
    for (level, next_at), ids in moved.items():
        _update(ids, current_level=level, escalate_at=next_at)
    RequestEvent.objects.bulk_create(events)
    return len(events)


def _remind_batch(rows: list[AccessRequest], now: datetime) -> int:
    """Send the next reminder; the next one is due after `reminder_repeat`, up to the maximum.

    - The messages go through `notify_reminders`, the bulk form of `notify.notify_reminder`.
    """
    moved: dict[tuple[bool, datetime | None], list[int]] = defaultdict(list)
    items = []
    for access_request in rows:
        flow = access_request.flow
        sequence = access_request.reminders_sent + 1
        if flow is None or sequence > flow.max_reminders:
            moved[(False, None)].append(access_request.pk)
            continue
        repeat = flow.reminder_repeat
        more = sequence < flow.max_reminders and repeat and repeat.total_seconds() > 0
        moved[(True, now + repeat if more else None)].append(access_request.pk)
        items.append((access_request, sequence))
    queued = notify_reminders(items)
    for (sent, next_at), ids in moved.items():
        extra = {"reminders_sent": F("reminders_sent") + 1} if sent else {}
        _update(ids, next_reminder_at=next_at, **extra)
    RequestEvent.objects.bulk_create(
        _event(
            r,
            RequestEvent.Kind.REMINDED,
            f"Reminder {seq} sent",
            {"sequence": seq, "queued": queued[r.pk]},
        )
        for r, seq in items
    )
    return len(items)


def _update(ids: Sequence[int], **fields: object) -> None:
    AccessRequest.objects.filter(pk__in=ids, status=PENDING).update(
        updated_at=timezone.now(), **fields
    )


def _event(access_request: AccessRequest, kind: str, message: str, data: dict) -> RequestEvent:
    return RequestEvent(
        request=access_request,
        kind=kind,
        actor_name=SYSTEM.name,
        channel=Channel.SYSTEM,
        message=message,
        data=data,
        created_at=timezone.now(),
    )


# --- messages ------------------------------------------------------------------------------


def _hand_off_messages(report: SweepReport) -> None:
    """Give due notifications and webhook deliveries to the workers (the broker may be down)."""
    due = notification_due_ids(now=report.now)
    # One message for them all: a worker fans the sends out.
    handed = _enqueue(report, "notifications", [due] if due else [], HAND_OUT_TASK)
    report.notifications = len(due) if handed else 0
    webhooks = webhook_due_ids(now=report.now)
    report.webhooks = _enqueue(report, "webhooks", webhooks, WEBHOOKS.task)


def _enqueue(report: SweepReport, kind: str, arguments: Sequence[Any], task: str) -> int:
    """Publish one task per argument; stop at the first refusal (the rows stay due)."""
    for handed, argument in enumerate(arguments):
        try:
            publish(task, argument)
        except Exception as exc:
            report.errors.append(f"{kind}: the broker refused ({type(exc).__name__}: {exc})"[:300])
            logger.warning("sweep: could not enqueue %s: %s", kind, exc)
            broker_refused()
            return handed
    return len(arguments)


# --- dry run -------------------------------------------------------------------------------


def _preview(report: SweepReport) -> SweepReport:
    """Count what is due and list the first requests of each kind; write nothing."""
    for kind, column in DEADLINES:
        due = _due(column, report.now)
        setattr(report, kind, due.count())
        first = due.order_by(column, "pk").values_list("public_id", column)[:PREVIEW_ROWS]
        report.due[kind] = [f"{public_id} due {when.isoformat()}" for public_id, when in first]
    report.notifications = NOTIFICATIONS.waiting(now=report.now).count()
    report.webhooks = WEBHOOKS.waiting(now=report.now).count()
    return report

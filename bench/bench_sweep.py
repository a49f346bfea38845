"""The sweep over 100,000 due reminders: one `sweep_due` to completion, then duplicates counted.

Usage: python -m bench.bench_sweep [--requests N] [--batch B] [--workers W]  (migrates first)

- Setup (untimed): a flow of its own ("Bench sweep", email, one approver named at level 1,
  reminders every hour up to 3) gets 100,000 pending requests from one requester, each with one
  tool and its first reminder due, written with bulk inserts.
- The sweep's clock is set to 1 January 2000 and the bench's reminders are due a minute before
  it: nothing of the demo data is due then, so the sweep handles exactly these and leaves the
  demo requests (and their deadlines) as they are.
- Timed: one `sweep_due(now=<that clock>, workers=<cores>)`: this process and one forked
  helper per extra core claim batches of 500 with SKIP LOCKED; for each request the reminder
  email is rendered with a fresh single-use link and written to the outbox, the reminder
  deadline moves and a "reminded" event is appended, all in the batch's transaction; after
  each commit one task hands the batch's messages to the workers.
- Tasks go to an in-process broker during the run: the bench's notification ids must never
  reach a real worker (a publish costs well under a millisecond per batch of 500).
- Then counted: reminder messages and "reminded" events per request (exactly one of each, so
  zero duplicates) and requests still due (zero); the bench's rows (dedupe key "bench-sweep:")
  are then deleted.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

if __package__ in (None, ""):  # run as `python bench/bench_sweep.py`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import Result, delete_requests

REQUESTS = 100_000
TARGET_SECONDS = 60.0
MARK = "bench-sweep:"
# The sweep's clock: before any deadline of the demo data, after the bench's reminders.
CLOCK = datetime(2000, 1, 1, tzinfo=UTC)
INSERT_BATCH = 5_000


def _fixtures():
    """The flow, its approver, the requester and the tool the bench's requests use."""
    from approval_flows.models import ApprovalFlow, ApprovalLevel
    from connectors.models import Connector, Tool
    from directory.models import Person

    flow, _ = ApprovalFlow.objects.update_or_create(
        name="Bench sweep",
        defaults={
            "channel_email": True,
            "channel_sms": False,
            "min_approvals": 1,
            "reminder_after": timedelta(hours=1),
            "reminder_repeat": timedelta(hours=1),
            "max_reminders": 3,
            "escalate_after": None,
            "timeout_after": timedelta(hours=24),
            "notify_requester": False,
        },
    )
    approver, _ = Person.objects.get_or_create(
        email="bench-approver@example.com", defaults={"name": "Bench Approver"}
    )
    level, _ = ApprovalLevel.objects.get_or_create(flow=flow, position=1)
    level.people.set([approver])
    requester, _ = Person.objects.get_or_create(
        email="bench-requester@example.com", defaults={"name": "Bench Requester"}
    )
    connector, _ = Connector.objects.get_or_create(
        slug="bench-sweep", defaults={"name": "Bench sweep", "status": "connected"}
    )
    tool, _ = Tool.objects.get_or_create(connector=connector, key="bench-sweep_events_create")
    return flow, requester, connector, tool


def _remove_previous_run() -> None:
    """Delete the rows an earlier run left."""
    delete_requests("dedupe_key LIKE %s", MARK + "%")


def create_due_reminders(count: int) -> None:
    """`count` pending requests of the bench flow whose first reminder is due a minute ago."""
    from django.utils import timezone

    from requests_app.models import AccessRequest, RequestTool

    flow, requester, connector, tool = _fixtures()
    now = timezone.now()
    for start in range(0, count, INSERT_BATCH):
        rows = AccessRequest.objects.bulk_create(
            AccessRequest(
                requester=requester,
                requester_name=requester.name,
                requester_identifier=requester.email,
                connector=connector,
                connector_name=connector.name,
                first_tool_key=tool.key,
                tool_keys=tool.key,
                dedupe_key=f"{MARK}{n}",
                flow=flow,
                requested_at=CLOCK - timedelta(hours=1, minutes=1),
                next_reminder_at=CLOCK - timedelta(minutes=1),
                timeout_at=now + timedelta(hours=23),
            )
            for n in range(start, min(start + INSERT_BATCH, count))
        )
        RequestTool.objects.bulk_create(RequestTool(request=row, tool=tool) for row in rows)


def _duplicates() -> tuple[int, int, int]:
    """Requests with other than one reminder message, other than one event, and still due."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT
              count(*) FILTER (WHERE coalesce(m.n, 0) <> 1),
              count(*) FILTER (WHERE coalesce(e.n, 0) <> 1),
              count(*) FILTER (WHERE r.next_reminder_at <= %s)
            FROM requests_app_accessrequest r
            LEFT JOIN (
              SELECT request_public_id, count(*) AS n FROM approval_flows_notification
              WHERE occasion = 'reminder' GROUP BY request_public_id
            ) m ON m.request_public_id = r.public_id
            LEFT JOIN (
              SELECT request_id, count(*) AS n FROM requests_app_requestevent
              WHERE kind = 'reminded' GROUP BY request_id
            ) e ON e.request_id = r.id
            WHERE r.dedupe_key LIKE %s
            """,
            [CLOCK, MARK + "%"],
        )
        return cursor.fetchone()


@contextmanager
def _private_broker() -> Iterator[None]:
    """Publish to an in-process broker: the bench's task ids must never reach a real worker."""
    from agenwork.celery import celery_settings

    with celery_settings(broker_url="memory://"):
        yield


def run(requests: int = REQUESTS, batch: int = 500, workers: int | None = None) -> list[Result]:
    """Create `requests` due reminders, time one sweep over them, count duplicates."""
    workers = workers or os.cpu_count() or 1
    with _private_broker():
        _remove_previous_run()
        started = time.perf_counter()
        create_due_reminders(requests)
        print(f"  {requests:,} due reminders written in {time.perf_counter() - started:.1f} s")
        seconds, report = _timed_sweep(batch, workers)
        duplicates = _duplicates()
        _remove_previous_run()
    results = _results(requests, batch, workers, seconds, report.reminders, duplicates)
    for result in results:
        print(result.line(), flush=True)
    return results


def _results(
    requests: int,
    batch: int,
    workers: int,
    seconds: float,
    reminded: int,
    duplicates: tuple[int, int, int],
) -> list[Result]:
    bad_messages, bad_events, still_due = duplicates
    rate = reminded / seconds if seconds else 0.0
    note = (
        f"{reminded:,} reminders in batches of {batch}, {workers} processes ({rate:,.0f}/s); "
        f"requests with other than one reminder message: {bad_messages}, "
        f"other than one event: {bad_events}; still due: {still_due}"
    )
    ok_time = seconds <= TARGET_SECONDS and reminded >= requests
    name = f"{requests:,} due reminders, one sweep"
    ok_once = bad_messages == bad_events == still_due == 0
    return [
        Result("Sweep", name, seconds, "s", "≤ 60 s", ok_time, note),
        Result(
            "Sweep",
            "duplicate reminders",
            float(bad_messages + bad_events),
            "rows",
            "0",
            ok_once,
            "counted per request: outbox rows and events",
        ),
    ]


def _timed_sweep(batch: int, workers: int):
    """Seconds of one `sweep_due` over what is due now, and its report."""
    from django.db import connection

    from requests_app.sweep import sweep_due

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE requests_app_accessrequest")
    started = time.perf_counter()
    report = sweep_due(now=CLOCK, batch=batch, workers=workers)
    return time.perf_counter() - started, report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=REQUESTS)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--workers", type=int, default=None, help="default: one per core")
    args = parser.parse_args()
    from bench.__main__ import create_database
    from bench.common import BENCH_DATABASE_URL, setup_django

    create_database(os.environ.get("DATABASE_URL", BENCH_DATABASE_URL))
    setup_django()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    results = run(args.requests, args.batch, args.workers)
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())

"""From a request created to its approver's email in the SMTP server, with one Celery worker.

Method: an aiosmtpd server in this process records when each message arrives; one
`celery worker -P solo -c 1` subprocess (Redis broker, db `BENCH_REDIS_DB`, flushed first) sends
the outbox to it. The bench's requests use the sweep bench's flow (email only, one approver) and a
Request approval policy of their own. Every `INTERVAL` seconds this process decides one call
(`requests_app.decisions.decide_call`, the API's own path: the request, its outbox row and the
task published after commit) with a note that names it; the latency of a request is the time from
just before that call to the arrival of the email that carries its note. The bench's rows (agent
"bench-email-latency") are deleted afterwards.
"""

from __future__ import annotations

import logging
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

from bench.common import Result, delete_requests, percentile, summary

REQUESTS = 100
INTERVAL = 0.1
TARGET_P95_S = 2.0
AGENT = "bench-email-latency"
BENCH_REDIS_DB = 7
ROOT = Path(__file__).resolve().parent.parent
NOTE = re.compile(r"bench-email #(\d+)")


class Inbox:
    """An aiosmtpd handler that notes when the mail naming each request arrives."""

    def __init__(self) -> None:
        self.arrived: dict[int, float] = {}
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope) -> str:
        at = time.time()
        found = NOTE.search(envelope.content.decode("utf-8", "replace"))
        if found:
            with self.lock:
                self.arrived.setdefault(int(found.group(1)), at)
        return "250 OK"


def _policy():
    """A Request approval policy routing the bench requester's calls to the bench flow."""
    from bench.bench_sweep import _fixtures
    from policies.models import Policy
    from policies.snapshot import bump_snapshot_version

    flow, requester, connector, tool = _fixtures()
    policy, _ = Policy.objects.update_or_create(
        name="Bench email latency",
        defaults={
            "connector": connector,
            "action": "approval_required",
            "approval_flow": flow,
            "all_users": False,
        },
    )
    policy.users.set([requester])
    policy.tools.set([tool])
    bump_snapshot_version()
    return requester, connector, tool


def _remove_previous_run() -> None:
    """Delete the bench's requests and the decisions it logged."""
    from django.db import connection

    delete_requests("agent = %s", AGENT)
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM policies_decisionlog WHERE agent = %s", [AGENT])


def _broker_url() -> str:
    parts = urlsplit(os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0")
    return f"redis://{parts.netloc}/{BENCH_REDIS_DB}"


@contextmanager
def _worker_and_broker(smtp_port: int):
    """One solo worker on the bench broker, and this process publishing to it."""
    import redis
    from django.db import connection

    from agenwork.celery import celery_settings

    broker = _broker_url()
    redis.Redis.from_url(broker).flushdb()
    conf = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{conf['USER']}@{conf['HOST'] or '127.0.0.1'}:"
        f"{conf['PORT'] or 5432}/{conf['NAME']}",
        "CELERY_BROKER_URL": broker,
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(smtp_port),
        "DEBUG": "false",
    }
    log_path = Path(tempfile.mkstemp(suffix=".log")[1])
    log = log_path.open("w")
    command = [sys.executable, "-m", "celery", "-A", "agenwork", "worker", "-P", "solo"]
    command += ["-c", "1", "--without-heartbeat", "--without-mingle", "--without-gossip"]
    command += ["-l", "INFO"]
    worker = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        with celery_settings(broker_url=broker, task_always_eager=False):
            _wait_ready(log_path, worker)
            yield
    finally:
        worker.terminate()
        worker.wait(timeout=30)
        log.close()
        log_path.unlink(missing_ok=True)


def _wait_ready(log: Path, worker: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while " ready." not in log.read_text(errors="replace"):
        if worker.poll() is not None or time.monotonic() > deadline:
            raise SystemExit("the Celery worker did not start:\n" + log.read_text()[-2000:])
        time.sleep(0.2)


def _create_requests(count: int) -> dict[int, float]:
    """Decide `count` calls that each need approval, one every INTERVAL s; when each began."""
    from policies.evaluation import Call
    from requests_app.decisions import decide_call

    requester, connector, tool = _policy()
    started: dict[int, float] = {}
    for n in range(count):
        started[n] = time.time()
        outcome = decide_call(
            call=Call(user=requester.email, connector=connector.slug, tools=(tool.key,)),
            api_key=None,
            note=f"bench-email #{n}",
            agent=AGENT,
            arguments={"n": n},
        )
        if outcome.access_request is None:
            raise SystemExit(f"the bench call was not sent for approval: {outcome.decision}")
        time.sleep(max(0.0, started[n] + INTERVAL - time.time()))
    return started


def run(requests: int = REQUESTS) -> list[Result]:
    """Create requests at a steady pace and time each one's email to the SMTP server."""
    from aiosmtpd.controller import Controller

    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd's per-connection lines
    inbox = Inbox()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        _remove_previous_run()
        with _worker_and_broker(port):
            started = _create_requests(requests)
            deadline = time.monotonic() + 60
            while len(inbox.arrived) < requests and time.monotonic() < deadline:
                time.sleep(0.1)
    finally:
        controller.stop()
        _remove_previous_run()
    samples = [(inbox.arrived[n] - started[n]) * 1000 for n in started if n in inbox.arrived]
    missing = requests - len(samples)
    p95 = percentile(samples, 95) / 1000 if samples else float("inf")
    note = f"{len(samples)} of {requests} emails arrived; {summary(samples) if samples else 'none'}"
    result = Result(
        "Notifications",
        "request created → email at the SMTP server, 1 worker",
        p95,
        "s p95",
        "≤ 2 s",
        p95 <= TARGET_P95_S and missing == 0,
        note,
    )
    print(result.line(), flush=True)
    return [result]

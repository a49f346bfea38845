"""A real Celery worker (subprocess) on Redis, the test database, and the network stand-ins.

- The worker runs `celery -A agenwork worker -P solo` with the environment pointing at the
  pytest database (tests here are transactional, so it sees committed rows), at a Redis broker
  (db `INTEGRATION_REDIS_DB` of the shared server, flushed first, or a private server), at the
  aiosmtpd server and at the Twilio stand-in.
- This process publishes to the same broker: `in_process_broker` repoints the Celery app.
- A scenario: Ana asks through the gateway API for a calendar tool that a Request approval
  policy routes to a flow asking Dana (email and SMS) and Eli (email).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import pytest
import redis
from django.db import connection
from django.test import Client

from agenwork.celery import celery_settings
from approval_flows.models import ApprovalFlow
from connectors.models import Tool
from directory.models import Person
from gateways.services import api_key_create
from policies.models import Policy
from policies.services import PolicyData, policy_create
from requests_app.models import AccessRequest
from tests.factories import (
    ApprovalFlowFactory,
    ApprovalLevelFactory,
    ConnectorFactory,
    PersonFactory,
    ToolFactory,
)
from tests.support.smtp import SmtpServer, smtp_server  # noqa: F401 (a fixture)
from tests.support.twilio import TwilioServer, twilio_server  # noqa: F401 (a fixture)
from tests.support.webhooks import receiver  # noqa: F401 (a fixture)

ROOT = Path(__file__).resolve().parents[2]
CELERY = ROOT / ".venv" / "bin" / "celery"
INTEGRATION_REDIS_DB = int(os.environ.get("INTEGRATION_REDIS_DB", "9"))
WORKER_START_SECONDS = 60


def wait_for(
    check: Callable[[], Any], *, timeout: float, what: str | Callable[[], str], every: float = 0.1
) -> Any:
    """Poll `check` until it returns something truthy; fail with `what` after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            detail = what() if callable(what) else what
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {detail}")
        time.sleep(every)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- brokers -------------------------------------------------------------------------------


def shared_redis_url() -> str:
    """Our own db of the shared Redis (REDIS_URL's server, default 127.0.0.1:6379)."""
    parts = urlsplit(os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0")
    return f"redis://{parts.netloc}/{INTEGRATION_REDIS_DB}"


@pytest.fixture
def shared_broker() -> str:
    """The shared Redis db of these tests, emptied first (only these tests use it)."""
    url = shared_redis_url()
    try:
        redis.Redis.from_url(url, socket_connect_timeout=3).flushdb()
    except redis.RedisError as exc:
        pytest.fail(f"Redis at {url} does not answer ({exc}); start it or set REDIS_URL")
    return url


@contextmanager
def in_process_broker(url: str) -> Iterator[None]:
    """Publish from this process to `url` for the block (the settings chose one at start).

    - Tasks really go to the broker: eager mode left on by another test is switched off too.
    """
    with celery_settings(broker_url=url, task_always_eager=False):
        yield


class PrivateRedis:
    """A redis-server of our own on a free port, in a temporary directory, without persistence."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        command = ["redis-server", "--bind", "127.0.0.1", "--port", str(self.port)]
        command += ["--save", "", "--appendonly", "no", "--dir", str(self.directory)]
        log = (self.directory / "redis.log").open("ab")
        self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        client = redis.Redis(port=self.port, socket_connect_timeout=1)
        wait_for(lambda: _answers(client), timeout=15, what="the private redis-server")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=15)


def _answers(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(tmp_path)
    server.start()
    yield server
    server.stop()


# --- the worker ----------------------------------------------------------------------------


def database_url() -> str:
    """The pytest database, as a URL the worker's settings understand."""
    conf = connection.settings_dict
    auth = quote(conf["USER"] or "")
    if conf["PASSWORD"]:
        auth += ":" + quote(conf["PASSWORD"])
    host = f"{conf['HOST'] or '127.0.0.1'}:{conf['PORT'] or 5432}"
    return f"postgres://{auth}@{host}/{conf['NAME']}"


def worker_env(broker_url: str, smtp: SmtpServer, twilio: TwilioServer) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": database_url(),
        "CELERY_BROKER_URL": broker_url,
        "EMAIL_HOST": smtp.host,
        "EMAIL_PORT": str(smtp.port),
        "EMAIL_TIMEOUT": "10",
        "TWILIO_ACCOUNT_SID": twilio.account_sid,
        "TWILIO_AUTH_TOKEN": twilio.auth_token,
        "TWILIO_FROM_NUMBER": twilio.from_number,
        "TWILIO_API_BASE_URL": twilio.base_url,
        "DEBUG": "false",
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "PYTHONUNBUFFERED": "1",
    }


@dataclass
class Worker:
    """One `celery worker` subprocess; its log is kept in a file for failure messages."""

    env: dict[str, str]
    log_path: Path
    concurrency: int = 1
    process: subprocess.Popen[bytes] | None = None
    # As deployed (Procfile, compose): a prefork pool with heartbeats, mingle and gossip on.
    # Otherwise they are off, for a quicker start.
    as_deployed: bool = False

    def start(self) -> Worker:
        name = f"integration-{uuid.uuid4().hex[:8]}@%h"
        pool = ["-P", "solo"] if self.concurrency == 1 else ["-P", "prefork"]
        command = [str(CELERY), "-A", "agenwork", "worker", *pool, "-c", str(self.concurrency)]
        if not self.as_deployed:
            command += ["--without-heartbeat", "--without-mingle", "--without-gossip"]
        command += ["-l", "INFO", "-n", name]
        offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        log = self.log_path.open("ab")
        # A session of its own: a kill takes the pool's children with it, as a crash would.
        self.process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_for(
            lambda: self._ready(offset),
            timeout=WORKER_START_SECONDS,
            what=lambda: f"the Celery worker to start; its log:\n{self.log()}",
            every=0.2,
        )
        return self

    def _ready(self, offset: int) -> bool:
        if self.process and self.process.poll() is not None:
            pytest.fail(f"the Celery worker exited with {self.process.returncode}:\n{self.log()}")
        return " ready." in self.log_path.read_text(errors="replace")[offset:]

    def alive(self) -> bool:
        return bool(self.process) and self.process.poll() is None  # type: ignore[union-attr]

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:] if self.log_path.exists() else ""

    def kill(self) -> None:
        """SIGKILL to the worker and its pool: no cleanup, no acknowledgement, like a crash."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=15)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()
        if self.process:
            with suppress(ProcessLookupError):  # children left by a worker that stopped badly
                os.killpg(self.process.pid, signal.SIGKILL)


@pytest.fixture
def start_worker(tmp_path: Path) -> Iterator[Callable[..., Worker]]:
    """Start workers with the given environment (and pool size); all stop when the test ends."""
    started: list[Worker] = []

    def start(env: dict[str, str], concurrency: int = 1, as_deployed: bool = False) -> Worker:
        log_path = tmp_path / "worker.log"
        worker = Worker(env, log_path, concurrency, as_deployed=as_deployed).start()
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()
    connection.close()  # the worker's rows are committed; let pytest-django flush freely


@dataclass
class Beat:
    """`celery beat` as deployed, its schedule file and log in the test's folder."""

    env: dict[str, str]
    folder: Path
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> Beat:
        schedule = self.folder / "celerybeat-schedule"
        command = [str(CELERY), "-A", "agenwork", "beat", "-l", "INFO", "-s", str(schedule)]
        log = (self.folder / "beat.log").open("ab")
        self.process = subprocess.Popen(
            command, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT
        )
        return self

    def log(self) -> str:
        path = self.folder / "beat.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    def alive(self) -> bool:
        return bool(self.process) and self.process.poll() is None  # type: ignore[union-attr]

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()


@pytest.fixture
def start_beat(tmp_path: Path) -> Iterator[Callable[[dict[str, str]], Beat]]:
    """Start `celery beat` with the given environment; it stops when the test ends."""
    started: list[Beat] = []

    def start(env: dict[str, str]) -> Beat:
        beat = Beat(env, tmp_path).start()
        started.append(beat)
        return beat

    yield start
    for beat in started:
        beat.stop()


# --- the scenario --------------------------------------------------------------------------


@dataclass
class Scenario:
    """Who asks, who approves, and the gateway that asks."""

    ana: Person
    dana: Person
    eli: Person
    flow: ApprovalFlow
    tools: list[Tool]
    client: Client
    key: str

    def ask(self, tool_key: str) -> AccessRequest:
        """Ana's agent asks for one tool through the gateway API (the web path)."""
        body = {"user": self.ana.email, "connector": "google-calendar", "tools": [tool_key]}
        response = self.client.post(
            "/api/v1/decisions",
            body,
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {self.key}",
        )
        assert response.status_code == 200, response.content
        assert response.json()["decision"] == "approval_required", response.json()
        return AccessRequest.objects.get(public_id=response.json()["request"]["id"])


@pytest.fixture
def scenario(transactional_db) -> Scenario:
    ana = PersonFactory(name="Ana Lopez", email="ana@example.com")
    dana = PersonFactory(name="Dana Levi", email="dana@example.com", phone="+15550100")
    eli = PersonFactory(name="Eli Stone", email="eli@example.com")
    flow = ApprovalFlowFactory(name="Sales approvals", channel_email=True, channel_sms=True)
    ApprovalLevelFactory(flow=flow, position=1).people.add(dana, eli)
    connector = ConnectorFactory(slug="google-calendar", name="Google Calendar")
    tools = [
        ToolFactory(connector=connector, key=f"google-calendar_events_{verb}", access="write")
        for verb in ("create", "update", "move", "import")
    ]
    data = PolicyData(
        name="Calendar writes need approval",
        connector=connector,
        action=Policy.Action.APPROVAL,
        tools=tools,
        all_users=True,
        approval_flow=flow,
    )
    policy_create(data=data)
    key = api_key_create(name="integration gateway").raw_key
    return Scenario(ana, dana, eli, flow, tools, Client(), key)

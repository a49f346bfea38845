"""The MCP gateway as its own process for the tests, and the SDK's MCP client talking to it."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from django.db import connection
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp_types import Implementation

from directory.models import Person
from mcp_gateway.tokens import gateway_token_create
from mcp_gateway.upstreams import run_blocking
from policies.models import PolicySnapshotVersion
from tests.support.ports import free_port

TIME_UPSTREAM = {
    "time": {
        "command": sys.executable,
        "args": ["-m", "mcp_server_time", "--local-timezone", "UTC"],
    }
}
AGENT = Implementation(name="test-agent", version="1.2.3")


def database_url(name: str | None = None) -> str:
    """The test database's URL (or another database's on the same server), for the gateway."""
    conf = connection.settings_dict
    auth = quote(conf["USER"] or "") + (":" + quote(conf["PASSWORD"]) if conf["PASSWORD"] else "")
    host = f"{conf['HOST'] or '127.0.0.1'}:{conf['PORT'] or 5432}"
    return f"postgres://{auth}@{host}/{name or conf['NAME']}"


@dataclass
class Gateway:
    """`manage.py run_mcp_gateway` running on a free port."""

    process: subprocess.Popen
    base: str
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=20)


# Held calls: a short window and a quick poll, so that a test waits seconds, not the default 45 s.
HOLD_ENV = {"MCP_HOLD_SECONDS": "3", "MCP_HOLD_PROGRESS_SECONDS": "1", "MCP_HOLD_POLL_MS": "100"}


def start_gateway(
    upstreams: dict[str, Any],
    log: Path,
    *,
    database: str = "",
    port: int | None = None,
    **settings: str,
) -> Gateway:
    """Start the gateway in front of these stdio upstreams; return once /healthz answers.

    - `settings`: environment variables for the gateway, over HOLD_ENV (MCP_HOLD_SECONDS="30").
    - `port`: when the caller must know it first (MCP_GATEWAY_URL names it); else a free one.
    """
    port = port or free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database or database_url(),
        "MCP_UPSTREAMS": json.dumps(upstreams),
        "PYTHONUNBUFFERED": "1",
        **HOLD_ENV,
        **settings,
    }
    command = [sys.executable, "manage.py", "run_mcp_gateway", "--port", str(port)]
    with log.open("wb") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    gateway = Gateway(process=process, base=f"http://127.0.0.1:{port}", log=log)
    deadline = time.monotonic() + 60
    while health(gateway.base)[0] == 0:
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError("the gateway did not start: " + log.read_text())
        time.sleep(0.2)
    return gateway


def health(base: str) -> tuple[int, dict[str, Any]]:
    """/healthz's status and body; (0, {}) while nothing answers. Probes take a few seconds."""
    try:
        with urllib.request.urlopen(f"{base}/healthz", timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")
    except OSError:
        return 0, {}


# A gateway process outlives each test's rows: every test gets a snapshot version of its own, so
# the gateway never serves a snapshot it cached in an earlier test under the same number.
_versions = itertools.count(1_000_000, 1_000_000)


def fresh_snapshot_version() -> None:
    """Move the policy snapshot's version past any a running gateway may have cached."""
    PolicySnapshotVersion.objects.update_or_create(pk=1, defaults={"version": next(_versions)})


def token_of(person: Person, **kwargs: Any) -> str:
    return gateway_token_create(person=person, **kwargs).raw_token


async def _session(base: str, token: str, mode: str, work, options: dict[str, Any]):
    headers = {"Authorization": f"Bearer {token}"}
    async with create_mcp_http_client(headers=headers) as http:
        transport = streamable_http_client(f"{base}/mcp", http_client=http)
        async with Client(transport, client_info=AGENT, mode=mode, **options) as client:
            return await work(client)


def as_person(
    base: str,
    token: str,
    work: Callable[[Client], Awaitable[Any]],
    mode: str = "auto",
    **options: Any,
) -> Any:
    """Run `work(client)` in one MCP session carrying this token (options: the Client's)."""
    return run_blocking(_session, base, token, mode, work, options)


async def listed_tools(client: Client) -> dict[str, Any]:
    """The tools the session lists, by name."""
    return {tool.name: tool for tool in (await client.list_tools()).tools}


def call(name: str, arguments: dict[str, Any]) -> Callable[[Client], Awaitable[Any]]:
    async def work(client: Client) -> Any:
        return await client.call_tool(name, arguments)

    return work


def text_of(result: Any) -> str:
    return " ".join(getattr(part, "text", "") for part in result.content)

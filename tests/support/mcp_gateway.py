"""The MCP gateway as its own process, and the SDK's MCP client talking to it as one person.

- `running_gateway` starts `manage.py run_mcp_gateway` on a free port against the test's
  database (a transactional test: the process sees committed rows), waits until `/healthz`
  answers, and stops it afterwards.
- `as_person(base, token, work)` runs `work(client)` in one MCP session over Streamable HTTP
  carrying that gateway token, from synchronous test code.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from django.db import connection
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp_types import Implementation

from mcp_gateway.upstreams import run_blocking
from tests.support.ports import free_port

ROOT = Path(__file__).resolve().parents[2]
AGENT = Implementation(name="test-agent", version="1.2.3")
START_SECONDS = 60


def database_url() -> str:
    """The test database as a DATABASE_URL for another process."""
    conf = connection.settings_dict
    auth = quote(conf["USER"] or "") + (":" + quote(conf["PASSWORD"]) if conf["PASSWORD"] else "")
    return f"postgres://{auth}@{conf['HOST'] or '127.0.0.1'}:{conf['PORT'] or 5432}/{conf['NAME']}"


def healthy(base: str) -> bool:
    try:
        with urllib.request.urlopen(f"{base}/healthz", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


@contextmanager
def running_gateway(log_path: Path, **env: str) -> Iterator[str]:
    """`manage.py run_mcp_gateway` on a free port with `env` added; yields its base URL."""
    port = free_port()
    full_env = {**os.environ, "DATABASE_URL": database_url(), "PYTHONUNBUFFERED": "1", **env}
    command = [sys.executable, "manage.py", "run_mcp_gateway", "--port", str(port)]
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=full_env, stdout=log, stderr=log)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + START_SECONDS
    while not healthy(base):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            process.wait()
            pytest.fail("the gateway did not start: " + log_path.read_text())
        time.sleep(0.2)
    try:
        yield base
    finally:
        process.terminate()
        process.wait(timeout=20)


async def _session(base: str, token: str, mode: str, work: Callable[[Client], Awaitable[Any]]):
    headers = {"Authorization": f"Bearer {token}"}
    async with create_mcp_http_client(headers=headers) as http:
        transport = streamable_http_client(f"{base}/mcp", http_client=http)
        async with Client(transport, client_info=AGENT, mode=mode) as client:
            return await work(client)


def as_person(
    base: str, token: str, work: Callable[[Client], Awaitable[Any]], mode: str = "auto"
) -> Any:
    """Run `work(client)` in one MCP session carrying this token."""
    return run_blocking(_session, base, token, mode, work)


async def listed_tools(client: Client) -> dict[str, Any]:
    """The tools the session lists, by name."""
    return {tool.name: tool for tool in (await client.list_tools()).tools}


def call(name: str, arguments: dict[str, Any]) -> Callable[[Client], Awaitable[Any]]:
    async def work(client: Client) -> Any:
        return await client.call_tool(name, arguments)

    return work


def text_of(result: Any) -> str:
    return " ".join(getattr(part, "text", "") for part in result.content)

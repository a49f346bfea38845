"""Where a connector's upstream MCP server is, and a client session to it (the `mcp` SDK's).

- A Streamable HTTP URL with an optional Authorization header is set on the connector (the
  header encrypted, write-only); a stdio command is set only by ops, in MCP_UPSTREAMS (JSON, from
  the environment or the file MCP_UPSTREAMS_FILE names): {"time": {"command": "mcp-server-time",
  "args": [], "env": {}}}. A connector with both uses the command.
- A connector may set its own timeout (upstream_timeout_seconds), else MCP_UPSTREAM_TIMEOUT.
- Nothing here knows agenwork's rules: it opens sessions, lists tools and calls them. The gateway
  keeps one session per upstream open (pool.py); a command reads one with a session of its own.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

import anyio
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from mcp import Client
from mcp.client.session import MessageHandlerFnT
from mcp.client.stdio import StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp_types import Implementation

from agenwork.crypto import decrypt
from connectors.models import Connector

CLIENT_INFO = Implementation(name="agenwork-gateway", version="0.1.0")


@dataclass(frozen=True)
class Upstream:
    """One connector's upstream server: a local command, or a URL (with its header).

    - Hashable and compared on where the server is (the pool keys its sessions on it), not on
      the timeout, which bounds each call and may change without reconnecting.
    """

    slug: str
    command: str = ""
    args: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = field(default=(), repr=False)  # may hold secrets
    url: str = ""
    auth_header: str = field(default="", repr=False)  # a secret
    timeout_seconds: int | None = field(default=None, compare=False)

    @property
    def timeout(self) -> float:
        """Seconds a call may take: the connector's own timeout, else MCP_UPSTREAM_TIMEOUT."""
        return float(self.timeout_seconds or settings.MCP_UPSTREAM_TIMEOUT)

    @property
    def described(self) -> str:
        """How the console and the logs name it (never the header)."""
        return " ".join((self.command, *self.args)) if self.command else self.url


def stdio_upstreams() -> dict[str, Upstream]:
    """The commands ops configured in MCP_UPSTREAMS, by connector slug."""
    raw = settings.MCP_UPSTREAMS.strip()
    if not raw:
        return {}
    try:
        entries = json.loads(raw)
        return {slug: _stdio_entry(slug, entry) for slug, entry in entries.items()}
    except (ValueError, TypeError, AttributeError) as exc:
        raise ImproperlyConfigured(f"MCP_UPSTREAMS is not valid: {exc}") from exc


def _stdio_entry(slug: str, entry: dict[str, Any]) -> Upstream:
    command = entry["command"] if isinstance(entry.get("command"), str) else ""
    args, env = entry.get("args", []), entry.get("env", {})
    if not command or not isinstance(args, list) or not all(isinstance(a, str) for a in args):
        raise ValueError(f"{slug}: give a command (a string) and args (a list of strings)")
    if not isinstance(env, dict) or not all(isinstance(v, str) for v in env.values()):
        raise ValueError(f"{slug}: env maps names to strings")
    return Upstream(slug=slug, command=command, args=tuple(args), env=tuple(sorted(env.items())))


def upstream_of(
    connector: Connector, commands: dict[str, Upstream] | None = None
) -> Upstream | None:
    """The connector's upstream server, or None when it has none."""
    commands = stdio_upstreams() if commands is None else commands
    timeout = connector.upstream_timeout_seconds
    if connector.slug in commands:
        return replace(commands[connector.slug], timeout_seconds=timeout)
    if connector.upstream_url:
        header = connector.upstream_auth_header_encrypted
        return Upstream(
            slug=connector.slug,
            url=connector.upstream_url,
            auth_header=decrypt(header) if header else "",
            timeout_seconds=timeout,
        )
    return None


@asynccontextmanager
async def upstream_session(
    upstream: Upstream,
    *,
    timed: bool = True,
    message_handler: MessageHandlerFnT | None = None,
) -> AsyncIterator[Client]:
    """An initialized client session to the upstream, closed (and its process ended) on exit.

    - `timed`: each request is bounded by the upstream's timeout (False: the caller keeps time).
    - `message_handler` sees the upstream's notifications and the lines it wrote that are not MCP.
    """
    options: dict[str, Any] = {
        "read_timeout_seconds": upstream.timeout if timed else None,
        "client_info": CLIENT_INFO,
        "message_handler": message_handler,
    }
    if upstream.command:
        params = StdioServerParameters(
            command=upstream.command, args=list(upstream.args), env=dict(upstream.env) or None
        )
        async with Client(params, **options) as client:
            yield client
        return
    headers = {"Authorization": upstream.auth_header} if upstream.auth_header else None
    async with create_mcp_http_client(headers=headers) as http:
        transport = streamable_http_client(upstream.url, http_client=http)
        async with Client(transport, **options) as client:
            yield client


async def upstream_tools(upstream: Upstream) -> list[Any]:
    """Every tool the upstream lists (all pages)."""
    tools, cursor = [], None
    async with upstream_session(upstream) as client:
        while True:
            page = await client.list_tools(cursor=cursor)
            tools.extend(page.tools)
            cursor = page.next_cursor
            if not cursor:
                return tools


T = TypeVar("T")


def run_blocking(work: Callable[..., Awaitable[T]], *args: Any) -> T:
    """Run `work(*args)` to completion from synchronous code, on an event loop of its own.

    - The loop runs in a thread of its own, so this works whether or not the calling thread
      already has a running loop (asgiref's async_to_sync refuses when it has: a command called
      from a process that also drives a browser through Playwright's synchronous API, say).
    """
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="upstream") as pool:
        return pool.submit(anyio.run, work, *args).result()


def fault_text(exc: BaseException) -> str:
    """One line about an upstream fault (anyio wraps them in exception groups)."""
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return f"{type(exc).__name__}: {exc}"[:1000]

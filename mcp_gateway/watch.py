"""notifications/tools/list_changed: open MCP sessions are told when what they may use changed.

- What a person sees follows the policy snapshot, whose version moves after every change to
  policies, people, groups, memberships, connectors or tools (policies/snapshot.py). One task
  per process reads that version once a second (one query of one row) and tells every open
  session when it moved.
- Sessions of the handshake era (up to 2025-11-25) get the notification on their standalone
  stream; those of the 2026-07-28 era get it on their `subscriptions/listen` streams (the SDK's
  ListenHandler over an in-process bus).
"""

from __future__ import annotations

import logging
from typing import Any

import anyio
from django.db import close_old_connections
from mcp.server.connection import Connection
from mcp.server.subscriptions import InMemorySubscriptionBus, ListenHandler, ToolsListChanged
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from mcp_gateway.database import off_loop
from mcp_gateway.schemas import ToolSchemas
from policies.snapshot import stored_snapshot_version

logger = logging.getLogger(__name__)

WATCH_INTERVAL = 1.0  # seconds between two reads of the snapshot version
SEND_TIMEOUT = 5.0  # seconds one session may take to accept the notification


class ToolListNotifier:
    """Every open session of this process, told at once that tools/list changed."""

    def __init__(self) -> None:
        self.bus = InMemorySubscriptionBus()
        self.listen = ListenHandler(self.bus)  # serves subscriptions/listen (2026-07-28)
        self._connections: set[Connection] = set()

    @property
    def open_sessions(self) -> int:
        """Handshake-era sessions that would be told now."""
        return len(self._connections)

    async def track(self, ctx: Any, call_next: Any) -> Any:
        """Server middleware: remember a handshake-era session until it closes."""
        connection = _connection_of(ctx)
        if _handshake_era(connection) and connection not in self._connections:
            self._connections.add(connection)
            connection.exit_stack.callback(self._connections.discard, connection)
        return await call_next(ctx)

    async def tools_changed(self) -> None:
        """Send notifications/tools/list_changed to every open session (a slow one is skipped)."""
        await self.bus.publish(ToolsListChanged())

        async def send(connection: Connection) -> None:
            with anyio.move_on_after(SEND_TIMEOUT):
                await connection.send_tool_list_changed()  # never raises: best effort

        async with anyio.create_task_group() as sends:
            for connection in list(self._connections):
                sends.start_soon(send, connection)


def _connection_of(ctx: Any) -> Connection | None:
    # The SDK's high-level Context has `.connection`; the low-level request context reaches it
    # only through its session (mcp 2.3.0, "TODO(L54)" in mcp/server/runner.py). Pinned SDK;
    # tests/mcp_gateway/test_upstream_sessions.py fails if this stops reaching it.
    found = getattr(ctx.session, "_connection", None)
    return found if isinstance(found, Connection) else None


def _handshake_era(connection: Connection | None) -> bool:
    """A session that has a standalone stream to be told on (a 2026 one listens instead)."""
    return (
        connection is not None
        and connection.has_standalone_channel
        and connection.protocol_version not in MODERN_PROTOCOL_VERSIONS
    )


def _read_version() -> int:
    close_old_connections()
    return stored_snapshot_version()


async def watch_snapshot_version(
    notifier: ToolListNotifier, schemas: ToolSchemas, *, interval: float = WATCH_INTERVAL
) -> None:
    """Forever: read the snapshot version every `interval` seconds; when it moved (or first),
    read the tools' schemas again and tell the open sessions."""
    last: int | None = None
    failing = False
    while True:
        try:
            version = await off_loop(_read_version)()
            if version != last:
                await schemas.refresh()
        except Exception as exc:  # the database is away: said once, tried again next time
            if not failing:
                logger.warning("could not read the policy snapshot or the tools: %s", exc)
            failing = True
        else:
            failing = False
            if last is not None and version != last:
                await notifier.tools_changed()
            last = version
        await anyio.sleep(interval)

"""The gateway's tools: each upstream tool by key, with its connector and upstream server.

- Read from the database along with each policy snapshot and kept as long as that snapshot is
  current (policies/snapshot.py): every change to a tool or a connector (a sync, a tool marked
  missing, a new upstream URL, header or timeout) moves the snapshot's version, so a call never
  sees an older tool or upstream than the engine that decides it. Reading the tool on every call
  was a fifth of the gateway's CPU for an allowed call (bench/bench_mcp_gateway.py, py-spy).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from django.db.models import Q

from connectors.models import Tool
from mcp_gateway.upstreams import Upstream, stdio_upstreams, upstream_of
from policies.evaluation import Snapshot


@dataclass(frozen=True)
class GatewayTool:
    """One tool an agent may reach through the gateway, and where its calls go."""

    key: str
    description: str
    input_schema: dict[str, Any]
    connector: str
    upstream: Upstream | None


_lock = threading.Lock()
_cached: tuple[Snapshot | None, dict[str, GatewayTool]] = (None, {})


def gateway_tools(snapshot: Snapshot) -> dict[str, GatewayTool]:
    """The tools backed by an upstream server (not missing), by key, as of this snapshot.

    - One query for a snapshot not seen before, none for the current one.
    """
    global _cached
    cached_for, tools = _cached
    if cached_for is snapshot:
        return tools
    with _lock:
        if _cached[0] is not snapshot:
            _cached = (snapshot, _load())
        return _cached[1]


def upstream_tools_query(commands: dict[str, Upstream]):
    """The tools of connectors backed by an upstream server, not marked missing."""
    backed = Q(connector__slug__in=list(commands)) | ~Q(connector__upstream_url="")
    return Tool.objects.filter(backed, missing_since__isnull=True).select_related("connector")


def _load() -> dict[str, GatewayTool]:
    commands = stdio_upstreams()
    return {
        tool.key: GatewayTool(
            key=tool.key,
            description=tool.description,
            input_schema=tool.input_schema or {"type": "object"},
            connector=tool.connector.slug,
            upstream=upstream_of(tool.connector, commands),
        )
        for tool in upstream_tools_query(commands).order_by("key")
    }

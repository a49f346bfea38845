"""The input schema of each of the gateway's tools, in memory, for the SDK's Mcp-Param check.

- On a 2026-07-28 connection the SDK checks a tools/call's `Mcp-Param-*` headers against the
  called tool's input schema before dispatch. Without a lookup of ours it runs our tools/list
  handler to find that schema: the engine over every tool and three queries on every call, which
  made an allowed call cost the gateway twice the CPU (bench/bench_mcp_gateway.py measured it).
- The lookup is a dict read on the event loop. It is filled when the gateway starts and again
  whenever the policy snapshot's version moves (every change to a tool moves it; watch.py reads
  the version each second). A tool synced within that second has no schema here yet: the SDK
  skips the header check for that one call, as it does when a listing fails; the call is decided
  as always.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mcp_gateway.database import off_loop
from mcp_gateway.rules import tool_input_schemas


class ToolSchemas:
    """Each upstream tool's input schema, by key, whoever may use the tool."""

    def __init__(self) -> None:
        self._by_key: dict[str, dict[str, Any]] = {}

    def lookup(self, name: str) -> Mapping[str, Any] | None:
        """The SDK's get_tool_input_schema: the schema, or None for a tool not known (yet)."""
        return self._by_key.get(name)

    async def refresh(self) -> None:
        """Read every upstream tool's schema again (one query)."""
        self._by_key = await off_loop(tool_input_schemas)()

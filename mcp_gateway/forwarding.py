"""A decided call, forwarded: the upstream's answer, or a tool error when the upstream fails."""

from __future__ import annotations

from typing import Any

import mcp_types as types

from mcp_gateway.database import off_loop
from mcp_gateway.rules import upstream_failed
from mcp_gateway.upstreams import Upstream, fault_text, upstream_session


def tool_error(text: str) -> types.CallToolResult:
    """A tool error (`isError: true`) the agent reads."""
    return types.CallToolResult(content=[types.TextContent(text=text)], is_error=True)


async def forward_call(
    upstream: Upstream, tool: str, arguments: dict[str, Any]
) -> types.CallToolResult:
    """Call `tool` on the upstream; any fault marks the connector Error and answers a tool error."""
    try:
        async with upstream_session(upstream) as session:
            return await session.call_tool(tool, arguments)
    except Exception as exc:  # any upstream fault: the agent gets a clear error, never a 500
        error = fault_text(exc)
        await off_loop(upstream_failed)(upstream.slug, error)
        return tool_error(
            f"The upstream server of {upstream.slug} failed: {error}. "
            "The call may not have run; try again later."
        )

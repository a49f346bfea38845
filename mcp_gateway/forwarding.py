"""A decided call, forwarded: the upstream's answer, or a tool error when the upstream fails."""

from __future__ import annotations

from typing import Any

import mcp_types as types

from mcp_gateway.health import upstream_reached, upstream_unreachable
from mcp_gateway.pool import UpstreamFault, upstream_pool
from mcp_gateway.upstreams import Upstream


def tool_error(text: str) -> types.CallToolResult:
    """A tool error (`isError: true`) the agent reads."""
    return types.CallToolResult(content=[types.TextContent(text=text)], is_error=True)


async def forward_call(
    upstream: Upstream, tool: str, arguments: dict[str, Any]
) -> types.CallToolResult:
    """Call `tool` on the upstream's pooled session; a fault marks the connector Error.

    - The upstream's result comes back unchanged; a fault (down, slow, garbage) or an error the
      upstream answered comes back as a tool error the agent can read.
    """
    try:
        result = await upstream_pool.request(
            upstream, lambda client: client.call_tool(tool, arguments)
        )
    except UpstreamFault as fault:
        if fault.answered:  # it is up; the call failed there
            await upstream_reached(upstream.slug)
            return tool_error(f"The upstream server of {upstream.slug} {fault.text}.")
        await upstream_unreachable(upstream.slug, fault.text)
        return tool_error(
            f"The upstream server of {upstream.slug} {fault.text}. "
            "The call may not have run; try again later."
        )
    await upstream_reached(upstream.slug)
    return result

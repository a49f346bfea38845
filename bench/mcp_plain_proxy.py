"""The plain proxy that the gateway benchmark compares against: the same SDK, no agenwork rules.

A low-level `Server` over Streamable HTTP at /mcp forwards tools/list and tools/call to one
persistent session with a stdio upstream, and uvicorn serves it with the gateway's settings
(run_mcp_gateway: `uvicorn.run(app, host, port, log_level="info")`). No Django, no token. Like
the gateway it gives the SDK the tools' input schemas (read once from the upstream), so that the
SDK's Mcp-Param header check does not list the tools on every call.

Usage: python -m bench.mcp_plain_proxy --port N -- COMMAND [ARG…]
"""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import mcp_types as types
import uvicorn
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from mcp.server.lowlevel.server import Server
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


def proxy_app(command: str, args: list[str], *, host: str = "127.0.0.1") -> Starlette:
    """The proxy's ASGI app: /mcp, and /healthz once the upstream session is open."""

    schemas: dict[str, dict[str, Any]] = {}

    @asynccontextmanager
    async def upstream(_: Server[Any]) -> AsyncIterator[dict[str, Client]]:
        params = StdioServerParameters(command=command, args=args)
        async with Client(params) as client:  # one session for the proxy's whole life
            schemas.update({t.name: t.input_schema for t in (await client.list_tools()).tools})
            yield {"upstream": client}

    async def list_tools(ctx: Any, params: types.PaginatedRequestParams | None):
        return await ctx.lifespan_context["upstream"].list_tools()

    async def call_tool(ctx: Any, params: types.CallToolRequestParams) -> types.CallToolResult:
        client: Client = ctx.lifespan_context["upstream"]
        return await client.call_tool(params.name, dict(params.arguments or {}))

    async def healthz(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    server = Server(
        "plain-proxy",
        lifespan=upstream,
        on_list_tools=list_tools,
        on_call_tool=call_tool,
        get_tool_input_schema=schemas.get,  # as the gateway: no tools/list for every call
    )
    return server.streamable_http_app(
        streamable_http_path="/mcp",
        host=host,
        custom_starlette_routes=[Route("/healthz", healthz, methods=["GET"])],
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("command", nargs=argparse.REMAINDER)
    options = parser.parse_args()
    command = [part for part in options.command if part != "--"]
    if not command:
        parser.error("give the upstream's command after --")
    app = proxy_app(command[0], command[1:], host=options.host)
    uvicorn.run(app, host=options.host, port=options.port, log_level="info")


if __name__ == "__main__":
    main()

"""An MCP server for the gateway's tests: `echo` answers at once, `wait` takes its time.

Over stdio; `slow.py --port N` serves Streamable HTTP at http://127.0.0.1:N/mcp instead.
"""

from __future__ import annotations

import sys

import anyio
from mcp.server.mcpserver import MCPServer

server = MCPServer("slow")


@server.tool()
async def echo(text: str) -> str:
    """Answer the text at once."""
    return text


@server.tool()
async def wait(seconds: float) -> str:
    """Answer after `seconds`."""
    await anyio.sleep(seconds)
    return f"waited {seconds} s"


if __name__ == "__main__":
    if sys.argv[1:2] == ["--port"]:
        server.run("streamable-http", host="127.0.0.1", port=int(sys.argv[2]))
    else:
        server.run()

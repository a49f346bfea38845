"""A stdio "MCP server" for the gateway's tests: it answers every line with text that is not MCP."""

from __future__ import annotations

import sys

for _line in sys.stdin:
    print("Hello! This is not JSON-RPC.", flush=True)

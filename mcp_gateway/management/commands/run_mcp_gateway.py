"""manage.py run_mcp_gateway: serve the MCP gateway (Streamable HTTP at /mcp) with uvicorn."""

from __future__ import annotations

import uvicorn
from django.core.management.base import BaseCommand

from mcp_gateway.server import gateway_app


class Command(BaseCommand):
    help = "Serve the MCP gateway: agents connect to http://HOST:PORT/mcp with a gateway token."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8001)

    def handle(self, *args, host: str, port: int, **options) -> None:
        self.stdout.write(f"MCP gateway on http://{host}:{port}/mcp (health: /healthz)")
        self.stdout.flush()
        uvicorn.run(gateway_app(host=host), host=host, port=port, log_level="info")

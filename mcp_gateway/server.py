"""The gateway's MCP server: the SDK's low-level Server over Streamable HTTP at /mcp.

- The SDK does the protocol (both revision eras, sessions, the Bearer check's 401 with
  `WWW-Authenticate`); this module plugs in agenwork's token check and rules (rules.py).
- Database work runs through off_loop (database.py): the event loop never waits on a query.
"""

from __future__ import annotations

from typing import Any

import mcp_types as types
from django.conf import settings
from django.db import close_old_connections, connection
from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.auth.provider import AccessToken
from mcp.server.auth.settings import AuthSettings
from mcp.server.lowlevel.server import Server
from mcp.server.transport_security import TransportSecuritySettings
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from connectors.models import Connector
from mcp_gateway.database import off_loop
from mcp_gateway.forwarding import forward_call, tool_error
from mcp_gateway.holds import WAITERS, hold_call
from mcp_gateway.rules import call_verdict, visible_tools
from mcp_gateway.tokens import gateway_token_authenticate
from mcp_gateway.upstreams import fault_text, stdio_upstreams


class GatewayTokenVerifier:
    """The SDK's TokenVerifier over personal gateway tokens: a usable token names its person."""

    async def verify_token(self, token: str) -> AccessToken | None:
        found = await off_loop(_authenticate)(token)
        if found is None:
            return None
        return AccessToken(
            token=token, client_id=found.prefix, scopes=[], subject=found.person.email
        )


def _authenticate(raw: str):
    close_old_connections()
    return gateway_token_authenticate(raw)


def _caller_email() -> str:
    """The email of the person whose token this request carries (the SDK checked it)."""
    token = get_access_token()
    return token.subject if token and token.subject else ""


def _agent(ctx: Any) -> str:
    """The MCP client's name and version, recorded as the agent."""
    params = ctx.session.client_params
    info = params.client_info if params else None
    return f"{info.name} {info.version}".strip()[:200] if info else "MCP client"


async def list_tools(
    ctx: Any, params: types.PaginatedRequestParams | None
) -> types.ListToolsResult:
    tools = await off_loop(visible_tools)(_caller_email())
    return types.ListToolsResult(
        tools=[
            types.Tool(name=t.key, description=t.description, input_schema=t.input_schema)
            for t in tools
        ]
    )


async def call_tool(ctx: Any, params: types.CallToolRequestParams) -> types.CallToolResult:
    arguments = dict(params.arguments or {})
    verdict = await off_loop(call_verdict)(
        email=_caller_email(), key=params.name, arguments=arguments, agent=_agent(ctx)
    )
    if verdict.upstream is None:
        return tool_error(verdict.message or f"{params.name} has no upstream server now.")
    if verdict.held is not None:
        return await hold_call(ctx, verdict, arguments, _agent(ctx))
    return await forward_call(verdict.upstream, verdict.upstream_tool, arguments)


def _health() -> dict[str, Any]:
    close_old_connections()
    connection.ensure_connection()
    commands = stdio_upstreams()
    backed = Connector.objects.filter(slug__in=list(commands)) | Connector.objects.exclude(
        upstream_url=""
    )
    return {
        c.slug: {"status": c.status, "error": c.upstream_error} for c in backed.order_by("slug")
    }


async def healthz(request: Request) -> JSONResponse:
    """200 when the gateway reaches its database, with each upstream's last known state."""
    try:
        upstreams = await off_loop(_health)()
    except Exception as exc:  # the database is down: say so, with a 503
        return JSONResponse({"status": "error", "database": fault_text(exc)}, status_code=503)
    return JSONResponse(
        {"status": "ok", "database": "ok", "held_calls": WAITERS.held, "upstreams": upstreams}
    )


def gateway_app(*, host: str = "127.0.0.1") -> Starlette:
    """The gateway's ASGI app: /mcp (Bearer gateway token) and /healthz."""
    server = Server("agenwork", version="0.1.0", on_list_tools=list_tools, on_call_tool=call_tool)
    security = None
    if host not in ("127.0.0.1", "localhost", "::1"):
        # Behind a proxy or in a container the Host header is the public name: rebinding
        # protection (for servers on a developer's loopback) would refuse every request.
        security = TransportSecuritySettings(enable_dns_rebinding_protection=False)
    return server.streamable_http_app(
        streamable_http_path="/mcp",
        host=host,
        transport_security=security,
        auth=AuthSettings(issuer_url=settings.SITE_URL, resource_server_url=None),
        token_verifier=GatewayTokenVerifier(),
        custom_starlette_routes=[Route("/healthz", healthz, methods=["GET"])],
    )

"""The gateway's MCP server: the SDK's low-level Server over Streamable HTTP at /mcp.

- The SDK does the protocol (both revision eras, sessions, the Bearer check's 401 with
  `WWW-Authenticate`); this module plugs in agenwork's token check and rules (rules.py).
- Database work runs through off_loop (database.py): the event loop never waits on a query.
- The server's lifespan runs the upstream session pool (pool.py) and the task that tells open
  sessions when their tools changed (watch.py), which also keeps the tools' input schemas that the
  SDK checks a call's Mcp-Param headers against (schemas.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import mcp_types as types
from django.conf import settings
from django.db import close_old_connections
from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.auth.middleware.bearer_auth import RequireAuthMiddleware
from mcp.server.auth.provider import AccessToken
from mcp.server.auth.routes import create_protected_resource_routes
from mcp.server.auth.settings import AuthSettings
from mcp.server.lowlevel.server import NotificationOptions, Server
from mcp.server.models import InitializationOptions
from mcp.server.transport_security import TransportSecuritySettings
from pydantic import AnyHttpUrl
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route
from starlette.types import Send

from mcp_gateway.database import off_loop
from mcp_gateway.forwarding import forward_call, tool_error
from mcp_gateway.health import gateway_health
from mcp_gateway.holds import WAITERS, hold_call
from mcp_gateway.oauth import GATEWAY_SCOPE, gateway_resource, oauth_token_authenticate
from mcp_gateway.pool import upstream_pool
from mcp_gateway.rules import call_verdict, visible_tools
from mcp_gateway.schemas import ToolSchemas
from mcp_gateway.tokens import TOKEN_SCHEME, gateway_token_authenticate
from mcp_gateway.upstreams import fault_text
from mcp_gateway.watch import ToolListNotifier, watch_snapshot_version


class GatewayAccessToken(AccessToken):
    """The SDK's access token, with the policy snapshot's version read along with the token."""

    snapshot_version: int | None = None


class GatewayTokenVerifier:
    """The SDK's TokenVerifier: personal gateway tokens, and OAuth access tokens (oauth.py)."""

    async def verify_token(self, token: str) -> AccessToken | None:
        if not token.startswith(f"{TOKEN_SCHEME}_"):
            return await off_loop(_oauth_access_token)(token)
        found = await off_loop(_authenticate)(token)
        if found is None:
            return None
        # A personal gateway token is for this gateway and all it serves its person.
        return GatewayAccessToken(
            token=token,
            client_id=found.prefix,
            scopes=[GATEWAY_SCOPE],
            resource=gateway_resource(),
            subject=found.person_email,
            snapshot_version=found.snapshot_version,
        )


def _authenticate(raw: str):
    close_old_connections()
    return gateway_token_authenticate(raw)


def _oauth_access_token(raw: str) -> AccessToken | None:
    """An OAuth access token as the SDK checks it: its resource and scopes, its person's email."""
    close_old_connections()
    caller = oauth_token_authenticate(raw)
    if caller is None:
        return None
    return AccessToken(
        token=raw,
        client_id=caller.client_id,
        scopes=caller.scopes,
        expires_at=caller.expires_at,
        resource=caller.resource,
        subject=caller.email,
    )


def _caller() -> tuple[str, int | None]:
    """The email of the person whose token this request carries (the SDK checked it), and the
    policy snapshot's version as read with the token."""
    token = get_access_token()
    email = token.subject if token and token.subject else ""
    return email, token.snapshot_version if isinstance(token, GatewayAccessToken) else None


def _agent(ctx: Any) -> str:
    """The MCP client's name and version, recorded as the agent."""
    params = ctx.session.client_params
    info = params.client_info if params else None
    return f"{info.name} {info.version}".strip()[:200] if info else "MCP client"


async def list_tools(
    ctx: Any, params: types.PaginatedRequestParams | None
) -> types.ListToolsResult:
    email, snapshot_version = _caller()
    tools = await off_loop(visible_tools)(email, snapshot_version)
    return types.ListToolsResult(
        tools=[
            types.Tool(name=t.key, description=t.description, input_schema=t.input_schema)
            for t in tools
        ]
    )


async def call_tool(ctx: Any, params: types.CallToolRequestParams) -> types.CallToolResult:
    arguments = dict(params.arguments or {})
    email, snapshot_version = _caller()
    verdict = await off_loop(call_verdict)(
        email=email,
        key=params.name,
        arguments=arguments,
        agent=_agent(ctx),
        snapshot_version=snapshot_version,
    )
    if verdict.upstream is None:
        return tool_error(verdict.message or f"{params.name} has no upstream server now.")
    if verdict.held is not None:
        return await hold_call(ctx, verdict, arguments, _agent(ctx))
    return await forward_call(verdict.upstream, verdict.upstream_tool, arguments)


async def healthz(request: Request) -> JSONResponse:
    """200 when the gateway reaches its database, with each upstream probed live; else 503."""
    try:
        health = await gateway_health(upstream_pool)
    except Exception as exc:  # the database is down: say so, with a 503
        return JSONResponse({"status": "error", "database": fault_text(exc)}, status_code=503)
    health["held_calls"] = WAITERS.held
    return JSONResponse(health)


class GatewayServer(Server):
    """The SDK's low-level Server, announcing tools/list_changed to handshake-era clients too."""

    def create_initialization_options(
        self, notification_options: NotificationOptions | None = None, *args: Any, **kwargs: Any
    ) -> InitializationOptions:
        options = notification_options or NotificationOptions(tools_changed=True)
        return super().create_initialization_options(options, *args, **kwargs)


def _lifespan(notifier: ToolListNotifier, schemas: ToolSchemas):
    """The server's lifespan: the upstream pool and the snapshot watcher run while it runs."""

    @asynccontextmanager
    async def lifespan(server: Server) -> AsyncIterator[dict[str, Any]]:
        async with upstream_pool.run(), anyio.create_task_group() as tasks:
            tasks.start_soon(watch_snapshot_version, notifier, schemas)
            try:
                yield {}
            finally:
                notifier.listen.close()  # listen streams end gracefully
                tasks.cancel_scope.cancel()

    return lifespan


def gateway_app(*, host: str = "127.0.0.1") -> Starlette:
    """The gateway's ASGI app: /mcp (Bearer gateway token) and /healthz."""
    notifier, schemas = ToolListNotifier(), ToolSchemas()
    server = GatewayServer(
        "agenwork",
        version="0.1.0",
        on_list_tools=list_tools,
        on_call_tool=call_tool,
        on_subscriptions_listen=notifier.listen,
        get_tool_input_schema=schemas.lookup,
        lifespan=_lifespan(notifier, schemas),
    )
    server.middleware.append(notifier.track)
    security = None
    if host not in ("127.0.0.1", "localhost", "::1"):
        # Behind a proxy or in a container the Host header is the public name: rebinding
        # protection (for servers on a developer's loopback) would refuse every request.
        security = TransportSecuritySettings(enable_dns_rebinding_protection=False)
    # Protected resource metadata (RFC 9728) names agenwork's web process as the
    # authorization server; the SDK refuses OAuth tokens issued for another resource.
    auth = AuthSettings(
        issuer_url=settings.SITE_URL,
        resource_server_url=gateway_resource(),
        validate_token_resource=True,
        required_scopes=[GATEWAY_SCOPE],
    )
    app = server.streamable_http_app(
        streamable_http_path="/mcp",
        host=host,
        transport_security=security,
        auth=auth,
        token_verifier=GatewayTokenVerifier(),
        custom_starlette_routes=[
            Route("/healthz", healthz, methods=["GET"]),
            _resource_metadata_at_the_root(auth),
        ],
    )
    app.router.routes = [_saying_unauthorized(route) for route in app.router.routes]
    return app


UNAUTHORIZED = "Unauthorized: sign in to agenwork (OAuth) or send a gateway token"


class GatewayRequireAuth(RequireAuthMiddleware):
    """The SDK's Bearer check, whose 401 says "Unauthorized" in its description too.

    The MCP Inspector 0.15 starts its OAuth sign-in only when the error its proxy relays has
    "401" or "Unauthorized" in its text; the SDKs it now runs with no longer put the status there.
    """

    async def _send_auth_error(
        self, send: Send, status_code: int, error: str, description: str
    ) -> None:
        if status_code == 401:
            description = UNAUTHORIZED
        await super()._send_auth_error(send, status_code, error, description)


def _saying_unauthorized(route: BaseRoute) -> BaseRoute:
    """The SDK's /mcp route with GatewayRequireAuth in place of its Bearer check; others as is."""
    check = getattr(route, "endpoint", None)
    if not isinstance(route, Route) or type(check) is not RequireAuthMiddleware:
        return route
    endpoint = GatewayRequireAuth(check.app, check.required_scopes, check.resource_metadata_url)
    return Route(route.path, endpoint=endpoint, methods=route.methods, name=route.name)


def _resource_metadata_at_the_root(auth: AuthSettings) -> Route:
    """The same protected resource metadata at /.well-known/oauth-protected-resource.

    RFC 9728 puts it at the path-suffixed URL that the 401's resource_metadata names (the SDK
    serves that one); clients that skip the header and look at the origin's root (the MCP
    Inspector 0.15) would find nothing and never reach the authorization server. The gateway
    serves this one resource, so the root can only mean it.
    """
    (route,) = create_protected_resource_routes(
        resource_url=AnyHttpUrl(gateway_resource()),
        authorization_servers=[auth.issuer_url],
        scopes_supported=auth.required_scopes,
    )
    return Route(
        "/.well-known/oauth-protected-resource", endpoint=route.endpoint, methods=["GET", "OPTIONS"]
    )

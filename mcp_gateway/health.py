"""The upstreams' state on the console, and the gateway's health.

- A fault marks the connector Error (upstream_failed); the next success marks it Connected
  again with a conditional update. This process remembers which connectors it saw Connected, so
  a call to a healthy upstream costs no query.
- /healthz probes every upstream live, all at once, through the pool's sessions (a ping, a few
  seconds at most): no stdio server is started per probe.
"""

from __future__ import annotations

from typing import Any

import anyio
from django.db import close_old_connections, connection
from django.utils import timezone

from connectors.models import Connector
from mcp_gateway.database import for_health, off_loop
from mcp_gateway.pool import UpstreamPool
from mcp_gateway.upstreams import Upstream, stdio_upstreams, upstream_of

# The connectors this process saw Connected since their last fault.
_seen_connected: set[str] = set()


def upstream_failed(connector_slug: str, error: str) -> None:
    """Mark the connector Error with the upstream's fault, as the console shows it."""
    close_old_connections()
    Connector.objects.filter(slug=connector_slug).update(
        status=Connector.Status.ERROR,
        upstream_error=error[:1000],
        upstream_checked_at=timezone.now(),
    )


def upstream_recovered(connector_slug: str) -> bool:
    """Mark the connector Connected, unless it already is (then nothing is written)."""
    close_old_connections()
    updated = (
        Connector.objects.filter(slug=connector_slug)
        .exclude(status=Connector.Status.CONNECTED)
        .update(
            status=Connector.Status.CONNECTED,
            upstream_error="",
            upstream_checked_at=timezone.now(),
        )
    )
    return updated > 0


async def upstream_reached(connector_slug: str, *, status: str | None = None) -> None:
    """The upstream answered: Connected again if it was not (`status`: as just read, if known)."""
    if status == Connector.Status.CONNECTED or (
        status is None and connector_slug in _seen_connected
    ):
        _seen_connected.add(connector_slug)
        return
    await off_loop(upstream_recovered)(connector_slug)
    _seen_connected.add(connector_slug)


async def upstream_unreachable(connector_slug: str, fault: str) -> None:
    """The upstream is down, slow or answering garbage: the connector shows Error with the fault."""
    _seen_connected.discard(connector_slug)
    await off_loop(upstream_failed)(connector_slug, fault)


def _backed_connectors() -> list[tuple[str, str, Upstream]]:
    """(slug, status, upstream) of every connector backed by an upstream server."""
    close_old_connections()
    connection.ensure_connection()
    commands = stdio_upstreams()
    backed = Connector.objects.filter(slug__in=list(commands)) | Connector.objects.exclude(
        upstream_url=""
    )
    found = []
    for connector in backed.order_by("slug"):
        upstream = upstream_of(connector, commands)
        if upstream is not None:
            found.append((connector.slug, connector.status, upstream))
    return found


async def gateway_health(pool: UpstreamPool) -> dict[str, Any]:
    """Each upstream probed live; raises when the database is down."""
    backed = await for_health(_backed_connectors)()
    upstreams: dict[str, dict[str, Any]] = {}

    async def probe(slug: str, status: str, upstream: Upstream) -> None:
        fault = await pool.probe(upstream)
        if fault:
            await upstream_unreachable(slug, fault)
        else:
            await upstream_reached(slug, status=status)
        state = Connector.Status.ERROR if fault else Connector.Status.CONNECTED
        upstreams[slug] = {"up": not fault, "status": state.value, "error": fault}

    async with anyio.create_task_group() as probes:
        for slug, status, upstream in backed:
            probes.start_soon(probe, slug, status, upstream)
    everything_up = all(u["up"] for u in upstreams.values())
    return {
        "status": "ok" if everything_up else "degraded",
        "database": "ok",
        "upstreams": dict(sorted(upstreams.items())),
    }

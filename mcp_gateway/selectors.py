"""Reads of the console's gateway panels: a person's gateway tokens, a connector's upstream."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.core.exceptions import ImproperlyConfigured

from connectors.models import Connector
from directory.models import Person
from mcp_gateway.models import GatewayToken
from mcp_gateway.tokens import TOKEN_SCHEME
from mcp_gateway.upstreams import Upstream, stdio_upstreams, upstream_of

ACTIVE, EXPIRED, REVOKED = "active", "expired", "revoked"
STATUS_LABELS = {ACTIVE: "Active", EXPIRED: "Expired", REVOKED: "Revoked"}


@dataclass(frozen=True)
class TokenRow:
    """One gateway token as the person's page lists it."""

    token: GatewayToken
    status: str

    @property
    def status_label(self) -> str:
        return STATUS_LABELS[self.status]

    @property
    def shown_as(self) -> str:
        return shown_as(self.token)


def shown_as(token: GatewayToken) -> str:
    """The token as the console may show it: its scheme and prefix, never the secret."""
    return f"{TOKEN_SCHEME}_{token.prefix}_…"


def token_status(token: GatewayToken, now: datetime) -> str:
    """Active, expired or revoked at `now` (revoked wins: it is for good)."""
    if token.revoked_at is not None:
        return REVOKED
    return ACTIVE if token.usable_at(now) else EXPIRED


def person_for_tokens(pk: int) -> Person | None:
    """The person whose tokens the panel shows (one query), or None."""
    return Person.objects.filter(pk=pk).first()


def person_gateway_tokens(person: Person, *, now: datetime) -> list[TokenRow]:
    """The person's tokens, newest first, each with its status at `now` (one query)."""
    tokens = GatewayToken.objects.filter(person=person).order_by("-created_at", "-id")
    return [TokenRow(token=token, status=token_status(token, now)) for token in tokens]


def token_of(person: Person, pk: int) -> GatewayToken | None:
    """One of this person's tokens (never another person's), or None."""
    return GatewayToken.objects.select_related("person").filter(person=person, pk=pk).first()


@dataclass(frozen=True)
class UpstreamState:
    """A connector's upstream as its page shows it."""

    connector: Connector
    upstream: Upstream | None  # what the gateway uses: ops' command, else the URL
    config_error: str = ""  # MCP_UPSTREAMS could not be read

    @property
    def is_command(self) -> bool:
        return bool(self.upstream and self.upstream.command)


def connector_for_upstream(slug: str) -> Connector | None:
    """The connector whose upstream the panel shows (one query), or None."""
    return Connector.objects.filter(slug=slug).first()


def upstream_state(connector: Connector) -> UpstreamState:
    """The connector's upstream: ops' local command if one is configured, else its URL."""
    try:
        commands = stdio_upstreams()
    except ImproperlyConfigured as exc:
        return UpstreamState(connector, upstream_of(connector, {}), config_error=str(exc))
    return UpstreamState(connector, upstream_of(connector, commands))

"""Reads of a person's own page ("My agents"): connected agents, gateway tokens, requests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from directory.models import Person
from mcp_gateway.connections import ConnectedAgent, connected_agents
from mcp_gateway.models import GatewayToken
from requests_app.models import AccessRequest

RECENT_REQUESTS = 25


@dataclass(frozen=True)
class TokenRow:
    """One gateway token as the page shows it: never the token, only its prefix."""

    pk: int
    prefix: str
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    state: str  # active, expired, revoked


@dataclass(frozen=True)
class MyAgents:
    """Everything the page shows, read in four queries."""

    agents: list[ConnectedAgent]
    tokens: list[TokenRow]
    requests: list[AccessRequest]
    request_count: int


def my_agents(person: Person, now: datetime) -> MyAgents:
    """The person's connected agents, gateway tokens (every one), latest requests with a total."""
    agents = connected_agents(person.user, now) if person.user_id else []
    tokens = [
        TokenRow(t.pk, t.prefix, t.created_at, t.expires_at, t.last_used_at, _state(t, now))
        for t in GatewayToken.objects.filter(person=person).only(
            "prefix", "created_at", "expires_at", "last_used_at", "revoked_at"
        )
    ]
    mine = AccessRequest.objects.filter(requester=person)
    rows = list(
        mine.only(
            "public_id",
            "connector_name",
            "first_tool_key",
            "tool_count",
            "tool_keys",
            "agent",
            "status",
            "requested_at",
            "decided_at",
            "decided_by_name",
            "comment",
            "grant_expires_at",
        ).order_by("-requested_at", "-id")[:RECENT_REQUESTS]
    )
    count = len(rows) if len(rows) < RECENT_REQUESTS else mine.count()
    return MyAgents(agents=agents, tokens=tokens, requests=rows, request_count=count)


def _state(token: GatewayToken, now: datetime) -> str:
    if token.revoked_at is not None:
        return "revoked"
    return "active" if token.usable_at(now) else "expired"


def my_token(person: Person, pk: int) -> GatewayToken | None:
    """One of the person's own gateway tokens, or None."""
    return GatewayToken.objects.select_related("person").filter(person=person, pk=pk).first()

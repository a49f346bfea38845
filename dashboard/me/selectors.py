"""Reads of a person's own page ("My agents"): their gateway tokens and their requests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from directory.models import Person
from mcp_gateway.models import GatewayToken
from requests_app.models import AccessRequest

RECENT_REQUESTS = 25


@dataclass(frozen=True)
class TokenRow:
    """One gateway token as the page shows it: never the token, only its prefix."""

    prefix: str
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    state: str  # active, expired, revoked


@dataclass(frozen=True)
class MyAgents:
    """Everything the page shows, read in three queries."""

    tokens: list[TokenRow]
    requests: list[AccessRequest]
    request_count: int


def my_agents(person: Person, now: datetime) -> MyAgents:
    """The person's gateway tokens (every one) and their latest requests with a total."""
    tokens = [
        TokenRow(t.prefix, t.created_at, t.expires_at, t.last_used_at, _state(t, now))
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
    return MyAgents(tokens=tokens, requests=rows, request_count=count)


def _state(token: GatewayToken, now: datetime) -> str:
    if token.revoked_at is not None:
        return "revoked"
    return "active" if token.usable_at(now) else "expired"

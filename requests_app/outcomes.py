"""Who acts on a request and how a lost race is told: the types every request module shares.

They sit below `services` so that links, votes, messages and the sweep can name an actor or
describe a decision without importing the transitions (which import the messages).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.utils import timezone

from requests_app.models import AccessRequest, Channel


@dataclass(frozen=True)
class Actor:
    """Who acts on a request: a console login, a person reached by a link, or the system."""

    name: str
    channel: str
    user: AbstractBaseUser | None = None
    # How long the person looked at the request before deciding (requests_app.opened).
    response_ms: int | None = None

    @classmethod
    def for_user(cls, user: Any, channel: str = Channel.WEB) -> Actor:
        person = getattr(user, "person", None)
        name = person.name if person else (user.get_full_name() or user.get_username())
        return cls(name=name, channel=channel, user=user)


SYSTEM = Actor(name="agenwork", channel=Channel.SYSTEM)


class RequestAlreadyDecided(Exception):
    """The request left pending before this decision: someone or something else decided."""

    def __init__(self, access_request: AccessRequest) -> None:
        self.access_request = access_request
        super().__init__(describe_decision(access_request))


def describe_decision(access_request: AccessRequest) -> str:
    """A sentence such as "Approved by Dana Levi via Web at 05 Mar 2026 14:02 UTC"."""
    who = access_request.decided_by_name or "the system"
    when = access_request.decided_at or access_request.updated_at
    via = access_request.get_decided_via_display() if access_request.decided_via else "—"
    stamp = timezone.localtime(when).strftime("%d %b %Y %H:%M %Z")
    return f"{access_request.get_status_display()} by {who} via {via} at {stamp}"

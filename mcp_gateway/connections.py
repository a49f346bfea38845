"""Agents connected by OAuth: the consent's record, the gateway's last-use touch, Revoke.

- An agent's tokens belong to the toolkit (oauth2_provider); AgentConnection keeps what its
  rotating tokens cannot: when the person first let the agent in, when the gateway last saw it.
- Revoking deletes the agent's access tokens, revokes its refresh tokens and drops its unused
  codes: the gateway checks every call's token in the database, so the next call is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from django.db import transaction
from django.db.models import Min, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone
from oauth2_provider.models import (
    get_access_token_model,
    get_application_model,
    get_grant_model,
    get_refresh_token_model,
)
from oauth2_provider.settings import oauth2_settings

from agenwork.bearer import LAST_USED_RESOLUTION
from audit.models import AuditEntry
from audit.services import audit_record
from mcp_gateway.models import AgentConnection

OBJECT_TYPE = "agent_authorization"


def agent_connection_record(*, user: Any, application: Any) -> None:
    """Note a consent given: the first one stays the connection's authorized_at."""
    AgentConnection.objects.get_or_create(user=user, application=application)


def agent_connection_touch(
    *, user_id: int, application_id: int, last_used_at: datetime | None, since: datetime
) -> None:
    """Record the gateway's use of an agent's token now, at most once a minute.

    - `last_used_at` was read with the token (oauth.py); None also when no row exists yet
      (a connection from before these rows were kept), which is then made, dated `since`.
    """
    now = timezone.now()
    if last_used_at is not None and now - last_used_at < LAST_USED_RESOLUTION:
        return
    rows = AgentConnection.objects.filter(user_id=user_id, application_id=application_id)
    if not rows.update(last_used_at=now):
        AgentConnection.objects.get_or_create(
            user_id=user_id,
            application_id=application_id,
            defaults={"authorized_at": since, "last_used_at": now},
        )


@dataclass(frozen=True)
class ConnectedAgent:
    """One agent as the person's page lists it."""

    application_id: int
    name: str
    client_id: str
    redirect_uris: str
    authorized_at: datetime
    last_used_at: datetime | None
    scope: str

    @property
    def redirect_host(self) -> str:
        first = self.redirect_uris.split()[0] if self.redirect_uris else ""
        return urlsplit(first).netloc or first

    @property
    def scopes(self) -> list[str]:
        return self.scope.split()


def _live_refresh(user: Any, now: datetime):
    ttl = oauth2_settings.REFRESH_TOKEN_EXPIRE_SECONDS
    live = get_refresh_token_model().objects.filter(user=user, revoked__isnull=True)
    return live.filter(created__gt=now - timedelta(seconds=ttl)) if ttl else live


def connected_agents(user: Any, now: datetime) -> list[ConnectedAgent]:
    """The agents this login authorized that still hold a live token, in one query."""
    access = get_access_token_model().objects.filter(user=user)
    refresh = _live_refresh(user, now)
    mine = AgentConnection.objects.filter(user=user, application=OuterRef("pk"))
    of_app = access.filter(application=OuterRef("pk"))
    apps = (
        get_application_model()
        .objects.filter(
            Q(pk__in=access.filter(expires__gt=now).values("application_id"))
            | Q(pk__in=refresh.values("application_id"))
        )
        .annotate(
            first_seen=Subquery(mine.values("authorized_at")[:1]),
            token_since=Subquery(
                of_app.order_by().values("application").annotate(m=Min("created")).values("m")[:1]
            ),
            last_used=Subquery(mine.values("last_used_at")[:1]),
            latest_scope=Subquery(of_app.order_by("-created").values("scope")[:1]),
        )
        .annotate(since=Coalesce("first_seen", "token_since", "created"))
        .only("pk", "name", "client_id", "redirect_uris", "created")
        .order_by("-since", "pk")
    )
    return [
        ConnectedAgent(
            application_id=app.pk,
            name=app.name or "an unnamed agent",
            client_id=app.client_id,
            redirect_uris=app.redirect_uris,
            authorized_at=app.since,
            last_used_at=app.last_used,
            scope=app.latest_scope or " ".join(oauth2_settings.DEFAULT_SCOPES),
        )
        for app in apps
    ]


@transaction.atomic
def agent_connection_revoke(*, user: Any, application: Any, actor: Any) -> int:
    """Revoke every token and unused code of this agent for this login; how many went.

    - Audited as a revocation of the agent's authorization, by `actor` (the person).
    """
    refresh_tokens = list(
        get_refresh_token_model().objects.filter(
            user=user, application=application, revoked__isnull=True
        )
    )
    for token in refresh_tokens:
        token.revoke()  # the toolkit's: marks it revoked and deletes its access token
    accesses, _ = (
        get_access_token_model().objects.filter(user=user, application=application).delete()
    )
    codes, _ = get_grant_model().objects.filter(user=user, application=application).delete()
    AgentConnection.objects.filter(user=user, application=application).delete()
    revoked = len(refresh_tokens) + accesses + codes
    person = getattr(user, "person", None)
    who = person.email if person else user.get_username()
    agent_audit(
        actor=actor,
        action=AuditEntry.Action.REVOKED,
        application=application,
        client_id=application.client_id,
        who=who,
        details={"by": "the person on My agents", "tokens_and_codes_revoked": revoked},
    )
    return revoked


def agent_audit(
    *,
    actor: Any,
    action: str,
    application: Any,
    client_id: str,
    who: str,
    details: dict[str, Any],
    channel: str = "web",
) -> None:
    """One Activity line about an agent's authorization: given, refused or revoked."""
    name = (application.name if application else "") or "an unnamed agent"
    audit_record(
        actor=actor,
        action=action,
        object_type=OBJECT_TYPE,
        object_id=client_id[:64],
        object_repr=f"{name} for {who}" if who else name,
        after={"client": name, "client_id": client_id, "person": who, **details},
        channel=channel,
    )

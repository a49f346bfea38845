"""How a person's agent says who it calls as: a personal gateway token, or an OAuth connection."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db import models
from django.utils import timezone

from directory.models import Person


class GatewayToken(models.Model):
    """One person's bearer token for the MCP gateway.

    - Stored as a SHA-256 hash and a short prefix (agenwork.bearer), like API and SCIM keys; the
      scheme `agw` tells it apart, so neither of those works here, nor this there.
    """

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="gateway_tokens")
    prefix = models.CharField(max_length=16, unique=True)
    token_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "gateway token"

    def __str__(self) -> str:
        return f"{self.person.email} ({self.prefix}…)"

    def usable_at(self, now: datetime) -> bool:
        """Neither revoked nor expired at `now`."""
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)


class AgentConnection(models.Model):
    """An agent (OAuth client) a login authorized: when first, and when the gateway last saw it.

    - The toolkit's tokens rotate on every refresh and its grants are deleted once used, so the
      first consent and the last call are kept here, one row per login and client.
    - Revoking the agent deletes the row with the tokens (connections.py).
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    application = models.ForeignKey(
        "oauth2_provider.Application", on_delete=models.CASCADE, related_name="+"
    )
    authorized_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "application"], name="agent_connection_one_per_client"
            )
        ]

    def __str__(self) -> str:
        return f"{self.application_id} for {self.user_id}"

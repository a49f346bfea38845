"""Connectors (SaaS tools reached through the gateway) and the tools each exposes."""

from __future__ import annotations

from pathlib import Path

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

# The icons agenwork ships; a connector naming another one (or none) shows the generic icon
# rather than a broken image.
SHIPPED_ICONS = frozenset(
    icon.stem
    for icon in (Path(__file__).resolve().parent.parent / "static/icons/connectors").glob("*.svg")
)


class Connector(models.Model):
    """A SaaS integration such as Google Calendar or GitHub."""

    class Status(models.TextChoices):
        CONNECTED = "connected", "Connected"
        DISCONNECTED = "disconnected", "Disconnected"
        ERROR = "error", "Error"

    class CredentialMode(models.TextChoices):
        MANAGED = "managed", "Managed"
        BYO = "byo", "Bring your own"

    slug = models.SlugField(max_length=100, unique=True)
    name = models.CharField(max_length=200)
    icon = models.CharField(
        max_length=100, blank=True, help_text="Name of an icon under static/icons/connectors/."
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DISCONNECTED)
    enabled = models.BooleanField(default=True)
    credential_mode = models.CharField(
        max_length=16, choices=CredentialMode.choices, default=CredentialMode.MANAGED
    )
    client_id = models.CharField(max_length=500, blank=True)
    client_secret_encrypted = models.TextField(blank=True, help_text="Write-only, encrypted.")
    client_secret_set_at = models.DateTimeField(null=True, blank=True)
    base_url = models.URLField(blank=True)
    # An upstream MCP server over Streamable HTTP (a stdio command is ops' alone: MCP_UPSTREAMS).
    upstream_url = models.URLField(max_length=500, blank=True)
    upstream_auth_header_encrypted = models.TextField(
        blank=True, help_text="Write-only, encrypted: the Authorization header sent upstream."
    )
    upstream_auth_set_at = models.DateTimeField(null=True, blank=True)
    upstream_timeout_seconds = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(3600)],
        help_text="Seconds a call to the upstream may take; empty: MCP_UPSTREAM_TIMEOUT.",
    )
    upstream_error = models.TextField(blank=True)
    upstream_checked_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def icon_name(self) -> str:
        return self.icon if self.icon in SHIPPED_ICONS else "generic"


class Tool(models.Model):
    """One operation a connector exposes to agents, by its API identifier."""

    class Access(models.TextChoices):
        READ = "read", "Read"
        WRITE = "write", "Write"
        DELETE = "delete", "Delete"

    connector = models.ForeignKey(Connector, on_delete=models.CASCADE, related_name="tools")
    key = models.CharField(max_length=200, help_text="API identifier, e.g. github_repos_list")
    description = models.TextField(blank=True)
    input_schema = models.JSONField(default=dict, blank=True)
    # Set when a sync no longer finds the tool upstream: kept (policies and requests name it).
    missing_since = models.DateTimeField(null=True, blank=True)
    access = models.CharField(max_length=8, choices=Access.choices, default=Access.READ)
    access_overridden = models.BooleanField(
        default=False, help_text="Set by an admin: the catalog never changes it back."
    )
    enabled = models.BooleanField(default=True)

    class Meta:
        ordering = ["connector_id", "key"]
        constraints = [
            models.UniqueConstraint(fields=["connector", "key"], name="tool_unique_key"),
        ]

    def __str__(self) -> str:
        return self.key

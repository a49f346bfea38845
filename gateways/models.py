"""The gateways that ask for decisions: their API keys and webhook endpoints."""

from __future__ import annotations

from django.db import models


class ApiKey(models.Model):
    """A gateway's credential for the decisions API, with where to send its webhooks.

    - Only a SHA-256 hash of the key and a short prefix (to find the row) are stored.
    - The webhook signing secret is encrypted at rest: the app must read it back to sign.
    """

    name = models.CharField(max_length=100, unique=True)
    prefix = models.CharField(max_length=16, unique=True)
    key_hash = models.CharField(max_length=64)
    webhook_url = models.URLField(max_length=500, blank=True)
    webhook_secret_encrypted = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

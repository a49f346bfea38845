"""Rows that belong to no app: the heartbeats that /healthz reads."""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class Heartbeat(models.Model):
    """When a periodic job (the sweep, run by a worker) last ran to its end."""

    name = models.CharField(max_length=50, primary_key=True)
    at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.name} at {self.at.isoformat()}"

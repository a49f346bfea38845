"""Heartbeats: a worker marks the end of each sweep; /healthz reads how long ago that was."""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone

from agenwork.models import Heartbeat

SWEEP = "sweep"


def heartbeat_mark(*, name: str, at: datetime | None = None) -> None:
    """Record that `name` ran now (one row per name, overwritten)."""
    Heartbeat.objects.update_or_create(name=name, defaults={"at": at or timezone.now()})


def heartbeat_last(*, name: str) -> datetime | None:
    """When `name` last ran, or None when it never has."""
    return Heartbeat.objects.filter(name=name).values_list("at", flat=True).first()

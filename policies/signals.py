"""Signal receivers that keep the policy snapshot cache fresh.

Cache invalidation is the one thing signals are used for in agenwork: each receiver only schedules
a version bump after commit, and holds no business logic.
"""

from __future__ import annotations

from typing import Any

from django.db.models.signals import m2m_changed, post_delete, post_save

from connectors.models import Connector, Tool
from directory.models import Group, Person
from policies.models import Policy
from policies.snapshot import snapshot_changed

WATCHED_MODELS = (Policy, Person, Group, Connector, Tool)
WATCHED_RELATIONS = (
    Policy.tools.through,
    Policy.users.through,
    Policy.groups.through,
    Group.members.through,
)
_M2M_WRITES = frozenset({"post_add", "post_remove", "post_clear"})


def _row_changed(sender: type, **kwargs: Any) -> None:
    snapshot_changed()


def _relation_changed(sender: type, action: str, **kwargs: Any) -> None:
    if action in _M2M_WRITES:
        snapshot_changed()


def connect_signals() -> None:
    """Connect the receivers; safe to call more than once."""
    for model in WATCHED_MODELS:
        uid = f"policies.snapshot.{model._meta.label_lower}"
        post_save.connect(_row_changed, sender=model, dispatch_uid=f"{uid}.save")
        post_delete.connect(_row_changed, sender=model, dispatch_uid=f"{uid}.delete")
    for through in WATCHED_RELATIONS:
        uid = f"policies.snapshot.{through._meta.label_lower}.m2m"
        m2m_changed.connect(_relation_changed, sender=through, dispatch_uid=uid)

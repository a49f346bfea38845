"""Recording admin changes."""

from __future__ import annotations

from typing import Any

from audit.models import AuditEntry


def audit_record(
    *,
    actor: Any,
    action: str,
    object_type: str,
    object_id: object,
    object_repr: str,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    channel: str = "web",
) -> AuditEntry:
    """Append one entry; `before` and `after` are plain JSON snapshots of the changed object."""
    user = actor if getattr(actor, "pk", None) else None
    name = ""
    if user is not None:
        person = getattr(user, "person", None)
        name = person.name if person else (user.get_full_name() or user.get_username())
    elif isinstance(actor, str):
        name = actor
    return AuditEntry.objects.create(
        actor=user,
        actor_name=name[:200],
        channel=channel,
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        object_repr=object_repr[:200],
        before=before,
        after=after,
    )

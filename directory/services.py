"""Every write to people, groups and SCIM tokens.

- People and groups come from the identity provider (import_directory, SCIM); the console only
  locks and unlocks. An admin's lock (`status`) and the IdP's deactivation (`deactivated_at`)
  are separate: reactivating in the IdP never lifts an admin's lock.
- Writes go through save() and the M2M managers, so the policy snapshot is rebuilt after commit
  (policies/signals.py watches Person, Group and memberships).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from agenwork.bearer import credential_issue, credential_prefix, credential_touch
from agenwork.crypto import same_hash
from audit.models import AuditEntry
from audit.services import audit_record
from directory.models import Group, Person, ScimToken

SCIM_SCHEME = "scim"
PERSON_FIELDS = ("name", "email", "external_id", "phone", "mfa_enabled")


class PersonAlreadyInState(Exception):
    """A lock of a locked person or an unlock of an active one: nothing to do."""


def person_state(person: Person) -> dict[str, Any]:
    """A plain JSON snapshot of a person, for the audit trail."""
    return {
        "name": person.name,
        "email": person.email,
        "external_id": person.external_id,
        "phone": person.phone,
        "mfa_enabled": person.mfa_enabled,
        "status": person.status,
        "deactivated": person.deactivated_at is not None,
    }


def group_state(group: Group) -> dict[str, Any]:
    """A plain JSON snapshot of a group (without its members), for the audit trail."""
    return {"name": group.name, "external_id": group.external_id, "description": group.description}


def audit_person(
    person: Person, action: str, *, actor: Any, before: dict | None, channel: str
) -> None:
    """Record a change of a person: the state before (None when created) and after."""
    audit_record(
        actor=actor,
        action=action,
        object_type="person",
        object_id=person.pk,
        object_repr=str(person),
        before=before,
        after=person_state(person),
        channel=channel,
    )


def audit_group(
    group: Group, action: str, *, actor: Any, before: dict | None, after: dict | None, channel: str
) -> None:
    """Record a change of a group (members are listed by the caller in before/after)."""
    audit_record(
        actor=actor,
        action=action,
        object_type="group",
        object_id=group.pk,
        object_repr=group.name,
        before=before,
        after=after,
        channel=channel,
    )


def _set_status(*, person: Person, status: str, actor: Any) -> Person:
    with transaction.atomic():
        locked = Person.objects.select_for_update().get(pk=person.pk)
        if locked.status == status:
            raise PersonAlreadyInState(f"{locked.name} is {locked.get_status_display().lower()}.")
        before = person_state(locked)
        locked.status = status
        locked.save(update_fields=["status", "updated_at"])
        locking = status == Person.Status.LOCKED
        action = AuditEntry.Action.LOCKED if locking else AuditEntry.Action.UNLOCKED
        audit_person(locked, action, actor=actor, before=before, channel="web")
    return locked


def person_lock(*, person: Person, actor: Any) -> Person:
    """Lock a person: from the next decision on, their agents are denied everything."""
    return _set_status(person=person, status=Person.Status.LOCKED, actor=actor)


def person_unlock(*, person: Person, actor: Any) -> Person:
    """Lift an admin's lock (an IdP deactivation, if any, stays)."""
    return _set_status(person=person, status=Person.Status.ACTIVE, actor=actor)


def person_save(
    *, person: Person, fields: dict[str, Any], actor: Any, channel: str, active: bool | None = None
) -> tuple[Person, bool]:
    """Create or update a person from the IdP's fields; returns (person, changed).

    - `active` False deactivates, True reactivates, None leaves it; the admin lock is untouched.
    - Writes and audits only when something differs, so a repeated import changes nothing.
    - A change that is not SCIM's (the import) drops what SCIM last wrote (`scim_attributes`),
      so SCIM then shows the person as agenwork holds them.
    """
    creating = person.pk is None
    before = None if creating else person_state(person)
    changed = creating
    for name, value in fields.items():
        if getattr(person, name) != value:
            setattr(person, name, value)
            changed = True
    if changed and "scim_attributes" not in fields:
        person.scim_attributes = {}
    if active is not None and (person.deactivated_at is None) != active:
        person.deactivated_at = None if active else timezone.now()
        changed = True
    if not changed:
        return person, False
    person.full_clean(exclude=["user", "status"], validate_unique=False)
    person.save()
    action = AuditEntry.Action.CREATED if creating else AuditEntry.Action.UPDATED
    audit_person(person, action, actor=actor, before=before, channel=channel)
    return person, True


def person_deactivate(*, person: Person, actor: Any, channel: str, now: datetime) -> bool:
    """Mark a person deactivated by the IdP; False when they were already."""
    if person.deactivated_at is not None:
        return False
    before = person_state(person)
    person.deactivated_at = now
    person.save(update_fields=["deactivated_at", "updated_at"])
    audit_person(person, AuditEntry.Action.UPDATED, actor=actor, before=before, channel=channel)
    return True


def group_members_set(*, group: Group, person_ids: set[int]) -> bool:
    """Make the group's members exactly these people; False when they already were."""
    current = set(group.members.values_list("id", flat=True))
    if current == person_ids:
        return False
    group.members.remove(*(current - person_ids))
    group.members.add(*(person_ids - current))
    return True


@dataclass(frozen=True)
class IssuedScimToken:
    """A SCIM token as created: the raw token exists only here, shown once."""

    token: ScimToken
    raw_token: str


@transaction.atomic
def scim_token_create(*, name: str, actor: Any = None) -> IssuedScimToken:
    """Create a SCIM bearer token; only its hash and prefix are stored."""
    name = name.strip()
    if not name or len(name) > 100:
        raise ValidationError({"name": "Give the token a name of 1 to 100 characters."})
    if ScimToken.objects.filter(name=name).exists():
        raise ValidationError({"name": f"A SCIM token named “{name}” exists already."})
    credential = credential_issue(SCIM_SCHEME)
    token = ScimToken.objects.create(
        name=name, prefix=credential.prefix, token_hash=credential.hash
    )
    audit_record(
        actor=actor or "manage.py",
        action=AuditEntry.Action.CREATED,
        object_type="scim_token",
        object_id=token.pk,
        object_repr=str(token),
        after={"name": token.name, "prefix": token.prefix},
        channel="cli",
    )
    return IssuedScimToken(token=token, raw_token=credential.raw)


def scim_token_authenticate(raw: str) -> ScimToken | None:
    """The unrevoked SCIM token matching a presented bearer token, or None. One query."""
    prefix = credential_prefix(raw, SCIM_SCHEME)
    active = ScimToken.objects.filter(revoked_at__isnull=True)
    token = active.filter(prefix=prefix).first() if prefix else None
    if token is None or not same_hash(raw, token.token_hash):
        return None
    credential_touch(token)
    return token

"""Every write SCIM makes: people and groups saved from drafts, audited with channel "scim".

- Each runs in one transaction with the row locked; a uniqueness clash is a 409 and stores
  nothing. The policy snapshot is rebuilt after commit (policies/signals.py).
- A User deleted over SCIM stays as a deactivated person (their requests and decisions keep
  pointing at them), out of their groups and gone from SCIM; created again with the same email,
  the same person comes back.
"""

from __future__ import annotations

from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q

from audit.models import AuditEntry
from directory.models import Group, Person, ScimToken
from directory.scim.errors import ScimError
from directory.scim.groups import GroupDraft, group_document, group_draft
from directory.scim.patch import apply_operations
from directory.scim.paths import Operation
from directory.scim.schema import GROUP, USER
from directory.scim.selectors import shown_people
from directory.scim.users import FILTERS, UserDraft, user_document, user_draft
from directory.services import (
    audit_group,
    audit_person,
    group_members_set,
    group_state,
    person_save,
    person_state,
)

CHANNEL = "scim"


def _actor(token: ScimToken) -> str:
    return f"SCIM: {token.name}"


def _conflict(detail: str) -> ScimError:
    return ScimError(409, detail, "uniqueness")


def scim_user_save(*, person: Person | None, draft: UserDraft, token: ScimToken) -> Person:
    """Create (person None) or update a person from a draft; 409 when another user has it."""
    fields = {**draft.fields, "scim_deleted_at": None}
    if person is None:  # a user deleted over SCIM comes back as the same person
        person = Person.objects.filter(
            scim_deleted_at__isnull=False, email__iexact=fields["email"]
        ).first()
    _check_unique(person, fields)
    try:
        with transaction.atomic():
            if person is not None:
                person = Person.objects.select_for_update().get(pk=person.pk)
            saved, _ = person_save(
                person=person or Person(),
                fields=fields,
                actor=_actor(token),
                channel=CHANNEL,
                active=draft.active,
            )
    except IntegrityError:
        raise _conflict("The user clashes with one saved meanwhile.") from None
    except ValidationError as exc:
        raise ScimError(400, " ".join(exc.messages), "invalidValue") from None
    return saved


def scim_user_patch(*, person: Person, operations: list[Operation], token: ScimToken) -> Person:
    """Apply PATCH operations to a user with its row locked, so two PATCHes lose nothing."""
    with transaction.atomic():
        person = Person.objects.select_for_update().get(pk=person.pk)
        document = user_document(person)
        touched = apply_operations(document, USER, operations)
        draft = user_draft(document, active_given="active" in touched)
        return scim_user_save(person=person, draft=draft, token=token)


def _check_unique(person: Person | None, fields: dict) -> None:
    others = Person.objects.exclude(pk=person.pk) if person is not None else Person.objects.all()
    shown = others.filter(scim_deleted_at__isnull=True)
    if shown.filter(FILTERS["username"](fields["user_name"])).exists():
        raise _conflict(f"A user with userName {fields['user_name']} exists already.")
    if others.filter(email__iexact=fields["email"]).exists():
        raise _conflict(f"A user with the email {fields['email']} exists already.")
    if fields["external_id"] and others.filter(external_id=fields["external_id"]).exists():
        raise _conflict(f"A user with externalId {fields['external_id']} exists already.")


@transaction.atomic
def scim_user_delete(*, person: Person, token: ScimToken, now: datetime) -> None:
    """Delete a user as SCIM sees it (RFC 7644 §3.6: 404 from now on); the person stays.

    - Deactivated (their agents are denied), out of their groups, externalId released.
    """
    person = Person.objects.select_for_update().get(pk=person.pk)
    group_ids = sorted(person.groups.values_list("pk", flat=True))
    before = {**person_state(person), "group_ids": group_ids}
    person.deactivated_at = person.deactivated_at or now
    person.scim_deleted_at = now
    person.external_id = None
    person.save(update_fields=["deactivated_at", "scim_deleted_at", "external_id", "updated_at"])
    person.groups.clear()
    audit_person(
        person, AuditEntry.Action.DELETED, actor=_actor(token), before=before, channel=CHANNEL
    )


def scim_group_save(*, group: Group | None, draft: GroupDraft, token: ScimToken) -> Group:
    """Create (group None) or update a group and its members; 409 on a name or externalId clash."""
    fields = draft.fields()
    others = Group.objects.exclude(pk=group.pk) if group is not None else Group.objects.all()
    clash = Q(name__iexact=fields["name"])
    if fields["external_id"]:
        clash |= Q(external_id=fields["external_id"])
    if others.filter(clash).exists():
        raise _conflict(f"A group named {fields['name']} (or with that externalId) exists already.")
    try:
        with transaction.atomic():
            return _save_group(group, fields, draft.member_ids, token)
    except IntegrityError:
        raise _conflict("The group clashes with one saved meanwhile.") from None


def scim_group_patch(*, group: Group, operations: list[Operation], token: ScimToken) -> Group:
    """Apply PATCH operations to a group with its row locked, so two PATCHes lose nothing."""
    with transaction.atomic():
        group = Group.objects.select_for_update().get(pk=group.pk)
        members = shown_people().filter(groups=group).values_list("pk", flat=True)
        document = group_document(group, members)
        apply_operations(document, GROUP, operations)
        return scim_group_save(group=group, draft=group_draft(document), token=token)


def _save_group(group: Group | None, fields: dict, member_ids: set[int], token: ScimToken) -> Group:
    creating = group is None
    if group is not None:
        group = Group.objects.select_for_update().get(pk=group.pk)
    group = group or Group()
    before_members = set() if creating else set(group.members.values_list("pk", flat=True))
    before = None if creating else {**group_state(group), "member_ids": sorted(before_members)}
    changed = creating or any(getattr(group, k) != v for k, v in fields.items())
    if changed:
        for key, value in fields.items():
            setattr(group, key, value)
        group.save()
    changed = group_members_set(group=group, person_ids=member_ids) or changed
    if changed:
        after = {**group_state(group), "member_ids": sorted(member_ids)}
        action = "created" if creating else "updated"
        audit_group(group, action, actor=_actor(token), before=before, after=after, channel=CHANNEL)
    return group


@transaction.atomic
def scim_group_delete(*, group: Group, token: ScimToken) -> None:
    """Delete a group (its memberships and its place in policies go with it)."""
    members = sorted(group.members.values_list("pk", flat=True))
    before = {**group_state(group), "member_ids": members}
    pk = group.pk
    group.delete()
    group.pk = pk
    audit_group(group, "deleted", actor=_actor(token), before=before, after=None, channel=CHANNEL)

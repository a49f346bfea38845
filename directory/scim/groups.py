"""SCIM Groups: a Group as a resource, and a Group document as its name, externalId and members.

- Members are people, by their SCIM id; an unknown, deleted or malformed id, or a group as a
  member, is invalidValue (nothing is stored). Nested groups are not supported.
- PATCH is patch.py's, as Okta and Entra ID send it: `add`/`remove`/`replace` on `members`
  (Entra's `remove` names the members in `value`), `remove` on `members[value eq "id"]`,
  `replace` on `displayName` / `externalId`, and Okta's path-less `replace` with
  {"id", "displayName", "members"?}.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Q

from directory.models import Group, Person
from directory.scim.errors import invalid_value
from directory.scim.patch import Document
from directory.scim.schema import GROUP_URN
from directory.scim.selectors import shown_people
from directory.scim.users import Urls

FILTERS: dict[str, Callable[[str], Q]] = {
    "displayname": lambda v: Q(name__iexact=v),
    "externalid": lambda v: Q(external_id=v),
}


@dataclass
class GroupDraft:
    """What a SCIM request may set on a group."""

    name: str = ""
    external_id: str | None = None
    member_ids: set[int] = field(default_factory=set)

    def fields(self) -> dict[str, Any]:
        if not self.name:
            raise invalid_value("displayName is required.")
        return {"name": self.name, "external_id": self.external_id or None}


def group_document(group: Group, member_ids: Iterable[int]) -> Document:
    """The group as a Group document: what PUT replaces and PATCH changes."""
    document: Document = {"displayName": group.name}
    if group.external_id:
        document["externalId"] = group.external_id
    members = [{"value": str(pk), "type": "User"} for pk in sorted(member_ids)]
    if members:
        document["members"] = members
    return document


def group_draft(document: Document) -> GroupDraft:
    """The group's fields and members from a document."""
    return GroupDraft(
        name=document.get("displayName") or "",
        external_id=document.get("externalId"),
        member_ids=member_ids(document.get("members") or []),
    )


def member_ids(members: list[dict[str, Any]]) -> set[int]:
    """Person ids of a members list; invalidValue when one is not a person SCIM shows."""
    ids: set[int] = set()
    for member in members:
        if str(member.get("type", "User")).lower() != "user":
            raise invalid_value("Nested groups are not supported: members are users.")
        raw = str(member.get("value", "")).strip()
        if not raw.isdigit() or len(raw) > 18:
            raise invalid_value(f"No user has the id {raw[:40]!r}.")
        ids.add(int(raw))
    found = set(shown_people().filter(pk__in=ids).values_list("pk", flat=True))
    missing = sorted(ids - found)
    if missing:
        raise invalid_value(f"No user has the id {missing[0]}.")
    return ids


def group_resource(group: Group, urls: Urls, members: list[Person] | None) -> dict[str, Any]:
    """The SCIM Group representation (`members` None: not read, not shown)."""
    resource: dict[str, Any] = {
        "schemas": [GROUP_URN],
        "id": str(group.pk),
        "displayName": group.name,
    }
    if group.external_id:
        resource["externalId"] = group.external_id
    if members:
        resource["members"] = [
            {"value": str(p.pk), "$ref": f"{urls.users}{p.pk}", "type": "User"} for p in members
        ]
    resource["meta"] = {
        "resourceType": "Group",
        "created": group.created_at.isoformat(),
        "lastModified": group.updated_at.isoformat(),
        "location": f"{urls.groups}{group.pk}",
    }
    return resource

"""SCIM Groups: a Group as a resource, and membership changes as Okta and Entra ID send them.

- Members are people, by their SCIM id; an unknown or malformed id is invalidValue (nothing is
  stored). Nested groups are not supported.
- PATCH: `add`/`remove`/`replace` on `members` (a list of {"value": id}), `remove` on
  `members[value eq "id"]`, `replace` on `displayName` / `externalId`, and Okta's path-less
  `replace` with {"id", "displayName", "members"?}.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from directory.models import Group, Person
from directory.scim.errors import ScimError, invalid_value
from directory.scim.paths import Operation, Path, as_text, parse_path

GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
FILTERS = {"displayname": "name__iexact", "externalid": "external_id"}


@dataclass
class GroupDraft:
    """What a SCIM request may set on a group."""

    name: str = ""
    external_id: str | None = None
    member_ids: set[int] = field(default_factory=set)

    @classmethod
    def of(cls, group: Group, member_ids: set[int]) -> GroupDraft:
        return cls(group.name, group.external_id, set(member_ids))

    def fields(self) -> dict[str, Any]:
        if not self.name:
            raise invalid_value("displayName is required.")
        return {"name": self.name, "external_id": self.external_id or None}


def group_resource(
    group: Group, location: str, members: list[Person] | None, person_url: str
) -> dict[str, Any]:
    """The SCIM Group representation; `members` None leaves them out (excludedAttributes)."""
    resource: dict[str, Any] = {
        "schemas": [GROUP_SCHEMA],
        "id": str(group.pk),
        "displayName": group.name,
        "meta": {
            "resourceType": "Group",
            "created": group.created_at.isoformat(),
            "lastModified": group.updated_at.isoformat(),
            "location": location,
        },
    }
    if group.external_id:
        resource["externalId"] = group.external_id
    if members is not None:
        resource["members"] = [
            {"value": str(p.pk), "display": p.name, "$ref": f"{person_url}{p.pk}"} for p in members
        ]
    return resource


def draft_from_resource(body: Any) -> GroupDraft:
    """A POST or PUT body as a draft."""
    if not isinstance(body, dict):
        raise ScimError(400, "The body is a SCIM Group object.", "invalidSyntax")
    draft = GroupDraft(
        name=as_text(body.get("displayName"), "displayName"),
        external_id=as_text(body.get("externalId"), "externalId") or None,
    )
    if not draft.name:
        raise invalid_value("displayName is required.")
    draft.member_ids = member_ids(body.get("members") or [])
    return draft


def apply_operations(draft: GroupDraft, operations: list[Operation]) -> None:
    """Apply PATCH operations to a draft."""
    for operation in operations:
        if operation.path is not None:
            _apply(draft, operation.op, operation.path, operation.value)
            continue
        for key, value in operation.value.items():
            if key.lower() in ("id", "schemas", "meta"):
                continue
            _apply(draft, operation.op, parse_path(key), value)


def _apply(draft: GroupDraft, op: str, path: Path, value: Any) -> None:
    if path.extension:
        return
    if path.attr == "displayname":
        if op == "remove":
            raise invalid_value("displayName cannot be removed.")
        draft.name = as_text(value, "displayName")
        if not draft.name:
            raise invalid_value("displayName cannot be empty.")
    elif path.attr == "externalid":
        draft.external_id = None if op == "remove" else (as_text(value, "externalId") or None)
    elif path.attr == "members":
        _apply_members(draft, op, path, value)


def _apply_members(draft: GroupDraft, op: str, path: Path, value: Any) -> None:
    if path.filter_attr is not None:
        if path.filter_attr != "value" or op != "remove":
            raise ScimError(400, 'Use remove on members[value eq "id"].', "invalidPath")
        draft.member_ids -= member_ids([{"value": path.filter_value}], must_exist=False)
        return
    if op == "remove" and value is None:
        draft.member_ids = set()  # remove every member
        return
    ids = member_ids(value if value is not None else [], must_exist=op != "remove")
    if op == "add":
        draft.member_ids |= ids
    elif op == "remove":
        draft.member_ids -= ids
    else:
        draft.member_ids = ids


def member_ids(value: Any, *, must_exist: bool = True) -> set[int]:
    """Person ids of a members list; invalidValue when one is not a person (adding)."""
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise invalid_value('members is a list of objects like {"value": "<user id>"}.')
    ids: set[int] = set()
    for item in value:
        raw = str(item.get("value", "")).strip()
        if not raw.isdigit() or len(raw) > 18:
            raise invalid_value(f"No user has the id {raw!r}.")
        ids.add(int(raw))
    if not must_exist:
        return ids
    found = set(Person.objects.filter(pk__in=ids).values_list("pk", flat=True))
    missing = sorted(ids - found)
    if missing:
        raise invalid_value(f"No user has the id {missing[0]}.")
    return ids

"""SCIM Users: a Person as a User resource, and a User document as the person's fields.

- The document (patch.py) keeps what the identity provider sent — name parts, displayName,
  emails, phone numbers, active — and gives it back unchanged; the person's fields are derived
  from it and nothing it sent is overwritten:
  - email: the userName when it is an email address, else the primary (else work, else first)
    of `emails`; a User with neither is invalidValue, as agenwork knows a person by email;
  - name: displayName, else the given and family names, else name.formatted, else the email's
    local part;
  - phone (for SMS approvals): the first of the mobile, primary and other numbers that reads as
    E.164 once spaces, dashes and brackets are removed; the numbers stay as sent.
- `active: false` deactivates (the IdP's deactivation), `active: true` or its removal
  reactivates; neither touches a lock set by an admin in the console.
- People from import_directory have no document yet: they are shown from their fields.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db.models import Q

from directory.models import Group, Person
from directory.scim.errors import invalid_value
from directory.scim.patch import Document
from directory.scim.schema import USER_URN

PHONE = re.compile(r"^\+[1-9][0-9]{6,14}$")
KEPT = ("name", "displayName", "emails", "phoneNumbers", "active")  # the rest has a field
FILTERS: dict[str, Callable[[str], Q]] = {
    "username": lambda v: Q(user_name__iexact=v) | Q(user_name="", email__iexact=v),
    "externalid": lambda v: Q(external_id=v),
    "emails.value": lambda v: Q(email__iexact=v),
}


@dataclass(frozen=True)
class UserDraft:
    """What a SCIM request sets on a person: their fields, and `active` when it said so."""

    fields: dict[str, Any]
    active: bool | None


@dataclass(frozen=True)
class Urls:
    """Where the resources live, for `$ref` and `meta.location` (each ends with a slash)."""

    users: str
    groups: str


def user_document(person: Person) -> Document:
    """The person as a User document: what PUT replaces and PATCH changes."""
    document = dict(person.scim_attributes) if person.scim_attributes else _from_fields(person)
    document["userName"] = person.user_name or person.email
    if person.external_id:
        document["externalId"] = person.external_id
    return document


def _from_fields(person: Person) -> Document:
    given, _, family = person.name.partition(" ")
    parts = {"formatted": person.name, "givenName": given, "familyName": family}
    document: Document = {
        "name": {key: part for key, part in parts.items() if part},
        "displayName": person.name,
        "emails": [{"value": person.email, "type": "work", "primary": True}],
        "active": person.deactivated_at is None,
    }
    if person.phone:
        document["phoneNumbers"] = [{"value": person.phone, "type": "mobile", "primary": True}]
    return document


def user_draft(document: Document, *, active_given: bool) -> UserDraft:
    """The person's fields from a document; `active_given`: the request set or removed active."""
    user_name = document.get("userName")
    if not user_name:
        raise invalid_value("userName is required.")
    email = _email(user_name, document.get("emails") or [])
    fields = {
        "user_name": user_name,
        "email": email,
        "name": _person_name(document, email),
        "external_id": document.get("externalId"),
        "phone": _phone(document.get("phoneNumbers") or []),
        "scim_attributes": {key: document[key] for key in KEPT if key in document},
    }
    return UserDraft(fields, document.get("active", True) if active_given else None)


def _is_email(text: str) -> bool:
    try:
        validate_email(text)
    except ValidationError:
        return False
    return True


def _email(user_name: str, emails: list[dict[str, Any]]) -> str:
    if _is_email(user_name):
        return user_name.lower()
    chosen = _ordered(emails, lambda e: e.get("primary") is True, lambda e: e.get("type") == "work")
    if not chosen:
        raise invalid_value(
            f"userName {user_name[:100]!r} is not an email address and emails has none: "
            "agenwork knows a person by email."
        )
    if not _is_email(chosen[0]):
        raise invalid_value(f"{chosen[0][:100]!r} in emails is not an email address.")
    return chosen[0].lower()


def _person_name(document: Document, email: str) -> str:
    parts = document.get("name") or {}
    given_family = " ".join(p for p in (parts.get("givenName"), parts.get("familyName")) if p)
    name = document.get("displayName") or given_family or parts.get("formatted")
    return (name or email.split("@")[0])[:200]


def _phone(numbers: list[dict[str, Any]]) -> str:
    """The number SMS approvals use: mobile first, then the primary one, then the others."""
    ordered = _ordered(
        numbers, lambda n: n.get("type") == "mobile", lambda n: n.get("primary") is True
    )
    for value in ordered:
        text = re.sub(r"[\s().-]", "", value)
        text = "+" + text[2:] if text.startswith("00") else text
        if PHONE.match(text):
            return text
    return ""


def _ordered(items: Iterable[dict[str, Any]], *preferred: Callable[[dict], bool]) -> list[str]:
    """The values of items: those passing the first test first, then the second…"""

    def rank(item: dict[str, Any]) -> int:
        return next((i for i, test in enumerate(preferred) if test(item)), len(preferred))

    return [item["value"] for item in sorted((i for i in items if i.get("value")), key=rank)]


def _membership(group: Group, urls: Urls) -> dict[str, str]:
    return {
        "value": str(group.pk),
        "$ref": f"{urls.groups}{group.pk}",
        "display": group.name,
        "type": "direct",
    }


def user_resource(person: Person, urls: Urls, groups: list[Group] | None) -> dict[str, Any]:
    """The SCIM User representation of a person (`groups` None: not read, not shown)."""
    document = user_document(person)
    resource: dict[str, Any] = {"schemas": [USER_URN], "id": str(person.pk), **document}
    resource.setdefault("emails", [{"value": person.email, "type": "work", "primary": True}])
    if "active" in document or person.deactivated_at is not None:
        resource["active"] = person.deactivated_at is None
    if groups:
        resource["groups"] = [_membership(group, urls) for group in groups]
    resource["meta"] = {
        "resourceType": "User",
        "created": person.created_at.isoformat(),
        "lastModified": person.updated_at.isoformat(),
        "location": f"{urls.users}{person.pk}",
    }
    return resource

"""SCIM Users: a Person as a resource, a resource (or PATCH) as a Person's new fields.

- agenwork knows a person by email, and that is the userName (the attribute Okta and Entra ID
  match users on): a userName that is not an email is invalidValue. `emails` are read (and must
  be well formed) but never override the userName; a resource lists the userName as work email.
- Phone numbers are kept when they read as E.164 once spaces, dashes and brackets are removed;
  other attributes (title, addresses, the enterprise extension) are accepted and not stored.
- `active: false` deactivates (the IdP's deactivation), `active: true` reactivates; neither
  touches a lock set by an admin in the console.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from directory.models import Person
from directory.scim.errors import ScimError, invalid_value
from directory.scim.paths import Operation, Path, as_bool, as_text, parse_path

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
PHONE = re.compile(r"^\+[1-9][0-9]{6,14}$")
FILTERS = {
    "username": "email__iexact",
    "externalid": "external_id",
    "emails.value": "email__iexact",
}


@dataclass
class UserDraft:
    """The fields of a person a SCIM request may set."""

    email: str = ""
    external_id: str | None = None
    given: str = ""
    family: str = ""
    display: str = ""
    phone: str = ""
    active: bool = True
    names_touched: bool = False
    display_touched: bool = False

    @classmethod
    def of(cls, person: Person) -> UserDraft:
        given, _, family = person.name.partition(" ")
        return cls(
            email=person.email,
            external_id=person.external_id,
            given=given,
            family=family,
            display=person.name,
            phone=person.phone,
            active=person.deactivated_at is None,
        )

    def fields(self) -> dict[str, Any]:
        """The Person fields, checked."""
        try:
            validate_email(self.email)
        except ValidationError:
            raise invalid_value(f"userName must be an email address, not {self.email!r}.") from None
        if self.names_touched and not self.display_touched:
            self.display = ""
        name = self.display or f"{self.given} {self.family}".strip() or self.email.split("@")[0]
        return {
            "name": name[:200],
            "email": self.email.lower(),
            "external_id": self.external_id or None,
            "phone": self.phone,
        }


def user_resource(person: Person, location: str) -> dict[str, Any]:
    """The SCIM User representation of a person."""
    given, _, family = person.name.partition(" ")
    resource: dict[str, Any] = {
        "schemas": [USER_SCHEMA],
        "id": str(person.pk),
        "userName": person.email,
        "name": {"formatted": person.name, "givenName": given, "familyName": family},
        "displayName": person.name,
        "active": person.deactivated_at is None,
        "emails": [{"value": person.email, "type": "work", "primary": True}],
        "meta": {
            "resourceType": "User",
            "created": person.created_at.isoformat(),
            "lastModified": person.updated_at.isoformat(),
            "location": location,
        },
    }
    if person.external_id:
        resource["externalId"] = person.external_id
    if person.phone:
        resource["phoneNumbers"] = [{"value": person.phone, "type": "mobile", "primary": True}]
    return resource


def draft_from_resource(body: Any) -> UserDraft:
    """A POST or PUT body as a draft; invalidSyntax when it is not a User."""
    if not isinstance(body, dict):
        raise ScimError(400, "The body is a SCIM User object.", "invalidSyntax")
    if not isinstance(body.get("userName"), str) or not body["userName"].strip():
        raise invalid_value("userName is required.")
    draft = UserDraft()
    for key, value in body.items():
        if key in ("schemas", "id", "meta", "password", "groups"):
            continue
        set_attribute(draft, parse_path(key), value, "replace")
    return draft


def apply_operations(draft: UserDraft, operations: list[Operation]) -> None:
    """Apply PATCH operations to a draft (Okta's path-less values and Entra's paths alike)."""
    for operation in operations:
        if operation.path is not None:
            set_attribute(draft, operation.path, operation.value, operation.op)
            continue
        for key, value in operation.value.items():
            set_attribute(draft, parse_path(key), value, operation.op)


def set_attribute(draft: UserDraft, path: Path, value: Any, op: str) -> None:
    """Set (or, for remove, clear) one attribute of the draft."""
    if path.extension:
        return
    value = None if op == "remove" else value
    attr = path.attr
    if attr == "active":
        draft.active = True if value is None else as_bool(value, "active")
    elif attr == "username":
        _set_email(draft, value, "userName")
    elif attr == "externalid":
        draft.external_id = as_text(value, "externalId") or None
    elif attr == "displayname":
        draft.display = as_text(value, "displayName")
        draft.display_touched = True
    elif attr == "name":
        _set_name(draft, path, value)
    elif attr in ("emails", "phonenumbers") and path.sub not in (None, "value"):
        return  # type, primary, display: nothing agenwork keeps
    elif attr == "emails":
        _pick(path, value, "emails")  # checked, not stored: the userName is the email
    elif attr == "phonenumbers":
        draft.phone = _phone(_pick(path, value, "phoneNumbers"))


def _set_email(draft: UserDraft, value: Any, name: str) -> None:
    """The userName, which agenwork keeps as the person's email."""
    text = as_text(value, name, max_length=254)
    if not text:
        raise invalid_value(f"{name} cannot be empty: a person is known by email.")
    draft.email = text


def _set_name(draft: UserDraft, path: Path, value: Any) -> None:
    parts = {path.sub: value} if path.sub else value
    if parts is None:
        parts = {"givenname": "", "familyname": ""}
    if not isinstance(parts, dict):
        raise invalid_value("name is an object with givenName and familyName.")
    for key, part in parts.items():
        key = key.lower()
        if key == "givenname":
            draft.given, draft.names_touched = as_text(part, "name.givenName"), True
        elif key == "familyname":
            draft.family, draft.names_touched = as_text(part, "name.familyName"), True
        elif key == "formatted":
            draft.display, draft.display_touched = as_text(part, "name.formatted"), True


def _pick(path: Path, value: Any, name: str) -> Any:
    """The value of a multi-valued attribute: from `attr[type eq "work"].value`, or the list."""
    if path.sub is not None:
        if path.sub != "value":
            return None
        return value
    if value is None:
        return None
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise invalid_value(f"{name} is a list of objects with a value.")
    if not value:
        return None
    chosen = next((item for item in value if as_bool(item.get("primary", False), "primary")), None)
    chosen = chosen or next((item for item in value if item.get("type") == "work"), value[0])
    return chosen.get("value")


def _phone(value: Any) -> str:
    text = re.sub(r"[\s().-]", "", as_text(value, "phoneNumbers", max_length=64))
    if text.startswith("00"):
        text = "+" + text[2:]
    return text if PHONE.match(text) else ""

"""The User and Group schemas agenwork serves, with the characteristics of RFC 7643 §7 and §8.7.1.

- One declaration drives /Schemas, attribute selection (`attributes`, `excludedAttributes`) and
  PATCH: what is published here is what the server keeps and gives back as it was sent.
- The common attributes `id`, `externalId` and `meta` (RFC 7643 §3.1) belong to every resource
  and are declared once, in COMMON; the §8.7.1 schemas do not list them.
- Names are matched case-insensitively (RFC 7643 §2.1).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

USER_URN = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_URN = "urn:ietf:params:scim:schemas:core:2.0:Group"


@dataclass(frozen=True)
class Attribute:
    """One attribute and its characteristics (RFC 7643 §2.2 and §7)."""

    name: str
    type: str = "string"
    description: str = ""
    multi_valued: bool = False
    required: bool = False
    case_exact: bool = False
    mutability: str = "readWrite"
    returned: str = "default"
    uniqueness: str = "none"
    canonical_values: tuple[str, ...] = ()
    reference_types: tuple[str, ...] = ()
    sub_attributes: tuple[Attribute, ...] = ()
    max_length: int = 200  # agenwork's limit on a string value, not published

    def sub(self, name: str) -> Attribute | None:
        """The sub-attribute of that name, in any case."""
        lowered = name.lower()
        return next((s for s in self.sub_attributes if s.name.lower() == lowered), None)

    def as_json(self) -> dict[str, Any]:
        """The attribute as /Schemas publishes it."""
        body: dict[str, Any] = {
            "name": self.name,
            "type": self.type,
            "multiValued": self.multi_valued,
            "description": self.description,
            "required": self.required,
            "caseExact": self.case_exact,
            "mutability": self.mutability,
            "returned": self.returned,
            "uniqueness": self.uniqueness,
        }
        if self.canonical_values:
            body["canonicalValues"] = list(self.canonical_values)
        if self.reference_types:
            body["referenceTypes"] = list(self.reference_types)
        if self.sub_attributes:
            body["subAttributes"] = [s.as_json() for s in self.sub_attributes]
        return body


@dataclass(frozen=True)
class ResourceSchema:
    """A resource's schema: its URN, name and attributes (the common ones come from COMMON)."""

    urn: str
    name: str
    description: str
    attributes: tuple[Attribute, ...] = field(default_factory=tuple)

    def attribute(self, name: str) -> Attribute | None:
        """The attribute of that name (common ones included), in any case."""
        lowered = name.lower()
        return next((a for a in (*COMMON, *self.attributes) if a.name.lower() == lowered), None)

    def as_json(self, location: str) -> dict[str, Any]:
        """The schema as /Schemas publishes it."""
        return {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
            "id": self.urn,
            "name": self.name,
            "description": self.description,
            "attributes": [a.as_json() for a in self.attributes],
            "meta": {"resourceType": "Schema", "location": location},
        }


def _read_only(name: str, kind: str = "string", **extra: Any) -> Attribute:
    return Attribute(name, kind, mutability="readOnly", **extra)


def _plural(
    name: str,
    description: str,
    kinds: tuple[str, ...],
    *,
    required: bool = False,
    max_length: int = 200,
) -> Attribute:
    """A multi-valued attribute with the sub-attributes of RFC 7643 §2.4 (value, display…)."""
    return Attribute(
        name,
        "complex",
        description,
        multi_valued=True,
        required=required,
        sub_attributes=(
            Attribute("value", description=description, required=required, max_length=max_length),
            Attribute("display", description="A human-readable name, for display purposes."),
            Attribute(
                "type", description="A label of the value's function.", canonical_values=kinds
            ),
            Attribute(
                "primary",
                "boolean",
                "Whether this is the preferred value; true at most once.",
            ),
        ),
    )


COMMON = (
    _read_only(
        "id",
        description="The service provider's identifier of the resource.",
        case_exact=True,
        returned="always",
        uniqueness="server",
    ),
    Attribute("externalId", description="The identity provider's identifier.", case_exact=True),
    _read_only(
        "meta",
        "complex",
        description="The resource's metadata.",
        sub_attributes=(
            _read_only("resourceType", description="The resource type.", case_exact=True),
            _read_only("created", "dateTime", description="When the resource was created."),
            _read_only("lastModified", "dateTime", description="When it last changed."),
            _read_only("location", "reference", description="Its URI.", reference_types=("uri",)),
        ),
    ),
)

NAME = Attribute(
    "name",
    "complex",
    "The components of the user's real name.",
    sub_attributes=tuple(
        Attribute(part, description=description)
        for part, description in (
            ("formatted", "The full name, formatted for display."),
            ("familyName", "The family name, or last name."),
            ("givenName", "The given name, or first name."),
            ("middleName", "The middle name(s)."),
            ("honorificPrefix", "The honorific prefix(es), e.g. 'Ms.'."),
            ("honorificSuffix", "The honorific suffix(es), e.g. 'III'."),
        )
    ),
)

USER = ResourceSchema(
    USER_URN,
    "User",
    "A person whose AI agents agenwork governs.",
    (
        Attribute(
            "userName",
            description="The identity provider's unique name for the user; agenwork uses it "
            "as the email when it is an email address.",
            required=True,
            uniqueness="server",
            max_length=254,
        ),
        NAME,
        Attribute("displayName", description="The name of the user, suitable for display."),
        Attribute("active", "boolean", "Whether the user may use agenwork (false: deactivated)."),
        # Required here, unlike RFC 7643 §8.7.1: agenwork knows a person by email, so a User
        # needs one, in userName or in emails.
        _plural(
            "emails",
            "Email addresses for the user.",
            ("work", "home", "other"),
            required=True,
            max_length=254,
        ),
        _plural(
            "phoneNumbers",
            "Phone numbers for the user; SMS approvals use one in E.164.",
            ("work", "home", "mobile", "fax", "pager", "other"),
            max_length=64,
        ),
        _read_only(
            "groups",
            "complex",
            description="The groups the user belongs to; change them through the Group.",
            multi_valued=True,
            sub_attributes=(
                _read_only("value", description="The id of the group."),
                _read_only(
                    "$ref",
                    "reference",
                    description="The URI of the group.",
                    reference_types=("User", "Group"),
                ),
                _read_only("display", description="The group's name."),
                _read_only(
                    "type",
                    description="How the user belongs to it.",
                    canonical_values=("direct", "indirect"),
                ),
            ),
        ),
    ),
)

GROUP = ResourceSchema(
    GROUP_URN,
    "Group",
    "A group of people, as the identity provider knows it.",
    (
        Attribute(
            "displayName",
            description="The group's name.",
            required=True,
            uniqueness="server",
        ),
        Attribute(
            "members",
            "complex",
            "The people in the group (nested groups are not supported).",
            multi_valued=True,
            sub_attributes=(
                Attribute("value", description="The id of the member.", mutability="immutable"),
                Attribute(
                    "$ref",
                    "reference",
                    "The URI of the member.",
                    mutability="immutable",
                    reference_types=("User", "Group"),
                    max_length=2048,
                ),
                Attribute(
                    "type",
                    description="The member's resource type.",
                    mutability="immutable",
                    canonical_values=("User", "Group"),
                ),
            ),
        ),
    ),
)

SCHEMAS = (USER, GROUP)

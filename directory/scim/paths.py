"""SCIM PATCH paths and operations: `attr`, `attr.sub`, `attr[type eq "work"].sub`, with URNs.

- Operation names are case-insensitive (Entra ID sends "Replace", "Add", "Remove").
- Attributes of the core schemas may carry their schema URN; extension attributes (the enterprise
  schema: department, manager…) are not stored by agenwork and are accepted and ignored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from directory.scim.errors import ScimError

OPS = ("add", "replace", "remove")
CORE_PREFIXES = (
    "urn:ietf:params:scim:schemas:core:2.0:user:",
    "urn:ietf:params:scim:schemas:core:2.0:group:",
)
PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
_PATH = re.compile(
    r"^(?P<attr>[A-Za-z][\w$-]*)(?:\[(?P<filter>[^\]]*)\])?(?:\.(?P<sub>[A-Za-z][\w$-]*))?$"
)
_VALUE_FILTER = re.compile(r'^\s*(\w+)\s+eq\s+"?([^"]*)"?\s*$', re.IGNORECASE)


@dataclass(frozen=True)
class Path:
    """A parsed path: attribute, optional [attribute eq value] filter, optional sub-attribute."""

    attr: str
    filter_attr: str | None = None
    filter_value: str | None = None
    sub: str | None = None
    extension: bool = False


@dataclass(frozen=True)
class Operation:
    """One PATCH operation."""

    op: str
    path: Path | None
    value: Any


def parse_path(raw: str) -> Path:
    """A path as identity providers write it; invalidPath when it cannot be read."""
    text = raw.strip()
    lowered = text.lower()
    for prefix in CORE_PREFIXES:
        if lowered.startswith(prefix):
            text = text[len(prefix) :]
            break
    else:
        if lowered.startswith("urn:"):
            return Path(attr=text, extension=True)
    match = _PATH.match(text)
    if match is None:
        raise ScimError(400, f"Cannot read the path {raw[:200]!r}.", "invalidPath")
    filter_attr = filter_value = None
    if match.group("filter") is not None:
        found = _VALUE_FILTER.match(match.group("filter"))
        if found is None:
            raise ScimError(400, f"Cannot read the filter in {raw[:200]!r}.", "invalidFilter")
        filter_attr, filter_value = found.group(1).lower(), found.group(2)
    sub = match.group("sub")
    return Path(
        match.group("attr").lower(), filter_attr, filter_value, sub.lower() if sub else None
    )


def parse_patch(body: Any) -> list[Operation]:
    """The operations of a PatchOp body; invalidSyntax when it is not one."""
    if not isinstance(body, dict) or not isinstance(body.get("Operations"), list):
        raise ScimError(
            400, "A PATCH body is a PatchOp with a list of Operations.", "invalidSyntax"
        )
    operations = []
    for raw in body["Operations"]:
        if not isinstance(raw, dict) or str(raw.get("op", "")).lower() not in OPS:
            raise ScimError(
                400, "Each operation has an op: add, replace or remove.", "invalidSyntax"
            )
        op = str(raw["op"]).lower()
        path = raw.get("path")
        if path is not None and not isinstance(path, str):
            raise ScimError(400, "An operation's path is a string.", "invalidPath")
        parsed = parse_path(path) if path else None
        if parsed is None and op == "remove":
            raise ScimError(400, "A remove operation needs a path.", "noTarget")
        if parsed is None and not isinstance(raw.get("value"), dict):
            raise ScimError(400, "Without a path, the value is an object.", "invalidSyntax")
        operations.append(Operation(op, parsed, raw.get("value")))
    return operations


def as_bool(value: Any, name: str) -> bool:
    """true/false, also as the strings Entra ID sends ("True", "False")."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in {"true", "false"}:
        return value.strip().lower() == "true"
    raise ScimError(400, f"{name} must be true or false, not {value!r}.", "invalidValue")


def as_text(value: Any, name: str, *, max_length: int = 200) -> str:
    """A string attribute, stripped; invalidValue for other types or too long."""
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise ScimError(400, f"{name} must be a string.", "invalidValue")
    text = str(value).strip()
    if len(text) > max_length:
        raise ScimError(400, f"{name} is longer than {max_length} characters.", "invalidValue")
    return text

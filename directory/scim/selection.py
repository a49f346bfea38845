"""Which attributes an answer carries: `attributes` and `excludedAttributes` (RFC 7644 §3.4.2.5).

- Honoured on every answer that holds resources: GET of one or a list, `.search`, and the answers
  to POST, PUT and PATCH (RFC 7644 §3.9). The two are mutually exclusive: both is invalidValue.
- Attributes returned `always` (`id`, `schemas`) always come back, `never` never, `request` only
  when named in `attributes`. Names are case-insensitive, may name a sub-attribute
  (`name.givenName`, `emails.value`) and may carry the schema's URN
  (`urn:ietf:params:scim:schemas:core:2.0:User:userName`).
- A name the schema does not have is ignored, as RFC 7644 §3.10 has servers do with attributes
  they do not support; one that cannot be an attribute name is invalidValue.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from directory.scim.errors import ScimError, invalid_value
from directory.scim.schema import Attribute, ResourceSchema

MAX_NAMES = 100
_NAME = re.compile(r"^([A-Za-z][\w-]*)(?:\.([A-Za-z$][\w$-]*))?$")

Pick = tuple[str, "str | None"]  # (attribute, sub-attribute or None), lower-cased


@dataclass(frozen=True)
class Selection:
    """The attributes asked for (`included`) or left out (`excluded`); neither: the defaults."""

    included: frozenset[Pick] | None = None
    excluded: frozenset[Pick] = frozenset()

    def wants(self, name: str) -> bool:
        """Whether the answer carries any of the attribute (so a caller may skip reading it)."""
        lowered = name.lower()
        if self.included is not None:
            return any(attr == lowered for attr, _ in self.included)
        return (lowered, None) not in self.excluded

    def apply(self, resource: dict[str, Any], schema: ResourceSchema) -> dict[str, Any]:
        """The resource with only the selected attributes."""
        selected: dict[str, Any] = {}
        for key, value in resource.items():
            attribute = schema.attribute(key)
            picked = value if attribute is None else self._attribute(attribute, value)
            if picked is not None:
                selected[key] = picked
        return selected

    def _attribute(self, attribute: Attribute, value: Any) -> Any:
        if attribute.returned in ("always", "never"):
            return value if attribute.returned == "always" else None
        name = attribute.name.lower()
        if self.included is not None:
            if (name, None) in self.included:
                return _narrowed(attribute, value, keep=None, drop=frozenset())
            keep = frozenset(sub for attr, sub in self.included if attr == name and sub)
            return _narrowed(attribute, value, keep=keep, drop=frozenset()) if keep else None
        if attribute.returned == "request" or (name, None) in self.excluded:
            return None
        drop = frozenset(sub for attr, sub in self.excluded if attr == name and sub)
        return _narrowed(attribute, value, keep=None, drop=drop)


def _narrowed(
    attribute: Attribute, value: Any, *, keep: frozenset[str] | None, drop: frozenset[str]
) -> Any:
    """The value with only the wanted sub-attributes; None when nothing is left."""
    if not attribute.sub_attributes:
        return value if keep is None else None
    if attribute.multi_valued:
        items = [_item(attribute, item, keep, drop) for item in value]
        return [item for item in items if item] or None
    return _item(attribute, value, keep, drop) or None


def _item(
    attribute: Attribute, item: dict[str, Any], keep: frozenset[str] | None, drop: frozenset[str]
) -> dict[str, Any]:
    return {
        key: part
        for key, part in item.items()
        if _shown(attribute.sub(key), key.lower(), keep, drop)
    }


def _shown(
    sub: Attribute | None, name: str, keep: frozenset[str] | None, drop: frozenset[str]
) -> bool:
    returned = sub.returned if sub is not None else "default"
    if returned in ("always", "never"):
        return returned == "always"
    if keep is not None:
        return name in keep
    return returned != "request" and name not in drop


def selection_from_query(params: Mapping[str, Any], schema: ResourceSchema) -> Selection:
    """The selection of a query string (`?attributes=userName,name.givenName`)."""
    return _selection(_joined(params, "attributes"), _joined(params, "excludedAttributes"), schema)


def selection_from_search(body: dict[str, Any], schema: ResourceSchema) -> Selection:
    """The selection of a SearchRequest body (lists of names, RFC 7644 §3.4.3)."""
    return _selection(body.get("attributes"), body.get("excludedAttributes"), schema)


def _joined(params: Mapping[str, Any], key: str) -> str | None:
    getlist = getattr(params, "getlist", None)
    values = getlist(key) if getlist else ([params[key]] if key in params else [])
    return ",".join(values) if values else None


def _selection(included: Any, excluded: Any, schema: ResourceSchema) -> Selection:
    picked = _names(included, "attributes", schema)
    left_out = _names(excluded, "excludedAttributes", schema)
    if picked is not None and left_out is not None:
        raise invalid_value("Send attributes or excludedAttributes, not both.")
    if picked is not None:
        return Selection(included=picked)
    return Selection(excluded=left_out or frozenset())


def _names(raw: Any, label: str, schema: ResourceSchema) -> frozenset[Pick] | None:
    """The picks of a comma-separated string or a list of names; None when none is given."""
    if raw is None:
        return None
    names = raw.split(",") if isinstance(raw, str) else raw
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise ScimError(400, f"{label} is a list of attribute names.", "invalidSyntax")
    names = [name.strip() for name in names]
    if not any(names):
        return None
    if len(names) > MAX_NAMES:
        raise invalid_value(f"{label} names at most {MAX_NAMES} attributes.")
    picks = (_pick(name, label, schema) for name in names)
    return frozenset(pick for pick in picks if pick is not None)


def _pick(raw: str, label: str, schema: ResourceSchema) -> Pick | None:
    """(attribute, sub-attribute) of one name; None for a name this schema does not have."""
    text, urn = raw, None
    if raw.lower().startswith("urn:"):
        urn, _, text = raw.rpartition(":")
    match = _NAME.match(text)
    if match is None:
        raise invalid_value(f"{label}: {raw[:100]!r} is not an attribute name.")
    attribute = schema.attribute(match.group(1))
    sub = match.group(2)
    if (urn is not None and urn.lower() != schema.urn.lower()) or attribute is None:
        return None
    if sub is not None and attribute.sub(sub) is None:
        return None
    return attribute.name.lower(), sub.lower() if sub else None

"""Resources as documents: a POST or PUT body read, PATCH operations applied (RFC 7644 §3.5.2).

- A document holds the writable attributes of the schema (schema.py) with their schema names,
  values checked against their type: what the identity provider sent, and nothing else.
- Attributes the schema does not have (title, addresses, the enterprise extension…) are accepted
  and ignored, as Okta and Entra ID send them; readOnly ones are ignored in bodies and path-less
  values (RFC 7644 §3.5.1), refused as `mutability` when a PATCH path names them.
- add and replace on a complex attribute merge the given sub-attributes (§3.5.2.1, §3.5.2.3); add
  on a multi-valued one appends (a value already there is replaced); a value set `primary`
  takes it from the others (§3.5.2). `attr[type eq "work"].value` with no match creates that
  value, as Entra ID expects when it sends a type for the first time.
"""

from __future__ import annotations

from typing import Any

from directory.scim.errors import ScimError, invalid_value
from directory.scim.paths import Operation, Path, as_bool, as_text, parse_path
from directory.scim.schema import Attribute, ResourceSchema

MAX_VALUES = 20  # values of one multi-valued attribute a person may have (emails, phones)
Document = dict[str, Any]


def document_from_body(body: Any, schema: ResourceSchema) -> Document:
    """A POST or PUT body as a document; invalidSyntax when it is not an object."""
    if not isinstance(body, dict):
        raise ScimError(400, f"The body is a SCIM {schema.name} object.", "invalidSyntax")
    document: Document = {}
    for key, value in body.items():
        if key.lower() != "schemas":
            _apply(document, schema, "replace", parse_path(key), value, strict=False)
    return document


def apply_operations(
    document: Document, schema: ResourceSchema, operations: list[Operation]
) -> set[str]:
    """Apply PATCH operations to a document; the names of the attributes they touched."""
    touched: set[str] = set()
    for operation in operations:
        if operation.path is not None:
            touched.add(
                _apply(document, schema, operation.op, operation.path, operation.value, strict=True)
            )
            continue
        for key, value in operation.value.items():
            if key.lower() != "schemas":
                path = parse_path(key)
                touched.add(_apply(document, schema, operation.op, path, value, strict=False))
    touched.discard("")
    return touched


def _apply(
    document: Document, schema: ResourceSchema, op: str, path: Path, value: Any, *, strict: bool
) -> str:
    """One operation on one attribute; the attribute's name, or "" when it was ignored."""
    attribute = None if path.extension else schema.attribute(path.attr)
    if attribute is None:
        return ""
    if value is None:
        op = "remove"  # null makes an attribute unassigned (RFC 7643 §2.5)
    if attribute.mutability == "readOnly":
        if strict:
            raise ScimError(400, f"{attribute.name} is read-only.", "mutability")
        return ""
    if attribute.type != "complex":
        if path.sub is not None or path.filter_attr is not None:
            raise ScimError(400, f"{attribute.name} has no sub-attributes.", "invalidPath")
        _store(document, attribute.name, None if op == "remove" else coerce(attribute, value))
    elif attribute.multi_valued:
        _store(document, attribute.name, _multi(document, attribute, op, path, value))
    else:
        _store(document, attribute.name, _complex(document, attribute, op, path, value))
    return attribute.name


def _store(document: Document, name: str, value: Any) -> None:
    """Set an attribute; None or an empty value leaves it unassigned (RFC 7643 §2.5)."""
    if value is None or value == [] or value == {}:
        document.pop(name, None)
    else:
        document[name] = value


def _complex(document: Document, attribute: Attribute, op: str, path: Path, value: Any) -> Any:
    if path.filter_attr is not None:
        raise ScimError(400, f"{attribute.name} has a single value: no filter.", "invalidPath")
    current = dict(document.get(attribute.name) or {})
    if path.sub is None:
        return {} if op == "remove" else {**current, **(coerce(attribute, value) or {})}
    sub = attribute.sub(path.sub)
    if sub is not None:
        current[sub.name] = None if op == "remove" else coerce(sub, value, attribute.name)
    return {key: part for key, part in current.items() if part is not None}


def _multi(document: Document, attribute: Attribute, op: str, path: Path, value: Any) -> Any:
    items = [dict(item) for item in document.get(attribute.name) or []]
    if path.filter_attr is not None:
        return _filtered(items, attribute, op, path, value)
    if path.sub is not None:
        return _every(items, attribute, op, path.sub, value)
    if op == "remove":
        if value is None:
            return []
        gone = coerce(attribute, value) or []  # Entra ID names the values to remove
        return [item for item in items if not _among(item, gone)]
    new = coerce(attribute, value) or []
    if op == "replace":
        return new
    kept = [item for item in items if not _among(item, new)]
    if any(item.get("primary") for item in new):
        kept = [{**item, "primary": False} if item.get("primary") else item for item in kept]
    return _limited([*kept, *new], attribute)


def _among(item: dict[str, Any], others: list[dict[str, Any]]) -> bool:
    """Whether an item is one of others: the same value (in any case), or the same object."""
    if "value" not in item:
        return item in others
    wanted = str(item["value"]).casefold()
    return any(str(other.get("value", "")).casefold() == wanted for other in others)


def _filtered(
    items: list[dict[str, Any]], attribute: Attribute, op: str, path: Path, value: Any
) -> list[dict[str, Any]]:
    """`attr[key eq "x"]` and `attr[key eq "x"].sub`."""
    key = attribute.sub(path.filter_attr or "")
    if key is None:
        raise ScimError(400, f"{attribute.name} has no {path.filter_attr}.", "invalidFilter")
    matched = {
        i for i, item in enumerate(items) if _equal(item.get(key.name), path.filter_value, key)
    }
    sub = attribute.sub(path.sub) if path.sub else None
    if path.sub is not None and sub is None:
        return items  # a sub-attribute agenwork does not keep
    rest = [item for i, item in enumerate(items) if i not in matched]
    if sub is None:  # the whole values that match: removed, or replaced by the value
        return _limited([*rest, *(coerce(attribute, value) or [])], attribute)
    if not matched and op != "remove":
        items.append({key.name: coerce(key, path.filter_value, attribute.name)})
        matched = {len(items) - 1}
    new = None if op == "remove" else coerce(sub, value, attribute.name)
    for i in matched:
        items[i] = {k: v for k, v in {**items[i], sub.name: new}.items() if v is not None}
    return _limited([item for item in items if item], attribute)


def _every(
    items: list[dict[str, Any]], attribute: Attribute, op: str, name: str, value: Any
) -> list[dict[str, Any]]:
    """`emails.value` with no filter: the primary value (or the first), created when missing."""
    sub = attribute.sub(name)
    if sub is None:
        return items
    if op == "remove":
        rests = ({k: v for k, v in item.items() if k != sub.name} for item in items)
        return [rest for rest in rests if rest]
    target = next((item for item in items if item.get("primary")), items[0] if items else None)
    if target is None:
        target = {}
        items.append(target)
    target[sub.name] = coerce(sub, value, attribute.name)
    return [{k: v for k, v in item.items() if v is not None} for item in items]


def _equal(actual: Any, wanted: str | None, key: Attribute) -> bool:
    if actual is None or wanted is None:
        return False
    if key.type == "boolean":
        return str(actual).lower() == wanted.lower()
    return str(actual) == wanted if key.case_exact else str(actual).casefold() == wanted.casefold()


def coerce(attribute: Attribute, value: Any, parent: str = "") -> Any:
    """A value checked against the attribute's type; None for unassigned. invalidValue if wrong."""
    label = f"{parent}.{attribute.name}" if parent else attribute.name
    if value is None:
        return None
    if not attribute.multi_valued:
        return _single(attribute, value, label)
    values = value if isinstance(value, list) else [value]
    items = [item for v in values if (item := _single(attribute, v, label)) is not None]
    return _one_primary(_limited(items, attribute), attribute) or None


def _single(attribute: Attribute, value: Any, label: str) -> Any:
    if attribute.type == "complex":
        if not isinstance(value, dict):
            raise invalid_value(f"{label} is an object of {_sub_names(attribute)}.")
        parts = {}
        for key, part in value.items():
            sub = attribute.sub(key)
            if sub is not None and sub.mutability != "readOnly" and part is not None:
                parts[sub.name] = _single(sub, part, f"{label}.{sub.name}")
        return {k: v for k, v in parts.items() if v is not None} or None
    if attribute.type == "boolean":
        return as_bool(value, label)
    return as_text(value, label, max_length=attribute.max_length) or None


def _sub_names(attribute: Attribute) -> str:
    return ", ".join(sub.name for sub in attribute.sub_attributes)


def _limited(items: list[Any], attribute: Attribute) -> list[Any]:
    if attribute.name != "members" and len(items) > MAX_VALUES:
        raise invalid_value(f"{attribute.name} has at most {MAX_VALUES} values.")
    return items


def _one_primary(items: list[Any], attribute: Attribute) -> list[Any]:
    """RFC 7643 §2.4: the primary value true appears no more than once."""
    if sum(1 for item in items if isinstance(item, dict) and item.get("primary")) > 1:
        raise invalid_value(f"Only one of {attribute.name} may be primary.")
    return items

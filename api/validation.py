"""Field-by-field validation of the decisions API body."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from api.errors import ApiError

MAX_TOOLS = 50
MAX_NOTE = 2000
MAX_ARGUMENTS_BYTES = 16 * 1024
# Deeper values hit Python's recursion limit when encoded for PostgreSQL (a 500, not a 400).
MAX_ARGUMENTS_DEPTH = 32
FIELDS = frozenset({"user", "connector", "tools", "note", "agent", "arguments", "step_up"})


@dataclass(frozen=True)
class DecisionInput:
    """A validated decisions call."""

    user: str
    connector: str
    tools: tuple[str, ...]
    note: str
    agent: str
    arguments: dict[str, Any] | None
    step_up_at: datetime | None


def _string(body: dict, name: str, errors: dict, *, required: bool, max_length: int) -> str:
    value = body.get(name)
    if value is None:
        if required:
            errors[name] = "This field is required."
        return ""
    if not isinstance(value, str):
        errors[name] = "Must be a string."
        return ""
    if "\x00" in value:
        errors[name] = "Must not contain NUL characters."
    elif required and not value.strip():
        errors[name] = "Must not be empty."
    elif len(value) > max_length:
        errors[name] = f"At most {max_length} characters."
    return value.strip() if required else value


def _tools(body: dict, errors: dict) -> tuple[str, ...]:
    tools = body.get("tools")
    if tools is None:
        errors["tools"] = "This field is required."
    elif not isinstance(tools, list) or not all(isinstance(t, str) and t for t in tools):
        errors["tools"] = "Must be a list of tool keys (non-empty strings)."
    elif not 1 <= len(tools) <= MAX_TOOLS:
        errors["tools"] = f"Name between 1 and {MAX_TOOLS} tools."
    elif any(len(t) > 200 or "\x00" in t for t in tools):
        errors["tools"] = "A tool key has at most 200 characters and no NUL."
    else:
        return tuple(dict.fromkeys(tools))
    return ()


def _arguments(body: dict, errors: dict) -> dict[str, Any] | None:
    arguments = body.get("arguments")
    if arguments is None:
        return None
    if not isinstance(arguments, dict):
        errors["arguments"] = "Must be a JSON object."
        return None
    if _depth(arguments) > MAX_ARGUMENTS_DEPTH:
        errors["arguments"] = f"Nest objects and arrays at most {MAX_ARGUMENTS_DEPTH} levels deep."
        return None
    encoded = json.dumps(arguments, separators=(",", ":"), ensure_ascii=False)
    size = len(encoded.encode())
    if "\x00" in encoded or "\\u0000" in encoded:
        errors["arguments"] = "Must not contain NUL characters (PostgreSQL cannot store them)."
        return None
    if size > MAX_ARGUMENTS_BYTES:
        errors["arguments"] = f"At most 16 KB once encoded ({size} bytes sent)."
        return None
    return arguments


def _depth(value: Any) -> int:
    """How deeply objects and arrays nest in a JSON value, measured without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, level)
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, level + 1) for child in children)
    return deepest


def _step_up(body: dict, errors: dict) -> datetime | None:
    step_up = body.get("step_up")
    if step_up is None:
        return None
    raw = step_up.get("authenticated_at") if isinstance(step_up, dict) else None
    if not isinstance(raw, str) or set(step_up) - {"authenticated_at"}:
        errors["step_up"] = 'Must be {"authenticated_at": "<ISO 8601 time with a zone>"}.'
        return None
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        value = None
    if value is None or value.tzinfo is None:
        errors["step_up"] = "authenticated_at must be an ISO 8601 time with a zone."
        return None
    return value


def parse_decision_body(body: Any) -> DecisionInput:
    """Validate the body of POST /api/v1/decisions, or raise ApiError 400 with every problem."""
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_request", "The body must be a JSON object.")
    errors: dict[str, str] = {name: "Unknown field." for name in set(body) - FIELDS}
    data = DecisionInput(
        user=_string(body, "user", errors, required=True, max_length=254),
        connector=_string(body, "connector", errors, required=True, max_length=100),
        tools=_tools(body, errors),
        note=_string(body, "note", errors, required=False, max_length=MAX_NOTE),
        agent=_string(body, "agent", errors, required=False, max_length=200),
        arguments=_arguments(body, errors),
        step_up_at=_step_up(body, errors),
    )
    if errors:
        raise ApiError(
            400, "invalid_request", "Some fields are not valid.", dict(sorted(errors.items()))
        )
    return data

"""The decisions call validated by its model (contract.py), its errors told field by field."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from api.contract import MAX_TOOLS, TIME_WITH_ZONE, DecisionCall
from api.errors import ApiError

REQUIRED = "This field is required."
TOOL_KEYS = "Must be a list of tool keys (non-empty strings)."
STEP_UP = 'Must be {"authenticated_at": "<ISO 8601 time with a zone>"}.'
# One sentence per field, whatever pydantic found: by error type, a field's own before the rest.
MESSAGES: dict[str, str] = {
    "extra_forbidden": "Unknown field.",
    "string_type": "Must be a string.",
    "string_too_short": "Must not be empty.",
    "dict_type": "Must be a JSON object.",
}
FIELD_MESSAGES: dict[str, dict[str, str]] = {
    "tools": {
        "list_type": TOOL_KEYS,
        "string_type": TOOL_KEYS,
        "string_too_short": TOOL_KEYS,
        "too_short": f"Name between 1 and {MAX_TOOLS} tools.",
        "too_long": f"Name between 1 and {MAX_TOOLS} tools.",
        "string_too_long": "A tool key has at most 200 characters and no NUL.",
        "nul": "A tool key has at most 200 characters and no NUL.",
    },
    "step_up": {"time_format": TIME_WITH_ZONE, "timezone_aware": TIME_WITH_ZONE},
}
FIELD_FALLBACK = {"step_up": STEP_UP}
# When a field has several errors, the first kind here names it (as a person would fix them).
PRECEDENCE = ("missing", "_type", "extra_forbidden", "string_too_short", "too_short", "too_long")


def parse_decision_body(body: Any) -> DecisionCall:
    """Validate the body of POST /decisions, or raise ApiError 400 with every problem."""
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_request", "The body must be a JSON object.")
    try:
        return DecisionCall.model_validate(body)
    except ValidationError as exc:
        details = field_details(exc.errors(include_url=False))
        raise ApiError(400, "invalid_request", "Some fields are not valid.", details) from None


def field_details(errors: list[ErrorDetails]) -> dict[str, str]:
    """One message per field named in pydantic's errors, fields in alphabetical order."""
    chosen: dict[str, ErrorDetails] = {}
    for error in errors:
        field = str(error["loc"][0])
        if field not in chosen or _rank(error) < _rank(chosen[field]):
            chosen[field] = error
    return {field: _message(field, chosen[field]) for field in sorted(chosen)}


def _rank(error: ErrorDetails) -> int:
    kind = "_type" if error["type"].endswith("_type") else error["type"]
    return PRECEDENCE.index(kind) if kind in PRECEDENCE else len(PRECEDENCE)


def _message(field: str, error: ErrorDetails) -> str:
    kind, top_level = error["type"], len(error["loc"]) == 1
    if kind == "extra_forbidden" and top_level:
        return MESSAGES[kind]
    if top_level and (kind == "missing" or error["input"] is None):
        return REQUIRED  # null where a value is required reads as missing
    own = FIELD_MESSAGES.get(field, {})
    template = own.get(kind) or FIELD_FALLBACK.get(field) or MESSAGES.get(kind)
    if template is not None:
        return template
    if kind == "string_too_long":
        return f"At most {error['ctx']['max_length']} characters."
    return error["msg"]  # our own validators' sentences (contract.py)

"""The gateway API's bodies, stated once: the pydantic models the API validates and documents with.

- `DecisionCall` validates the body of POST /decisions (validation.py turns its errors into the
  field-by-field details of a 400); every model is a schema of the OpenAPI document (openapi.py).
- The limits a schema can say (lengths, counts) are declared on the fields; what it cannot say
  (NUL characters, a blank name, arguments PostgreSQL could not store) is a validator beside them.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
)
from pydantic_core import PydanticCustomError

from requests_app.models import AccessRequest, RequestTool

MAX_TOOLS = 50
MAX_ARGUMENTS_BYTES = 16 * 1024
# Deeper values hit Python's recursion limit when encoded for PostgreSQL (a 500, not a 400).
MAX_ARGUMENTS_DEPTH = 32
TIME_WITH_ZONE = "authenticated_at must be an ISO 8601 time with a zone."

DecisionKind = Literal["allow", "deny", "step_up", "approval_required"]
RequestStatus = Literal[tuple(AccessRequest.Status.values)]  # type: ignore[valid-type]
ToolStatus = Literal[tuple(RequestTool.Status.values)]  # type: ignore[valid-type]
Url = Annotated[str, Field(json_schema_extra={"format": "uri"})]


def _without_nul(text: str) -> str:
    if "\x00" in text:
        raise PydanticCustomError("nul", "Must not contain NUL characters.")
    return text


def _name(text: str) -> str:
    """A required name: no NUL, not blank, read without the spaces around it."""
    if not _without_nul(text).strip():
        raise PydanticCustomError("blank", "Must not be empty.")
    return text.strip()


def _storable(arguments: dict[str, Any]) -> dict[str, Any]:
    """Arguments PostgreSQL can store as they are: not too deep, no NUL, at most 16 KB encoded."""
    if _depth(arguments) > MAX_ARGUMENTS_DEPTH:
        raise PydanticCustomError(
            "too_deep", f"Nest objects and arrays at most {MAX_ARGUMENTS_DEPTH} levels deep."
        )
    encoded = json.dumps(arguments, separators=(",", ":"), ensure_ascii=False)
    if "\x00" in encoded or "\\u0000" in encoded:
        raise PydanticCustomError(
            "nul", "Must not contain NUL characters (PostgreSQL cannot store them)."
        )
    size = len(encoded.encode())
    if size > MAX_ARGUMENTS_BYTES:
        raise PydanticCustomError(
            "too_large",
            f"At most {MAX_ARGUMENTS_BYTES // 1024} KB once encoded ({size} bytes sent).",
        )
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


def _each_once(keys: list[str]) -> list[str]:
    return list(dict.fromkeys(keys))


def _iso_time(value: Any) -> Any:
    """An ISO 8601 text as Python reads it ("Z" included); any other value is left as sent."""
    if not isinstance(value, str):
        return value
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise PydanticCustomError("time_format", TIME_WITH_ZONE) from None


ToolKey = Annotated[str, Field(min_length=1, max_length=200), AfterValidator(_without_nul)]


class StepUp(BaseModel):
    """When the user last re-authenticated strongly."""

    model_config = ConfigDict(extra="forbid")

    # Strict: a number is not read as a Unix time.
    authenticated_at: Annotated[AwareDatetime, Field(strict=True), BeforeValidator(_iso_time)]


class DecisionCall(BaseModel):
    """The body of POST /decisions: may this person's agent use these tools of this connector?"""

    model_config = ConfigDict(extra="forbid")

    user: Annotated[
        str,
        Field(
            min_length=1,
            max_length=254,
            description="The person's email or identity-provider external id.",
        ),
        AfterValidator(_name),
    ]
    connector: Annotated[
        str,
        Field(min_length=1, max_length=100, description="Connector slug, e.g. google-calendar."),
        AfterValidator(_name),
    ]
    tools: Annotated[
        list[ToolKey],
        Field(
            min_length=1,
            max_length=MAX_TOOLS,
            description="Tool keys, e.g. google-calendar_events_create.",
        ),
        AfterValidator(_each_once),
    ]
    note: Annotated[str, Field(max_length=2000), AfterValidator(_without_nul)] | None = Field(
        default=None, description="Why the agent needs this; shown to approvers."
    )
    agent: Annotated[str, Field(max_length=200), AfterValidator(_without_nul)] | None = Field(
        default=None, description="e.g. Claude, Copilot."
    )
    arguments: Annotated[dict[str, Any], AfterValidator(_storable)] | None = Field(
        default=None,
        description=(
            f"The tool call's arguments (at most {MAX_ARGUMENTS_BYTES // 1024} KB encoded, "
            f"nested at most {MAX_ARGUMENTS_DEPTH} levels)."
        ),
    )
    step_up: StepUp | None = None


class ToolDecision(BaseModel):
    """The decision for one tool of the call, and the policy whose action won."""

    tool: str
    decision: DecisionKind
    policy_id: int | None
    reason_code: str


class RequestRef(BaseModel):
    """The access request a call waits on: poll `status_url`, or wait for the webhook."""

    id: UUID
    status: RequestStatus
    status_url: Url
    review_url: Url


class Decision(BaseModel):
    """The answer to POST /decisions."""

    decision: DecisionKind
    reason_code: str = Field(
        description="allowed, unknown_user, user_locked, connector_disabled, tool_disabled, "
        "no_policy, policy_deny, approval_required, step_up_required…"
    )
    reason: str = Field(description="A sentence for logs and people.")
    tools: list[ToolDecision]
    request: RequestRef | None


class RequestToolStatus(BaseModel):
    """One tool of a request and its own decision (approval may be partial)."""

    tool: str
    status: ToolStatus


class Request(BaseModel):
    """A request's outcome, as GET /requests/{id} answers and as webhooks carry it."""

    id: UUID
    status: RequestStatus
    tools: list[RequestToolStatus]
    decided_at: datetime | None
    decided_by: str | None
    decided_via: str | None = Field(description="web, email, sms, timeout, policy or api")
    comment: str
    grant_expires_at: datetime | None = Field(description="Set for a time-bound approval.")
    consumed_at: datetime | None


class ErrorBody(BaseModel):
    """What went wrong: a code to branch on, a sentence, and per field details when useful."""

    code: str
    message: str
    details: dict[str, Any] | None = None


class Error(BaseModel):
    """Every error answer: nothing was stored."""

    error: ErrorBody

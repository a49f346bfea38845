"""The engine's vocabulary: decisions, reason codes, what goes in (a call) and what comes out.

- Plain frozen dataclasses and constants: no Django import, nothing that decides.
- All datetimes are timezone-aware.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

ALLOW = "allow"
STEP_UP = "step_up"
APPROVAL_REQUIRED = "approval_required"
DENY = "deny"
# Most restrictive wins: Deny > Request approval > Step up > Allow.
SEVERITY: Mapping[str, int] = {ALLOW: 0, STEP_UP: 1, APPROVAL_REQUIRED: 2, DENY: 3}

# Reason codes, per tool and overall.
UNKNOWN_USER = "unknown_user"
USER_LOCKED = "user_locked"
USER_DEACTIVATED = "user_deactivated"
CONNECTOR_DISABLED = "connector_disabled"
TOOL_DISABLED = "tool_disabled"
NO_POLICY = "no_policy"
POLICY_ALLOW = "policy_allow"
POLICY_DENY = "policy_deny"
STEP_UP_REQUIRED = "step_up_required"
STEP_UP_VERIFIED = "step_up_verified"
GRANT = "grant"
ALLOWED = "allowed"


class InvalidCall(ValueError):
    """A call that names something the snapshot does not know; the API answers 422."""

    code = "invalid_call"


class UnknownConnector(InvalidCall):
    """The call's connector slug matches no connector."""

    code = "unknown_connector"

    def __init__(self, slug: str) -> None:
        super().__init__(f"Unknown connector: {slug}")
        self.slug = slug


class UnknownTool(InvalidCall):
    """Some of the call's tool keys are not tools of its connector."""

    code = "unknown_tool"

    def __init__(self, keys: tuple[str, ...], connector: str = "") -> None:
        super().__init__(f"Unknown tool(s) of {connector or 'the connector'}: {', '.join(keys)}")
        self.keys = keys
        self.connector = connector


@dataclass(frozen=True, slots=True)
class ToolInfo:
    """One tool of a connector, by its API key."""

    id: int
    key: str
    enabled: bool
    access: str


@dataclass(frozen=True, slots=True)
class ConnectorInfo:
    """A connector and every tool it exposes (disabled ones included)."""

    id: int
    slug: str
    name: str
    enabled: bool
    tools_by_key: Mapping[str, ToolInfo]


@dataclass(frozen=True, slots=True)
class PersonInfo:
    """A person as the engine sees them: identity, lock, groups."""

    id: int
    email: str
    external_id: str | None
    locked: bool
    group_ids: frozenset[int]
    deactivated: bool = False


@dataclass(frozen=True, slots=True)
class PolicyRule:
    """An enabled policy; empty tool_ids means every tool of the connector."""

    id: int
    name: str
    connector_id: int
    tool_ids: frozenset[int]
    all_users: bool
    user_ids: frozenset[int]
    group_ids: frozenset[int]
    action: str
    flow_id: int | None = None

    def __post_init__(self) -> None:
        if self.action not in SEVERITY:
            raise ValueError(f"Policy {self.id} has an unknown action: {self.action!r}")


@dataclass(frozen=True, slots=True)
class Grant:
    """A time-bound approval of one tool for one person."""

    person_id: int
    tool_id: int
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class Call:
    """What the gateway asks: may this user's agent use these tools of this connector?"""

    user: str
    connector: str
    tools: tuple[str, ...]
    step_up_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class ToolDecision:
    """The decision for one tool, with the policy whose action won and all that matched."""

    tool: str
    tool_id: int | None
    decision: str
    policy_id: int | None
    matched_policy_ids: tuple[int, ...]
    reason_code: str


@dataclass(frozen=True, slots=True)
class Decision:
    """The overall decision, its reason, and what an approval request would need."""

    decision: str
    reason_code: str
    reason: str
    tools: tuple[ToolDecision, ...]
    person_id: int | None
    connector_id: int | None
    approval_flow_id: int | None = None
    approval_policy_id: int | None = None
    approval_tool_ids: tuple[int, ...] = ()

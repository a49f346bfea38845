"""The decision engine of DESIGN.md §3, a pure function over an in-memory snapshot of policies.

- `types`: decisions, reason codes, the call and the decision; `index`: the snapshot and its rules
  indexed per connector, tool and audience; `engine`: `evaluate`. No Django import, no query.
- Callers import from here (`from policies.evaluation import Call, evaluate`).
"""

from __future__ import annotations

from policies.evaluation.engine import DEFAULT_STEP_UP_WINDOW, STEP_UP_CLOCK_SKEW, evaluate
from policies.evaluation.index import Snapshot
from policies.evaluation.types import (
    ALLOW,
    ALLOWED,
    APPROVAL_REQUIRED,
    CONNECTOR_DISABLED,
    DENY,
    GRANT,
    NO_POLICY,
    POLICY_ALLOW,
    POLICY_DENY,
    SEVERITY,
    STEP_UP,
    STEP_UP_REQUIRED,
    STEP_UP_VERIFIED,
    TOOL_DISABLED,
    UNKNOWN_USER,
    USER_DEACTIVATED,
    USER_LOCKED,
    Call,
    ConnectorInfo,
    Decision,
    Grant,
    InvalidCall,
    PersonInfo,
    PolicyRule,
    ToolDecision,
    ToolInfo,
    UnknownConnector,
    UnknownTool,
)

__all__ = [
    "ALLOW",
    "ALLOWED",
    "APPROVAL_REQUIRED",
    "CONNECTOR_DISABLED",
    "DEFAULT_STEP_UP_WINDOW",
    "DENY",
    "GRANT",
    "NO_POLICY",
    "POLICY_ALLOW",
    "POLICY_DENY",
    "SEVERITY",
    "STEP_UP",
    "STEP_UP_CLOCK_SKEW",
    "STEP_UP_REQUIRED",
    "STEP_UP_VERIFIED",
    "TOOL_DISABLED",
    "UNKNOWN_USER",
    "USER_DEACTIVATED",
    "USER_LOCKED",
    "Call",
    "ConnectorInfo",
    "Decision",
    "Grant",
    "InvalidCall",
    "PersonInfo",
    "PolicyRule",
    "Snapshot",
    "ToolDecision",
    "ToolInfo",
    "UnknownConnector",
    "UnknownTool",
    "evaluate",
]

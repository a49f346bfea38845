"""The names the Activity trail gives its kinds of rows and the objects they are about."""

from __future__ import annotations

from policies.evaluation import ALLOW, APPROVAL_REQUIRED, DENY, STEP_UP

KIND_CHOICES = (
    ("request", "Request"),
    ("decision", "API decision"),
    ("change", "Change"),
)
DECISION_CHOICES = (
    (ALLOW, "Allow"),
    (STEP_UP, "Step up"),
    (APPROVAL_REQUIRED, "Approval required"),
    (DENY, "Deny"),
)
# "request" names an access request; the others are what the services record as
# AuditEntry.object_type.
OBJECT_TYPES = (
    ("request", "Request"),
    ("policy", "Policy"),
    ("approval_flow", "Approval flow"),
    ("connector", "Connector"),
    ("person", "Person"),
    ("group", "Group"),
    ("api_key", "API key"),
    ("gateway_token", "Gateway token"),
    ("sign_in", "Sign-in"),
    ("login", "Console login"),
    ("agent_authorization", "Agent authorization"),
    ("step_up", "Step-up"),
)

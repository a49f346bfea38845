"""Every write to a policy."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from django.core.exceptions import ValidationError
from django.db import transaction

from approval_flows.models import ApprovalFlow
from connectors.models import Connector, Tool
from directory.models import Group, Person
from policies.evaluation import Call, Decision
from policies.models import DecisionLog, Policy


@dataclass
class PolicyData:
    """The fields of a policy as a form or an API hands them over."""

    name: str
    connector: Connector
    action: str
    description: str = ""
    tools: Sequence[Tool] = field(default_factory=list)
    all_users: bool = False
    users: Sequence[Person] = field(default_factory=list)
    groups: Sequence[Group] = field(default_factory=list)
    approval_flow: ApprovalFlow | None = None
    enabled: bool = True


def policy_validate(data: PolicyData) -> None:
    """Raise ValidationError, field by field, when the policy would not make sense."""
    errors: dict[str, str] = {}
    if not data.name.strip():
        errors["name"] = "Give the policy a name."
    if len(data.description) > 160:
        errors["description"] = "Keep the description to 160 characters or fewer."
    if any(tool.connector_id != data.connector.pk for tool in data.tools):
        errors["tools"] = f"Choose tools of {data.connector.name} only."
    if data.action == Policy.Action.APPROVAL and data.approval_flow is None:
        errors["approval_flow"] = "A Request approval policy needs an approval flow."
    if data.action != Policy.Action.APPROVAL and data.approval_flow is not None:
        errors["approval_flow"] = "Only a Request approval policy uses an approval flow."
    if not (data.all_users or data.users or data.groups):
        errors["users"] = "Choose all users, some users, or some groups."
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def policy_create(*, data: PolicyData, created_by: Any = None) -> Policy:
    """Create a policy from validated data."""
    policy_validate(data)
    policy = Policy.objects.create(
        name=data.name.strip(),
        description=data.description,
        connector=data.connector,
        all_users=data.all_users,
        action=data.action,
        approval_flow=data.approval_flow,
        enabled=data.enabled,
        created_by=created_by if getattr(created_by, "pk", None) else None,
    )
    policy.tools.set(data.tools)
    policy.users.set([] if data.all_users else data.users)
    policy.groups.set(data.groups)
    return policy


def decision_log_write(
    *,
    decision: Decision,
    call: Call,
    agent: str,
    api_key_name: str,
    request_public_id: UUID | None,
    at: datetime,
) -> DecisionLog:
    """Record one API decision for the Activity page and the simulator's replay. One INSERT."""
    policy_ids = sorted({pid for t in decision.tools for pid in t.matched_policy_ids})
    return DecisionLog.objects.create(
        created_at=at,
        api_key_name=api_key_name,
        user_ref=call.user[:254],
        person_id=decision.person_id,
        agent=agent[:200],
        connector_id=decision.connector_id,
        connector_slug=call.connector[:100],
        tools=list(call.tools),
        tool_decisions=[
            {
                "tool": t.tool,
                "decision": t.decision,
                "policy_id": t.policy_id,
                "reason_code": t.reason_code,
            }
            for t in decision.tools
        ],
        decision=decision.decision,
        reason_code=decision.reason_code,
        policy_ids=policy_ids,
        request_public_id=request_public_id,
    )

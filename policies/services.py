"""Every write to a policy."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from django.core.exceptions import ValidationError
from django.db import transaction

from agenwork.db import insert_row
from approval_flows.models import ApprovalFlow
from audit.models import AuditEntry
from audit.services import audit_record
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
def policy_create(*, data: PolicyData, created_by: Any = None, actor: Any = None) -> Policy:
    """Create a policy from validated data and record it in the audit trail.

    - `actor` is who is recorded (a login or a name); it defaults to `created_by`.
    """
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
    _set_relations(policy, data)
    _audit(policy, AuditEntry.Action.CREATED, actor or created_by, after=policy_audit_state(policy))
    return policy


@transaction.atomic
def policy_update(*, policy: Policy, data: PolicyData, actor: Any = None) -> Policy:
    """Change every field of a policy, recording before and after in the audit trail.

    - The row is locked first, so two admins saving at once are applied one after the other
      and each audit entry's `before` is what that save replaced.
    - Raises Policy.DoesNotExist when the policy was deleted meanwhile.
    """
    policy_validate(data)
    locked = Policy.objects.select_for_update().get(pk=policy.pk)
    before = policy_audit_state(locked)
    locked.name = data.name.strip()
    locked.description = data.description
    locked.connector = data.connector
    locked.all_users = data.all_users
    locked.action = data.action
    locked.approval_flow = data.approval_flow
    locked.enabled = data.enabled
    locked.save()
    _set_relations(locked, data)
    after = policy_audit_state(locked)
    _audit(locked, AuditEntry.Action.UPDATED, actor, before=before, after=after)
    return locked


@transaction.atomic
def policy_delete(*, policy: Policy, actor: Any = None) -> dict[str, Any]:
    """Delete a policy and record what it was; returns that record.

    - Requests it decided keep their history; their link to the policy is cleared.
    - Raises Policy.DoesNotExist when it was deleted meanwhile.
    """
    locked = Policy.objects.select_for_update().get(pk=policy.pk)
    before = policy_audit_state(locked)
    pk = locked.pk
    locked.delete()
    locked.pk = pk
    _audit(locked, AuditEntry.Action.DELETED, actor, before=before)
    return before


def _set_relations(policy: Policy, data: PolicyData) -> None:
    policy.tools.set(data.tools)
    policy.users.set([] if data.all_users else data.users)
    policy.groups.set(data.groups)


def policy_audit_state(policy: Policy) -> dict[str, Any]:
    """The policy as plain JSON for the audit trail: names, slugs, keys and emails, not ids."""
    flow = policy.approval_flow
    return {
        "name": policy.name,
        "description": policy.description,
        "connector": policy.connector.slug,
        "tools": sorted(policy.tools.values_list("key", flat=True)),
        "all_users": policy.all_users,
        "users": sorted(policy.users.values_list("email", flat=True)),
        "groups": sorted(policy.groups.values_list("name", flat=True)),
        "action": policy.action,
        "approval_flow": flow.name if flow is not None else None,
        "enabled": policy.enabled,
    }


def _audit(
    policy: Policy,
    action: str,
    actor: Any,
    *,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    audit_record(
        actor=actor,
        action=action,
        object_type="policy",
        object_id=policy.pk,
        object_repr=policy.name,
        before=before,
        after=after,
    )


def decision_log_write(
    *,
    decision: Decision,
    call: Call,
    agent: str,
    api_key_name: str,
    request_public_id: UUID | None,
    at: datetime,
) -> None:
    """Record one API decision for the Activity page and the simulator's replay. One INSERT.

    - Written with agenwork.db.insert_row (compiled once per vendor): this runs on every gateway
      call, and compiling it each time cost more CPU than the rest of the write ("Decisions API
      under load", bench/bench_decisions_api.py). Checked against the ORM in tests/test_db.py.
    """
    policy_ids = sorted({pid for t in decision.tools for pid in t.matched_policy_ids})
    values = {
        "created_at": at,
        "api_key_name": api_key_name,
        "user_ref": call.user[:254],
        "person_id": decision.person_id,
        "agent": agent[:200],
        "connector_id": decision.connector_id,
        "connector_slug": call.connector[:100],
        "tools": list(call.tools),
        "tool_decisions": [
            {
                "tool": t.tool,
                "decision": t.decision,
                "policy_id": t.policy_id,
                "reason_code": t.reason_code,
            }
            for t in decision.tools
        ],
        "decision": decision.decision,
        "reason_code": decision.reason_code,
        "policy_ids": policy_ids,
        "request_public_id": request_public_id,
    }
    insert_row(DecisionLog, values)

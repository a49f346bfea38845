"""A gateway's call, decided: the engine's answer, the approval request it may need, the log line.

This is where layer 3 meets the engine: policies decides over its in-memory snapshot, this module
adds the grants it reads from requests, creates (or finds) the pending request, and logs.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from approval_flows.models import ApprovalFlow
from connectors.models import Connector, Tool
from directory.models import Person
from gateways.models import ApiKey
from policies.evaluation import (
    APPROVAL_REQUIRED,
    STEP_UP,
    Call,
    Decision,
    Grant,
    evaluate,
)
from policies.models import Policy
from policies.services import decision_log_write
from policies.snapshot import current_snapshot
from requests_app.models import AccessRequest, Channel, RequestTool
from requests_app.services import Actor, dedupe_key_for, request_create

NEEDS_HUMAN = frozenset({APPROVAL_REQUIRED, STEP_UP})


@dataclass(frozen=True)
class CallOutcome:
    """The engine's decision and, when approval is required, the pending request."""

    decision: Decision
    access_request: AccessRequest | None


@cache
def _grants_sql() -> str:
    tools, requests = RequestTool._meta.db_table, AccessRequest._meta.db_table
    # Table names come from the models; every value is a parameter.
    return (
        f"SELECT t.tool_id, r.grant_expires_at FROM {tools} t "  # noqa: S608
        f"JOIN {requests} r ON r.id = t.request_id "
        "WHERE t.status = %s AND r.requester_id = %s AND r.connector_id = %s "
        "AND r.status IN (%s, %s) AND r.grant_expires_at > %s"
    )


def active_grants(*, person_id: int, connector_id: int, now) -> list[Grant]:
    """Unexpired time-bound approvals of this person's tools on this connector. One query.

    - Hand-written, as the other statements of a gateway's call: the ORM's compiler would cost
      more CPU than PostgreSQL spends on the query.
    """
    statuses = sorted(status.value for status in AccessRequest.APPROVED_STATUSES)
    params = [RequestTool.Status.APPROVED.value, person_id, connector_id, *statuses, now]
    with connection.cursor() as cursor:
        cursor.execute(_grants_sql(), params)
        rows = cursor.fetchall()
    return [Grant(person_id=person_id, tool_id=tool_id, expires_at=at) for tool_id, at in rows]


def decide_call(
    *,
    call: Call,
    api_key: ApiKey | None,
    note: str = "",
    agent: str = "",
    arguments: Any = None,
    snapshot_version: int | None = None,
) -> CallOutcome:
    """Decide a gateway's call, create or reuse its approval request, and log the decision.

    - Grants are read only when a tool needs a human: allow and deny cost no extra query.
    - `snapshot_version`: the policy snapshot's version if the caller read it already.
    - Raises policies.evaluation.InvalidCall (unknown connector or tool) before writing anything.
    """
    now = timezone.now()
    snapshot = current_snapshot(version=snapshot_version)
    decision = evaluate(snapshot, call, now=now)
    if decision.person_id and any(t.decision in NEEDS_HUMAN for t in decision.tools):
        grants = active_grants(
            person_id=decision.person_id, connector_id=decision.connector_id, now=now
        )
        if grants:
            decision = evaluate(snapshot, call, now=now, grants=grants)
    if decision.decision != APPROVAL_REQUIRED:
        # One INSERT is atomic on its own: no BEGIN/COMMIT round trips on the hot path.
        return _logged(decision, None, call, api_key, agent, now)
    key = _dedupe_key(decision, api_key, arguments)
    pending = _pending_request(key)
    if pending is not None:  # the same call again: read, log, no transaction
        return _logged(decision, pending, call, api_key, agent, now)
    with transaction.atomic():  # the request and its log line: both stored, or neither
        access_request = request_for_decision(
            decision=decision, key=key, api_key=api_key, note=note, agent=agent, arguments=arguments
        )
        return _logged(decision, access_request, call, api_key, agent, now)


def _logged(decision, access_request, call, api_key, agent, now) -> CallOutcome:
    """Write the decision's log line and return the outcome."""
    decision_log_write(
        decision=decision,
        call=call,
        agent=agent,
        api_key_name=api_key.name if api_key else "",
        request_public_id=access_request.public_id if access_request else None,
        at=now,
    )
    return CallOutcome(decision=decision, access_request=access_request)


def _dedupe_key(decision: Decision, api_key: ApiKey | None, arguments: Any) -> str:
    return dedupe_key_for(
        requester_id=decision.person_id,
        connector_id=decision.connector_id,
        tool_ids=decision.approval_tool_ids,
        arguments=arguments,
        api_key_id=api_key.pk if api_key else None,
    )


@cache
def _pending_sql() -> str:
    # The table name comes from the model; the key and status are parameters.
    return (
        f"SELECT * FROM {AccessRequest._meta.db_table} "  # noqa: S608
        "WHERE dedupe_key = %s AND status = %s ORDER BY id DESC LIMIT 1"
    )


def _pending_request(key: str) -> AccessRequest | None:
    """The pending request of this call, if any (a partial unique index allows one)."""
    rows = AccessRequest.objects.raw(_pending_sql(), [key, AccessRequest.Status.PENDING.value])
    return next(iter(rows), None)


def request_for_decision(
    *, decision: Decision, key: str, api_key: ApiKey | None, note: str, agent: str, arguments: Any
) -> AccessRequest:
    """Create the pending request for this call (the caller found none under `key`).

    - An identical call racing this one: the partial unique index on the dedupe key lets one
      commit, and the other gets that request.
    """
    tool_ids = decision.approval_tool_ids
    tools = sorted(Tool.objects.filter(pk__in=tool_ids), key=lambda t: tool_ids.index(t.pk))
    requester = Person.objects.get(pk=decision.person_id)
    try:
        with transaction.atomic():
            return request_create(
                requester=requester,
                connector=Connector.objects.get(pk=decision.connector_id),
                tools=tools,
                policy=Policy.objects.filter(pk=decision.approval_policy_id).first(),
                flow=ApprovalFlow.objects.filter(pk=decision.approval_flow_id).first(),
                note=note,
                agent=agent,
                arguments=arguments,
                dedupe_key=key,
                api_key=api_key,
                actor=Actor(name=agent or requester.name, channel=Channel.API),
            )
    except IntegrityError:
        # Another identical call created it first; the unique index made us wait for its commit.
        return AccessRequest.objects.filter(dedupe_key=key).order_by("-id").first()

"""A gateway's call, decided: the engine's answer, the approval request it may need, the log line.

This is where layer 3 meets the engine: policies decides over its in-memory snapshot, this module
adds the grants it reads from requests, creates (or finds) the pending request, and logs.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Exists, QuerySet
from django.utils import timezone

from agenwork.db import CompiledQuery
from approval_flows.models import ApprovalFlow
from connectors.models import Connector, Tool
from directory.models import Person
from directory.step_up import latest_step_up_at, step_up_window
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


def _granted_tools(person_id, connector_id, now) -> QuerySet[RequestTool]:
    """The person's tools on this connector under a time-bound approval that has not expired."""
    return RequestTool.objects.filter(
        status=RequestTool.Status.APPROVED,
        request__requester_id=person_id,
        request__connector_id=connector_id,
        request__status__in=sorted(AccessRequest.APPROVED_STATUSES),
        request__grant_expires_at__gt=now,
    )


def _pending_of(key) -> QuerySet[AccessRequest]:
    """The pending request of a call, by its dedupe key (a partial unique index allows one)."""
    return AccessRequest.objects.filter(dedupe_key=key, status=AccessRequest.Status.PENDING)


# Compiled once (agenwork.db): the ORM's compiler cost more CPU per call than PostgreSQL spends
# on these statements ("Decisions API under load", bench/bench_decisions_api.py). Checked against
# the plain ORM in tests/requests_app/test_decisions.py.
ACTIVE_GRANTS = CompiledQuery(
    lambda person_id, connector_id, now: (
        _granted_tools(person_id, connector_id, now)
        .order_by()
        .values_list("tool_id", "request__grant_expires_at")
    )
)
UNUSED_APPROVAL = CompiledQuery(
    lambda key: AccessRequest.objects.filter(
        dedupe_key=key,
        status__in=sorted(AccessRequest.APPROVED_STATUSES),
        consumed_at__isnull=True,
        grant_expires_at__isnull=True,
    ).order_by("-id")[:1]
)


PENDING_REQUEST = CompiledQuery(lambda key: _pending_of(key).order_by("-id")[:1])
# The usual repeat of a call that waits for its approval: its pending request, and whether any
# time-bound approval could change the decision (then the grants are read as usual), in one
# round trip rather than two.
PENDING_UNLESS_GRANTED = CompiledQuery(
    lambda key, person_id, connector_id, now: (
        _pending_of(key)
        .annotate(granted=Exists(_granted_tools(person_id, connector_id, now)))
        # What the answer and the gateway's hold read; any other field loads when read.
        .only("public_id", "status", "flow_id", "current_level")
        .order_by("-id")[:1]
    )
)


def active_grants(*, person_id: int, connector_id: int, now) -> list[Grant]:
    """Unexpired time-bound approvals of this person's tools on this connector. One query."""
    rows = ACTIVE_GRANTS.rows(person_id=person_id, connector_id=connector_id, now=now)
    return [Grant(person_id=person_id, tool_id=tool_id, expires_at=at) for tool_id, at in rows]


def decide_call(
    *,
    call: Call,
    api_key: ApiKey | None,
    note: str = "",
    agent: str = "",
    arguments: Any = None,
    snapshot_version: int | None = None,
    attach_approved: bool = False,
    channel: str = Channel.API,
    stored_step_up: bool = False,
) -> CallOutcome:
    """Decide a gateway's call, create or reuse its approval request, and log the decision.

    - Grants are read only when a tool needs a human: allow and deny cost no extra query.
    - A call whose approval is pending already (an agent retrying) costs one read: its request
      and whether any grant could change the decision come in one statement.
    - `snapshot_version`: the policy snapshot's version if the caller read it already.
    - `attach_approved`: the same call approved once and not yet used gets that request back
      (the MCP gateway's retry of a held call), rather than a new one.
    - `channel`: where a created request says it came from (the API, or the MCP gateway).
    - `stored_step_up`: a Step-up tool is decided with the person's latest step-up at agenwork
      (the MCP gateway; the API's callers assert their own). Read only when a tool asks for it.
    - Raises policies.evaluation.InvalidCall (unknown connector or tool) before writing anything.
    """
    now = timezone.now()
    snapshot = current_snapshot(version=snapshot_version)
    window = step_up_window()  # STEP_UP_WINDOW_SECONDS
    decision = evaluate(snapshot, call, now=now, step_up_window=window)
    if stored_step_up and decision.person_id and any(t.decision == STEP_UP for t in decision.tools):
        call = replace(call, step_up_at=latest_step_up_at(decision.person_id))
        decision = evaluate(snapshot, call, now=now, step_up_window=window)
    if decision.decision == APPROVAL_REQUIRED and decision.person_id:
        found = PENDING_UNLESS_GRANTED.first(
            key=_dedupe_key(decision, api_key, arguments),
            person_id=decision.person_id,
            connector_id=decision.connector_id,
            now=now,
        )
        if found is not None and not found.granted:  # no grant can change it: the same call
            return _logged(decision, found, call, api_key, agent, now)
    if decision.person_id and any(t.decision in NEEDS_HUMAN for t in decision.tools):
        grants = active_grants(
            person_id=decision.person_id, connector_id=decision.connector_id, now=now
        )
        if grants:
            decision = evaluate(snapshot, call, now=now, grants=grants, step_up_window=window)
    if decision.decision != APPROVAL_REQUIRED:
        # One INSERT is atomic on its own: no BEGIN/COMMIT round trips on the hot path.
        return _logged(decision, None, call, api_key, agent, now)
    key = _dedupe_key(decision, api_key, arguments)
    pending = _pending_request(key)
    if pending is None and attach_approved:
        pending = UNUSED_APPROVAL.first(key=key)
    if pending is not None:  # the same call again: read, log, no transaction
        return _logged(decision, pending, call, api_key, agent, now)
    with transaction.atomic():  # the request and its log line: both stored, or neither
        access_request = request_for_decision(
            decision=decision,
            key=key,
            api_key=api_key,
            note=note,
            agent=agent,
            arguments=arguments,
            channel=channel,
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


def _pending_request(key: str) -> AccessRequest | None:
    """The pending request of this call, if any (a partial unique index allows one)."""
    return PENDING_REQUEST.first(key=key)


def request_for_decision(
    *,
    decision: Decision,
    key: str,
    api_key: ApiKey | None,
    note: str,
    agent: str,
    arguments: Any,
    channel: str = Channel.API,
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
                actor=Actor(name=agent or requester.name, channel=channel),
            )
    except IntegrityError:
        # Another identical call created it first; the unique index made us wait for its commit.
        return AccessRequest.objects.filter(dedupe_key=key).order_by("-id").first()

"""Every write to an access request: creation and one function per status transition.

A transition is a conditional UPDATE on the pending status; zero rows updated means another
decision won, and the caller gets `RequestAlreadyDecided` carrying the winning decision.

Messages go to the outbox in the same transaction: a new request with a flow asks its
approvers (`notify_new_request`, then a "notified" event), and every resolution queues the
gateway's webhook and `notify_resolution`. Approvers' votes are in requests_app.voting;
reminders, escalations and timeouts come from the sweep (requests_app.sweep).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from approval_flows.models import ApprovalFlow
from connectors.models import Connector, Tool
from directory.models import Person
from gateways.models import ApiKey
from policies.models import Policy
from policies.services import PolicyData, policy_create
from requests_app.models import AccessRequest, Channel, RequestEvent, RequestTool
from requests_app.notify import notify_new_request, notify_resolution
from requests_app.outcomes import SYSTEM, Actor, RequestAlreadyDecided
from requests_app.webhooks import webhook_queue

Status = AccessRequest.Status

# A flow's timeout action: the request's status, the event's kind, every tool's status.
TIMEOUT_OUTCOMES: dict[str, tuple[str, str, str]] = {
    ApprovalFlow.TimeoutAction.AUTO_APPROVE: (
        Status.AUTO_APPROVED,
        RequestEvent.Kind.AUTO_APPROVED,
        RequestTool.Status.APPROVED,
    ),
    ApprovalFlow.TimeoutAction.DENY: (
        Status.DENIED,
        RequestEvent.Kind.DENIED,
        RequestTool.Status.DENIED,
    ),
    ApprovalFlow.TimeoutAction.EXPIRE: (
        Status.EXPIRED,
        RequestEvent.Kind.EXPIRED,
        RequestTool.Status.DENIED,
    ),
}

GRANT_DURATIONS: dict[str, timedelta | None] = {
    "once": None,
    "1h": timedelta(hours=1),
    "8h": timedelta(hours=8),
    "24h": timedelta(hours=24),
}


def dedupe_key_for(
    *,
    requester_id: int,
    connector_id: int,
    tool_ids: Iterable[int],
    arguments: Any,
    api_key_id: int | None = None,
) -> str:
    """The identity of a gateway call: the same call while pending maps to the same request.

    - The gateway's key is part of it: a gateway can poll, consume or cancel only the requests
      it created, so another gateway's identical call gets a request of its own.
    """
    identity = [requester_id, connector_id, sorted(set(tool_ids)), arguments]
    if api_key_id is not None:
        identity.append(api_key_id)
    payload = json.dumps(
        identity,
        sort_keys=True,
        separators=(",", ":"),
        default=str,
    )
    return hashlib.sha256(payload.encode()).hexdigest()


def _deadlines(flow: ApprovalFlow | None, start: datetime) -> dict[str, datetime | None]:
    if flow is None:
        return {"next_reminder_at": None, "escalate_at": None, "timeout_at": None}
    return {
        "next_reminder_at": start + flow.reminder_after if flow.reminder_after else None,
        "escalate_at": start + flow.escalate_after if flow.escalate_after else None,
        "timeout_at": start + flow.timeout_after if flow.timeout_after else None,
    }


@transaction.atomic
def request_create(
    *,
    requester: Person,
    connector: Connector,
    tools: Sequence[Tool],
    policy: Policy | None,
    flow: ApprovalFlow | None,
    note: str = "",
    agent: str = "",
    arguments: Any = None,
    dedupe_key: str = "",
    api_key: ApiKey | None = None,
    actor: Actor | None = None,
) -> AccessRequest:
    """Create a pending request for the tools that need approval, with its first event."""
    if not tools:
        raise ValueError("a request needs at least one tool")
    now = timezone.now()
    access_request = AccessRequest.objects.create(
        requester=requester,
        requester_name=requester.name,
        requester_identifier=requester.email,
        connector=connector,
        connector_name=connector.name,
        first_tool_key=tools[0].key,
        tool_count=len(tools),
        tool_keys=" ".join(tool.key for tool in tools),
        note=note,
        agent=agent,
        arguments=arguments,
        dedupe_key=dedupe_key,
        api_key=api_key,
        policy=policy,
        flow=flow,
        requested_at=now,
        **_deadlines(flow, now),
    )
    RequestTool.objects.bulk_create(
        RequestTool(request=access_request, tool=tool, position=i) for i, tool in enumerate(tools)
    )
    actor = actor or Actor(name=requester.name, channel=Channel.API)
    record_event(
        access_request, RequestEvent.Kind.CREATED, actor, "Requested by the agent", now=now
    )
    if flow is not None:
        _notify_new_request(access_request)
    return access_request


def _notify_new_request(access_request: AccessRequest) -> None:
    """Queue the approvers' messages in the creating transaction and record the "notified" event."""
    queued = notify_new_request(access_request)
    message = f"{queued} notification{'' if queued == 1 else 's'} queued for the approvers"
    record_event(access_request, RequestEvent.Kind.NOTIFIED, SYSTEM, message, {"queued": queued})


def _resolved(access_request: AccessRequest) -> None:
    """What every resolution does after its event: the gateway's webhook and the outcome message."""
    webhook_queue(access_request)
    notify_resolution(access_request)


def record_event(
    access_request: AccessRequest,
    kind: str,
    actor: Actor,
    message: str = "",
    data: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> RequestEvent:
    """Append one line to the request's history."""
    return RequestEvent.objects.create(
        request=access_request,
        kind=kind,
        actor=actor.user,
        actor_name=actor.name,
        channel=actor.channel,
        message=message[:500],
        data=data or {},
        response_ms=actor.response_ms,
        created_at=now or timezone.now(),
    )


def _transition(
    *,
    access_request: AccessRequest,
    to_status: str,
    actor: Actor,
    comment: str = "",
    grant_for: timedelta | None = None,
) -> datetime:
    """Move a pending request to `to_status` or raise RequestAlreadyDecided (in a transaction)."""
    assert to_status in AccessRequest.TRANSITIONS[Status.PENDING]
    now = timezone.now()
    updated = AccessRequest.objects.filter(pk=access_request.pk, status=Status.PENDING).update(
        status=to_status,
        decided_at=now,
        decided_by=actor.user,
        decided_by_name=actor.name,
        decided_via=actor.channel,
        comment=comment,
        grant_expires_at=now + grant_for if grant_for else None,
        next_reminder_at=None,
        escalate_at=None,
        timeout_at=None,
        updated_at=now,
    )
    if updated == 0:
        raise RequestAlreadyDecided(AccessRequest.objects.get(pk=access_request.pk))
    access_request.refresh_from_db()
    return now


@transaction.atomic
def request_approve(
    *,
    access_request: AccessRequest,
    actor: Actor,
    tool_ids: Iterable[int] | None = None,
    duration: timedelta | None = None,
    comment: str = "",
    message: str = "",
) -> AccessRequest:
    """Approve a pending request, for all its tools or some of them (the others are denied).

    - No duration: a one-time approval for this call, which the gateway consumes once.
    - A duration: a time-bound grant whose clock starts now.
    - Approving none of the tools is a denial.
    - message: the history's line when it is not the approver's choice (a policy's approval).
    """
    all_ids = set(access_request.tools.values_list("tool_id", flat=True))
    # Read tool_ids once: an iterator would be empty on a second pass and skip the check.
    approved = all_ids if tool_ids is None else set(tool_ids)
    if approved - all_ids:
        raise ValueError("some tools are not part of this request")
    if not approved:
        return request_deny(
            access_request=access_request, actor=actor, comment=comment, message=message
        )
    now = _transition(
        access_request=access_request,
        to_status=Status.APPROVED,
        actor=actor,
        comment=comment,
        grant_for=duration,
    )
    tools = access_request.tools
    tools.filter(tool_id__in=approved).update(status=RequestTool.Status.APPROVED)
    tools.exclude(tool_id__in=approved).update(status=RequestTool.Status.DENIED)
    record_event(
        access_request,
        RequestEvent.Kind.APPROVED,
        actor,
        message or approval_message(partial=approved != all_ids, duration=duration),
        data={"approved_tool_ids": sorted(approved), "comment": comment},
        now=now,
    )
    _resolved(access_request)
    return access_request


def approval_message(*, partial: bool, duration: timedelta | None) -> str:
    """The history's line for a person's approval: "Approved once", "Approved for 8 h"…"""
    message = "Approved some tools, denied the others" if partial else "Approved"
    return message + (f" for {duration_label(duration)}" if duration else " once")


@transaction.atomic
def request_deny(
    *, access_request: AccessRequest, actor: Actor, comment: str = "", message: str = ""
) -> AccessRequest:
    """Deny a pending request and every tool in it ("Denied" in the history, unless `message`)."""
    now = _transition(
        access_request=access_request, to_status=Status.DENIED, actor=actor, comment=comment
    )
    access_request.tools.update(status=RequestTool.Status.DENIED)
    record_event(
        access_request,
        RequestEvent.Kind.DENIED,
        actor,
        message or "Denied",
        {"comment": comment},
        now,
    )
    _resolved(access_request)
    return access_request


@transaction.atomic
def request_time_out(*, access_request: AccessRequest) -> AccessRequest:
    """Apply the flow's timeout outcome to a pending request: auto-approve, deny or expire."""
    flow = access_request.flow
    outcome = flow.timeout_action if flow else ApprovalFlow.TimeoutAction.EXPIRE
    actor = Actor(name="Timeout", channel=Channel.TIMEOUT)
    to_status, kind, tool_status = TIMEOUT_OUTCOMES[outcome]
    now = _transition(access_request=access_request, to_status=to_status, actor=actor)
    access_request.tools.update(status=tool_status)
    record_event(access_request, kind, actor, "Nobody decided before the timeout", now=now)
    _resolved(access_request)
    return access_request


@transaction.atomic
def request_cancel(*, access_request: AccessRequest, actor: Actor) -> AccessRequest:
    """Cancel a pending request (the gateway no longer needs it)."""
    now = _transition(access_request=access_request, to_status=Status.CANCELLED, actor=actor)
    access_request.tools.update(status=RequestTool.Status.DENIED)
    record_event(access_request, RequestEvent.Kind.CANCELLED, actor, "Cancelled", now=now)
    _resolved(access_request)
    return access_request


class RequestNotConsumable(Exception):
    """The request is not an unconsumed one-time approval."""


@transaction.atomic
def request_consume(*, access_request: AccessRequest, actor: Actor) -> AccessRequest:
    """Mark a one-time approval as used by the gateway; only the first call succeeds."""
    now = timezone.now()
    updated = AccessRequest.objects.filter(
        pk=access_request.pk,
        status__in=AccessRequest.APPROVED_STATUSES,
        consumed_at__isnull=True,
    ).update(consumed_at=now, updated_at=now)
    if updated == 0:
        raise RequestNotConsumable(f"request {access_request.public_id} cannot be consumed")
    access_request.refresh_from_db()
    record_event(access_request, RequestEvent.Kind.CONSUMED, actor, "Used by the agent", now=now)
    return access_request


@transaction.atomic
def request_release(*, access_request: AccessRequest, actor: Actor, consumed_at: datetime) -> None:
    """Undo a consume whose call was never forwarded (its client went away): usable again."""
    now = timezone.now()
    released = AccessRequest.objects.filter(pk=access_request.pk, consumed_at=consumed_at).update(
        consumed_at=None, updated_at=now
    )
    if released:
        message = "Not used: the agent's client went away before the call was forwarded"
        record_event(access_request, RequestEvent.Kind.RELEASED, actor, message, now=now)


def request_record_execution(
    *, access_request: AccessRequest, actor: Actor, took_ms: int, error: str = ""
) -> RequestEvent:
    """Append the execution of the approved call: forwarded, how long the upstream took, errors."""
    outcome = f"an error in {took_ms} ms: {error}" if error else f"in {took_ms} ms"
    return record_event(
        access_request,
        RequestEvent.Kind.EXECUTED,
        actor,
        f"Forwarded to the tool's server, which answered {outcome}",
        data={"took_ms": took_ms, "is_error": bool(error)},
    )


@transaction.atomic
def request_resolve_with_policy(
    *, access_request: AccessRequest, data: PolicyData, actor: Actor
) -> tuple[Policy, AccessRequest]:
    """Save a new policy and resolve the pending request by it (Allow approves, Deny denies).

    - A Step up or Request approval policy is saved and leaves the request pending.
    - The policy is saved only if the request was still pending: both happen or neither.
    """
    locked = AccessRequest.objects.select_for_update().get(pk=access_request.pk)
    if not locked.is_pending:
        raise RequestAlreadyDecided(locked)
    policy = policy_create(data=data, created_by=actor.user)
    policy_actor = Actor(name=actor.name, channel=Channel.POLICY, user=actor.user)
    # The comment goes back to the agent and is shown quoted: the name inside it is not quoted.
    comment = f"Resolved by the new policy: {policy.name}"
    if policy.action == Policy.Action.ALLOW:
        message = f"Approved by the new policy “{policy.name}”"
        request_approve(access_request=locked, actor=policy_actor, comment=comment, message=message)
    elif policy.action == Policy.Action.DENY:
        message = f"Denied by the new policy “{policy.name}”"
        request_deny(access_request=locked, actor=policy_actor, comment=comment, message=message)
    return policy, locked


def duration_label(duration: timedelta | None) -> str:
    if duration is None:
        return "this call only"
    hours = int(duration.total_seconds() // 3600)
    return f"{hours} h" if hours else f"{int(duration.total_seconds() // 60)} min"

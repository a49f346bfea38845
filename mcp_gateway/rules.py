"""agenwork's rules at the gateway: which tools a person sees, and what a call's decision means.

- Everything here is synchronous Django code; the server (server.py) runs it through
  off_loop (database.py), on a pool of threads, so the event loop never waits on the database.
- Calls are decided by requests_app.decisions.decide_call, the code behind /api/v1/decisions:
  the same DecisionLog, dedupe, grants and approval requests.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import close_old_connections
from django.utils import timezone

from approval_flows.models import ApprovalLevel
from directory.step_up import step_up_challenge_create, step_up_url
from mcp_gateway.catalog import gateway_tools
from mcp_gateway.upstreams import Upstream
from policies.evaluation import (
    ALLOW,
    APPROVAL_REQUIRED,
    DENY,
    STEP_UP,
    Call,
    Decision,
    InvalidCall,
    evaluate,
)
from policies.snapshot import current_snapshot
from requests_app.decisions import decide_call
from requests_app.models import AccessRequest, Channel
from requests_app.outcomes import Actor
from requests_app.services import (
    RequestNotConsumable,
    request_consume,
    request_record_execution,
    request_release,
)

MARKS = {
    APPROVAL_REQUIRED: "[agenwork: needs an approval before it runs]",
    STEP_UP: "[agenwork: needs step-up verification]",
}


@dataclass(frozen=True)
class VisibleTool:
    """A tool as a person's agent sees it in tools/list."""

    key: str
    description: str
    input_schema: dict[str, Any]


@dataclass(frozen=True)
class HeldCall:
    """A call waiting for its approval request: which one, and whom it waits for."""

    request_pk: int
    public_id: str
    waiting_for: str
    pending: bool = True


@dataclass(frozen=True)
class CallVerdict:
    """What to do with a tools/call: forward it, hold it (`held`), or answer `message` as an error.

    - `upstream` and `upstream_tool` are set for a call to forward now or once approved.
    """

    upstream: Upstream | None = None
    upstream_tool: str = ""
    message: str = ""
    held: HeldCall | None = None


@dataclass(frozen=True)
class Settled:
    """How a held call ends: forwarded (`forward`), or a tool error with `message`."""

    forward: bool
    message: str = ""
    consumed_at: datetime | None = None


def visible_tools(email: str, snapshot_version: int | None = None) -> list[VisibleTool]:
    """The upstream tools the engine would not deny this person, marked when a human must act.

    - `snapshot_version`: the policy snapshot's version if the caller read it already.
    """
    close_old_connections()
    snapshot, now = current_snapshot(version=snapshot_version), timezone.now()
    visible = []
    for tool in gateway_tools(snapshot).values():
        decision = evaluate(
            snapshot, Call(user=email, connector=tool.connector, tools=(tool.key,)), now=now
        )
        if decision.decision == DENY:
            continue
        mark = MARKS.get(decision.decision)
        description = f"{mark} {tool.description}" if mark else tool.description
        visible.append(
            VisibleTool(key=tool.key, description=description, input_schema=tool.input_schema)
        )
    return visible


def tool_input_schemas() -> dict[str, dict[str, Any]]:
    """Every upstream tool's input schema by key, as tools/list gives it."""
    close_old_connections()
    return {key: tool.input_schema for key, tool in gateway_tools(current_snapshot()).items()}


def call_verdict(
    *,
    email: str,
    key: str,
    arguments: dict[str, Any],
    agent: str,
    snapshot_version: int | None = None,
) -> CallVerdict:
    """Decide a tools/call in process (logged, deduplicated, a request created when needed).

    - `snapshot_version`: the policy snapshot's version if the caller read it already (the
      gateway reads it with the token); without it, one query reads it.
    """
    close_old_connections()
    snapshot = current_snapshot(version=snapshot_version)  # the tools come with the snapshot
    tool = gateway_tools(snapshot).get(key)
    if tool is None:
        return CallVerdict(message=f"Unknown tool {key!r}: it is not one of this gateway's tools.")
    call = Call(user=email, connector=tool.connector, tools=(key,))
    try:
        outcome = decide_call(
            call=call,
            api_key=None,
            agent=agent,
            arguments=arguments,
            snapshot_version=snapshot.version,
            attach_approved=True,
            channel=Channel.GATEWAY,
            stored_step_up=True,
        )
    except InvalidCall as exc:
        return CallVerdict(message=f"Unknown tool: {exc}")
    decision = outcome.decision
    upstream, upstream_tool = tool.upstream, key.removeprefix(f"{call.connector}_")
    if decision.decision == ALLOW:
        return CallVerdict(upstream=upstream, upstream_tool=upstream_tool)
    if decision.decision == APPROVAL_REQUIRED and outcome.access_request is not None:
        access_request = outcome.access_request
        held = HeldCall(
            request_pk=access_request.pk,
            public_id=str(access_request.public_id),
            waiting_for=_approvers_of(access_request),
            pending=access_request.is_pending,
        )
        return CallVerdict(upstream=upstream, upstream_tool=upstream_tool, held=held)
    if decision.decision == STEP_UP and decision.person_id is not None:
        token = step_up_challenge_create(person_id=decision.person_id, tool_key=key, agent=agent)
        return CallVerdict(message=_step_up_text(decision, step_up_url(token)))
    return CallVerdict(message=_deny_text(decision))


def _deny_text(decision: Decision) -> str:
    return (
        f"Denied by agenwork ({decision.reason_code}): {decision.reason} "
        "The call was not executed. "
        "Do not retry; ask an admin if you need this tool."
    )


def _step_up_text(decision: Decision, url: str) -> str:
    minutes = max(1, settings.STEP_UP_LINK_SECONDS // 60)
    return (
        f"Step-up verification required ({decision.reason_code}): {decision.reason} "
        "The call was NOT executed. Tell the user to open this link in their browser and sign "
        f"in again (it works for {minutes} minutes, once): {url} — then repeat the same call "
        "(same tool, same arguments): it runs once they have verified."
    )


def _approvers_of(access_request: AccessRequest) -> str:
    """Whom the request waits for: its current level's groups and people, by name."""
    level = (
        ApprovalLevel.objects.filter(
            flow_id=access_request.flow_id, position=access_request.current_level
        )
        .prefetch_related("groups", "people")
        .first()
    )
    if level is None:
        return "an approver"
    names = [g.name for g in level.groups.all()] + [p.name for p in level.people.all()]
    return ", ".join(sorted(names)) or "an approver"


def decided_among(request_pks: list[int]) -> list[int]:
    """Which of these requests are no longer pending: one query for every held call."""
    close_old_connections()
    return list(
        AccessRequest.objects.filter(pk__in=request_pks)
        .exclude(status=AccessRequest.Status.PENDING)
        .values_list("pk", flat=True)
    )


def settle_held_call(request_pk: int, agent: str) -> Settled | None:
    """The end of a held call once its request is decided; None while it is still pending.

    - Approved once: consumed now, by a conditional update, so of identical calls waiting on
      one request exactly one is forwarded; the others are told why not.
    - Approved for a time: forwarded while the grant lasts, nothing consumed.
    """
    close_old_connections()
    access_request = AccessRequest.objects.get(pk=request_pk)
    if access_request.is_pending:
        return None
    public_id = access_request.public_id
    if access_request.status in AccessRequest.APPROVED_STATUSES:
        if access_request.grant_expires_at is not None:
            if access_request.grant_expires_at > timezone.now():
                return Settled(forward=True)
            return Settled(forward=False, message=_grant_over_text(public_id))
        try:
            consumed = request_consume(access_request=access_request, actor=_gateway_actor(agent))
        except RequestNotConsumable:
            return Settled(forward=False, message=_used_text(public_id))
        return Settled(forward=True, consumed_at=consumed.consumed_at)
    return Settled(forward=False, message=_refused_text(access_request))


def release_held_call(request_pk: int, settled: Settled, agent: str) -> None:
    """Give back a one-time approval consumed for a call whose client went away before it ran."""
    close_old_connections()
    if settled.consumed_at is not None:
        request_release(
            access_request=AccessRequest.objects.get(pk=request_pk),
            actor=_gateway_actor(agent),
            consumed_at=settled.consumed_at,
        )


def record_execution(request_pk: int, agent: str, took_ms: int, error: str) -> None:
    """The request's history line for the forwarded call."""
    close_old_connections()
    request_record_execution(
        access_request=AccessRequest.objects.get(pk=request_pk),
        actor=_gateway_actor(agent),
        took_ms=took_ms,
        error=error,
    )


def _gateway_actor(agent: str) -> Actor:
    return Actor(name=agent or "MCP gateway", channel=Channel.GATEWAY)


def still_pending_text(held: HeldCall, waited_s: int) -> str:
    """The tool error when the hold window ends with the request still pending."""
    return (
        f"Approval pending: request {held.public_id} waits for {held.waiting_for}; "
        f"agenwork held this call for {waited_s} s. The call was NOT executed. Tell the user "
        "it needs an approval, and repeat the same call (same tool, same arguments) later: it "
        "attaches to the same request and runs once the request is approved."
    )


def _used_text(public_id: object) -> str:
    return (
        f"Not executed: request {public_id} was approved once, and that approval was used by "
        "another identical call. Repeat the call to ask for approval again if it is still needed."
    )


def _grant_over_text(public_id: object) -> str:
    return (
        f"Not executed: the approval of request {public_id} has expired. Repeat the call to ask "
        "for approval again."
    )


def _refused_text(access_request: AccessRequest) -> str:
    status = access_request.get_status_display().lower()
    who = access_request.decided_by_name or "agenwork"
    comment = f" Comment: “{access_request.comment}”." if access_request.comment else ""
    return (
        f"Not executed: request {access_request.public_id} was {status} by {who}.{comment} "
        "Do not retry this call; ask the approvers or an admin if you still need it."
    )

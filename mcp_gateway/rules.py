"""agenwork's rules at the gateway: which tools a person sees, and what a call's decision means.

- Everything here is synchronous Django code; the server (server.py) runs it through
  sync_to_async, so the event loop never waits on the database.
- Calls are decided by requests_app.decisions.decide_call, the code behind /api/v1/decisions:
  the same DecisionLog, dedupe, grants and approval requests.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import close_old_connections
from django.db.models import Q
from django.utils import timezone

from connectors.models import Connector, Tool
from mcp_gateway.upstreams import Upstream, stdio_upstreams, upstream_of
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
from policies.models import Policy
from policies.snapshot import current_snapshot
from requests_app.decisions import decide_call

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
class CallVerdict:
    """What to do with a tools/call: forward it (`upstream`), or answer `message` as an error."""

    upstream: Upstream | None = None
    upstream_tool: str = ""
    message: str = ""


def upstream_tools_query(commands: dict[str, Upstream]):
    """The tools of connectors backed by an upstream server, not marked missing."""
    backed = Q(connector__slug__in=list(commands)) | ~Q(connector__upstream_url="")
    return Tool.objects.filter(backed, missing_since__isnull=True).select_related("connector")


def visible_tools(email: str) -> list[VisibleTool]:
    """The upstream tools the engine would not deny this person, marked when a human must act."""
    close_old_connections()
    snapshot, now = current_snapshot(), timezone.now()
    visible = []
    for tool in upstream_tools_query(stdio_upstreams()).order_by("key"):
        decision = evaluate(
            snapshot, Call(user=email, connector=tool.connector.slug, tools=(tool.key,)), now=now
        )
        if decision.decision == DENY:
            continue
        mark = MARKS.get(decision.decision)
        description = f"{mark} {tool.description}" if mark else tool.description
        schema = tool.input_schema or {"type": "object"}
        visible.append(VisibleTool(key=tool.key, description=description, input_schema=schema))
    return visible


def call_verdict(*, email: str, key: str, arguments: dict[str, Any], agent: str) -> CallVerdict:
    """Decide a tools/call in process (logged, deduplicated, a request created when needed)."""
    close_old_connections()
    commands = stdio_upstreams()
    tool = upstream_tools_query(commands).filter(key=key).first()
    if tool is None:
        return CallVerdict(message=f"Unknown tool {key!r}: it is not one of this gateway's tools.")
    call = Call(user=email, connector=tool.connector.slug, tools=(key,))
    try:
        outcome = decide_call(call=call, api_key=None, agent=agent, arguments=arguments)
    except InvalidCall as exc:
        return CallVerdict(message=f"Unknown tool: {exc}")
    decision = outcome.decision
    if decision.decision == ALLOW:
        upstream = upstream_of(tool.connector, commands)
        return CallVerdict(upstream=upstream, upstream_tool=key.removeprefix(f"{call.connector}_"))
    if decision.decision == APPROVAL_REQUIRED:
        request_id = outcome.access_request.public_id if outcome.access_request else "?"
        return CallVerdict(message=_approval_text(decision, request_id))
    if decision.decision == STEP_UP:
        return CallVerdict(message=_step_up_text(decision))
    return CallVerdict(message=_deny_text(decision))


def _policy_name(decision: Decision) -> str:
    policy_id = next((t.policy_id for t in decision.tools if t.policy_id), None)
    policy = Policy.objects.filter(pk=policy_id).values_list("name", flat=True).first()
    return f"policy “{policy}”" if policy else "no policy allows it"


def _deny_text(decision: Decision) -> str:
    return (
        f"Denied by agenwork ({decision.reason_code}): {decision.reason} "
        f"({_policy_name(decision)}). The call was not executed. "
        "Do not retry; ask an admin if you need this tool."
    )


def _step_up_text(decision: Decision) -> str:
    return (
        f"Step-up verification required ({decision.reason_code}): {decision.reason} "
        f"({_policy_name(decision)}). The call was not executed. The person must verify their "
        "identity again before this tool runs; the gateway cannot do that yet, so ask an admin."
    )


def _approval_text(decision: Decision, request_id: object) -> str:
    return (
        f"Approval required ({decision.reason_code}): {decision.reason}. agenwork created "
        f"request {request_id} for the approvers. The call was NOT executed yet; repeat the "
        "same call once the request is approved."
    )


def upstream_failed(connector_slug: str, error: str) -> None:
    """Mark the connector Error with the upstream's fault, as the console shows it."""
    close_old_connections()
    Connector.objects.filter(slug=connector_slug).update(
        status=Connector.Status.ERROR,
        upstream_error=error[:1000],
        upstream_checked_at=timezone.now(),
    )

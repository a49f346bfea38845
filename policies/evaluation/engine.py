"""The decision engine of DESIGN.md §3: `evaluate`, a pure function over a snapshot of policies.

- No Django import and no query: the snapshot (policies/snapshot.py builds it from the database)
  and the grants (the caller, requests_app, reads them) come in; a Decision comes out.
- A naive step-up time is never taken as fresh.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta

from policies.evaluation.index import NO_RULES, ConnectorIndex, Snapshot
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

DEFAULT_STEP_UP_WINDOW = timedelta(minutes=15)
# A gateway clock slightly ahead of ours still counts; a step-up further in the future does not.
STEP_UP_CLOCK_SKEW = timedelta(seconds=60)


def evaluate(
    snapshot: Snapshot,
    call: Call,
    *,
    now: datetime,
    grants: Iterable[Grant] = (),
    step_up_window: timedelta = DEFAULT_STEP_UP_WINDOW,
) -> Decision:
    """Decide a call against the snapshot; raise InvalidCall for an unknown connector or tool."""
    connector, tools = _resolve_call(snapshot, call)
    person = snapshot.find_person(call.user)
    if person is None:
        return _deny_all(tools, UNKNOWN_USER, f"No user is known as {call.user}.", None, connector)
    if person.deactivated:
        why = f"{person.email} is deactivated in the identity provider: their agents are denied."
        return _deny_all(tools, USER_DEACTIVATED, why, person.id, connector)
    if person.locked:
        why = f"{person.email} is locked: their agents are denied everything."
        return _deny_all(tools, USER_LOCKED, why, person.id, connector)
    if not connector.enabled:
        why = f"The {connector.name} connector is disabled."
        return _deny_all(tools, CONNECTOR_DISABLED, why, person.id, connector)
    index = snapshot.index.get(connector.id)
    granted = _granted_tool_ids(grants, person.id, now)
    fresh = _step_up_is_fresh(call.step_up_at, now, step_up_window)
    decisions = tuple(_decide_tool(tool, index, person, granted, fresh) for tool in tools)
    rules = index.rules_by_id if index is not None else {}
    return _overall(decisions, person, connector, rules)


def _resolve_call(snapshot: Snapshot, call: Call) -> tuple[ConnectorInfo, tuple[ToolInfo, ...]]:
    """The call's connector and its tools, each once, in the order the call names them."""
    if not call.tools:
        raise InvalidCall("A call names at least one tool.")
    connector = snapshot.connectors_by_slug.get(call.connector)
    if connector is None:
        raise UnknownConnector(call.connector)
    keys = tuple(dict.fromkeys(call.tools))
    unknown = tuple(key for key in keys if key not in connector.tools_by_key)
    if unknown:
        raise UnknownTool(unknown, connector.slug)
    return connector, tuple(connector.tools_by_key[key] for key in keys)


def _deny_all(
    tools: tuple[ToolInfo, ...],
    reason_code: str,
    reason: str,
    person_id: int | None,
    connector: ConnectorInfo,
) -> Decision:
    """Deny every tool for one reason that has nothing to do with policies."""
    decisions = tuple(ToolDecision(t.key, t.id, DENY, None, (), reason_code) for t in tools)
    return Decision(DENY, reason_code, reason, decisions, person_id, connector.id)


def _granted_tool_ids(grants: Iterable[Grant], person_id: int, now: datetime) -> frozenset[int]:
    """The tools this person holds an unexpired grant for."""
    return frozenset(g.tool_id for g in grants if g.person_id == person_id and g.expires_at > now)


def _step_up_is_fresh(at: datetime | None, now: datetime, window: timedelta) -> bool:
    """Whether the user re-authenticated strongly within the window (allowing a little skew)."""
    if at is None or at.tzinfo is None:
        return False
    return now - window <= at <= now + STEP_UP_CLOCK_SKEW


def _decide_tool(
    tool: ToolInfo,
    index: ConnectorIndex | None,
    person: PersonInfo,
    granted: frozenset[int],
    step_up_fresh: bool,
) -> ToolDecision:
    """The most restrictive matching action, softened by a grant or a fresh step-up."""
    if not tool.enabled:
        return ToolDecision(tool.key, tool.id, DENY, None, (), TOOL_DISABLED)
    matched = index.match(tool.id, person) if index is not None else NO_RULES
    winner = matched.winner
    if winner is None:
        return ToolDecision(tool.key, tool.id, DENY, None, (), NO_POLICY)
    decision, reason_code = _outcome(winner.action, tool.id in granted, step_up_fresh)
    return ToolDecision(tool.key, tool.id, decision, winner.id, matched.ids, reason_code)


def _outcome(action: str, granted: bool, step_up_fresh: bool) -> tuple[str, str]:
    """The decision and reason code for the winning action."""
    if action == DENY:
        return DENY, POLICY_DENY
    if action == ALLOW:
        return ALLOW, POLICY_ALLOW
    if granted:
        return ALLOW, GRANT
    if action == STEP_UP:
        return (ALLOW, STEP_UP_VERIFIED) if step_up_fresh else (STEP_UP, STEP_UP_REQUIRED)
    return APPROVAL_REQUIRED, APPROVAL_REQUIRED


def _overall(
    decisions: tuple[ToolDecision, ...],
    person: PersonInfo,
    connector: ConnectorInfo,
    rules: Mapping[int, PolicyRule],
) -> Decision:
    """Deny if any tool is denied, else approval, else step-up, else allow."""
    found = {d.decision for d in decisions}
    outcome = next((o for o in (DENY, APPROVAL_REQUIRED, STEP_UP) if o in found), ALLOW)
    hits = [d for d in decisions if d.decision == outcome]
    reason_code = hits[0].reason_code if outcome == DENY else _OVERALL_CODES[outcome]
    approval = outcome == APPROVAL_REQUIRED
    # The lowest winning policy id routes the request, whatever order the call lists tools in.
    deciding = min(d.policy_id for d in hits if d.policy_id) if approval else hits[0].policy_id
    policy = rules.get(deciding) if deciding is not None else None
    return Decision(
        outcome,
        reason_code,
        _reason(outcome, hits, person, connector, policy),
        decisions,
        person.id,
        connector.id,
        approval_flow_id=policy.flow_id if approval and policy else None,
        approval_policy_id=deciding if approval else None,
        approval_tool_ids=tuple(d.tool_id for d in hits if d.tool_id) if approval else (),
    )


_OVERALL_CODES: Mapping[str, str] = {
    ALLOW: ALLOWED,
    STEP_UP: STEP_UP_REQUIRED,
    APPROVAL_REQUIRED: APPROVAL_REQUIRED,
}


def _reason(
    outcome: str,
    hits: list[ToolDecision],
    person: PersonInfo,
    connector: ConnectorInfo,
    policy: PolicyRule | None,
) -> str:
    """One sentence an admin or a gateway author can read, naming the deciding tool and policy."""
    first = hits[0]
    keys = ", ".join(d.tool for d in hits)
    by = f' (policy "{policy.name}")' if policy is not None else ""
    if outcome == ALLOW:
        return f"{person.email} may use {keys}."
    verb = "needs" if len(hits) == 1 else "need"
    if outcome == APPROVAL_REQUIRED:
        return f"{keys} of {connector.name} {verb} an approval{by}."
    if outcome == STEP_UP:
        return f"{keys} of {connector.name} {verb} a fresh strong sign-in{by}."
    if first.reason_code == TOOL_DISABLED:
        return f"The tool {first.tool} of {connector.name} is disabled."
    if first.reason_code == NO_POLICY:
        return f"No policy lets {person.email} use {first.tool} of {connector.name}."
    return f"{first.tool} of {connector.name} is denied to {person.email}{by}."

"""The decision engine of DESIGN.md §3: a pure function over an in-memory snapshot of policies.

- No Django import and no query: the snapshot (policies/snapshot.py builds it from the database)
  and the grants (the caller, requests_app, reads them) come in; a Decision comes out.
- The snapshot indexes its rules per connector, per tool and per (all users | user | group), so
  a call touches only the rules that can match it, however many policies exist.
- All datetimes are timezone-aware; a naive step-up time is never taken as fresh.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

ALLOW = "allow"
STEP_UP = "step_up"
APPROVAL_REQUIRED = "approval_required"
DENY = "deny"
# Most restrictive wins: Deny > Request approval > Step up > Allow.
SEVERITY: Mapping[str, int] = {ALLOW: 0, STEP_UP: 1, APPROVAL_REQUIRED: 2, DENY: 3}

# Reason codes, per tool and overall.
UNKNOWN_USER = "unknown_user"
USER_LOCKED = "user_locked"
USER_DEACTIVATED = "user_deactivated"
CONNECTOR_DISABLED = "connector_disabled"
TOOL_DISABLED = "tool_disabled"
NO_POLICY = "no_policy"
POLICY_ALLOW = "policy_allow"
POLICY_DENY = "policy_deny"
STEP_UP_REQUIRED = "step_up_required"
STEP_UP_VERIFIED = "step_up_verified"
GRANT = "grant"
ALLOWED = "allowed"

DEFAULT_STEP_UP_WINDOW = timedelta(minutes=15)
# A gateway clock slightly ahead of ours still counts; a step-up further in the future does not.
STEP_UP_CLOCK_SKEW = timedelta(seconds=60)


class InvalidCall(ValueError):
    """A call that names something the snapshot does not know; the API answers 422."""

    code = "invalid_call"


class UnknownConnector(InvalidCall):
    """The call's connector slug matches no connector."""

    code = "unknown_connector"

    def __init__(self, slug: str) -> None:
        super().__init__(f"Unknown connector: {slug}")
        self.slug = slug


class UnknownTool(InvalidCall):
    """Some of the call's tool keys are not tools of its connector."""

    code = "unknown_tool"

    def __init__(self, keys: tuple[str, ...], connector: str = "") -> None:
        super().__init__(f"Unknown tool(s) of {connector or 'the connector'}: {', '.join(keys)}")
        self.keys = keys
        self.connector = connector


@dataclass(frozen=True, slots=True)
class ToolInfo:
    """One tool of a connector, by its API key."""

    id: int
    key: str
    enabled: bool
    access: str


@dataclass(frozen=True, slots=True)
class ConnectorInfo:
    """A connector and every tool it exposes (disabled ones included)."""

    id: int
    slug: str
    name: str
    enabled: bool
    tools_by_key: Mapping[str, ToolInfo]


@dataclass(frozen=True, slots=True)
class PersonInfo:
    """A person as the engine sees them: identity, lock, groups."""

    id: int
    email: str
    external_id: str | None
    locked: bool
    group_ids: frozenset[int]
    deactivated: bool = False


@dataclass(frozen=True, slots=True)
class PolicyRule:
    """An enabled policy; empty tool_ids means every tool of the connector."""

    id: int
    name: str
    connector_id: int
    tool_ids: frozenset[int]
    all_users: bool
    user_ids: frozenset[int]
    group_ids: frozenset[int]
    action: str
    flow_id: int | None = None

    def __post_init__(self) -> None:
        if self.action not in SEVERITY:
            raise ValueError(f"Policy {self.id} has an unknown action: {self.action!r}")


@dataclass(frozen=True, slots=True)
class Grant:
    """A time-bound approval of one tool for one person."""

    person_id: int
    tool_id: int
    expires_at: datetime


def _rank(rule: PolicyRule) -> tuple[int, int]:
    """Order of precedence: the most restrictive action, then the lowest id."""
    return SEVERITY[rule.action], -rule.id


@dataclass(frozen=True, slots=True)
class _Decided:
    """A set of rules, decided in advance: their ids in order and the one that wins."""

    ids: tuple[int, ...]
    winner: PolicyRule | None

    @classmethod
    def of(cls, rules: Iterable[PolicyRule]) -> _Decided:
        ordered = sorted(rules, key=lambda rule: rule.id)
        return cls(tuple(rule.id for rule in ordered), max(ordered, key=_rank, default=None))


_NONE = _Decided((), None)


@dataclass(frozen=True, slots=True)
class _Personal:
    """The rules of one tool (or of "all tools") that name users or groups, decided per name."""

    by_user: Mapping[int, _Decided]
    by_group: Mapping[int, _Decided]

    @classmethod
    def of(cls, rules: Iterable[PolicyRule]) -> _Personal:
        by_user: dict[int, list[PolicyRule]] = {}
        by_group: dict[int, list[PolicyRule]] = {}
        for rule in rules:
            if rule.all_users:
                continue
            for user_id in rule.user_ids:
                by_user.setdefault(user_id, []).append(rule)
            for group_id in rule.group_ids:
                by_group.setdefault(group_id, []).append(rule)
        return cls(
            {key: _Decided.of(value) for key, value in by_user.items()},
            {key: _Decided.of(value) for key, value in by_group.items()},
        )

    def covering(self, person: PersonInfo) -> Iterator[_Decided]:
        """Yield the decided rules that name the person or one of their groups."""
        if person.id in self.by_user:
            yield self.by_user[person.id]
        groups = self.by_group
        if len(groups) < len(person.group_ids):
            yield from (decided for gid, decided in groups.items() if gid in person.group_ids)
        else:
            yield from (groups[gid] for gid in person.group_ids if gid in groups)


_NOBODY = _Personal({}, {})


@dataclass(frozen=True, slots=True)
class _ConnectorIndex:
    """A connector's rules per tool id, with those on every tool kept apart.

    - Rules are decided in advance per tool and per audience (all users, each user, each
      group): a call only combines the few parts that concern its person, however many policies
      there are.
    """

    everyone_by_tool: Mapping[int, _Decided]
    everyone_any_tool: _Decided
    personal_by_tool: Mapping[int, _Personal]
    personal_any_tool: _Personal
    rules_by_id: Mapping[int, PolicyRule]

    @classmethod
    def of(cls, rules: Iterable[PolicyRule]) -> _ConnectorIndex:
        ordered = sorted(rules, key=lambda rule: rule.id)
        per_tool: dict[int, list[PolicyRule]] = {}
        for rule in ordered:
            for tool_id in rule.tool_ids:
                per_tool.setdefault(tool_id, []).append(rule)
        any_tool = [rule for rule in ordered if not rule.tool_ids]
        everyone = [rule for rule in any_tool if rule.all_users]
        return cls(
            everyone_by_tool={
                tool_id: _Decided.of([*everyone, *(r for r in tool_rules if r.all_users)])
                for tool_id, tool_rules in per_tool.items()
            },
            everyone_any_tool=_Decided.of(everyone),
            personal_by_tool={tool_id: _Personal.of(rs) for tool_id, rs in per_tool.items()},
            personal_any_tool=_Personal.of(any_tool),
            rules_by_id={rule.id: rule for rule in ordered},
        )

    def match(self, tool_id: int, person: PersonInfo) -> _Decided:
        """The rules that match this tool and cover this person, and the one that wins."""
        parts = [self.everyone_by_tool.get(tool_id, self.everyone_any_tool)]
        parts.extend(self.personal_by_tool.get(tool_id, _NOBODY).covering(person))
        parts.extend(self.personal_any_tool.covering(person))
        parts = [part for part in parts if part.ids]
        if len(parts) <= 1:
            return parts[0] if parts else _NONE
        # A rule may come through several parts (the user and a group): ids are merged as a set.
        ids = tuple(sorted({rule_id for part in parts for rule_id in part.ids}))
        return _Decided(ids, max((part.winner for part in parts if part.winner), key=_rank))


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Everything a decision reads; only enabled policies are in it.

    - people_by_email is keyed by lower-cased email.
    - The per-connector rule index is derived once, when the snapshot is built.
    """

    version: int
    people_by_email: Mapping[str, PersonInfo]
    people_by_external_id: Mapping[str, PersonInfo]
    connectors_by_slug: Mapping[str, ConnectorInfo]
    policies_by_connector: Mapping[int, tuple[PolicyRule, ...]]
    index: Mapping[int, _ConnectorIndex] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_connector = self.policies_by_connector.items()
        object.__setattr__(self, "index", {cid: _ConnectorIndex.of(rs) for cid, rs in by_connector})

    def find_person(self, user: str) -> PersonInfo | None:
        """The person with this email (any case) or, failing that, this external id."""
        person = self.people_by_email.get(user.strip().lower())
        return person if person is not None else self.people_by_external_id.get(user)


@dataclass(frozen=True, slots=True)
class Call:
    """What the gateway asks: may this user's agent use these tools of this connector?"""

    user: str
    connector: str
    tools: tuple[str, ...]
    step_up_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class ToolDecision:
    """The decision for one tool, with the policy whose action won and all that matched."""

    tool: str
    tool_id: int | None
    decision: str
    policy_id: int | None
    matched_policy_ids: tuple[int, ...]
    reason_code: str


@dataclass(frozen=True, slots=True)
class Decision:
    """The overall decision, its reason, and what an approval request would need."""

    decision: str
    reason_code: str
    reason: str
    tools: tuple[ToolDecision, ...]
    person_id: int | None
    connector_id: int | None
    approval_flow_id: int | None = None
    approval_policy_id: int | None = None
    approval_tool_ids: tuple[int, ...] = ()


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
    index: _ConnectorIndex | None,
    person: PersonInfo,
    granted: frozenset[int],
    step_up_fresh: bool,
) -> ToolDecision:
    """The most restrictive matching action, softened by a grant or a fresh step-up."""
    if not tool.enabled:
        return ToolDecision(tool.key, tool.id, DENY, None, (), TOOL_DISABLED)
    matched = index.match(tool.id, person) if index is not None else _NONE
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

"""What a draft policy would change: replay logged calls against today's policies and the draft.

- Pure: snapshots, rules and logged calls come in, counts come out; no Django import, no query.
- A call "flips" when today's policies and the policies with the draft decide it differently.
  Both sides are evaluated now, without grants or step-up, so only the draft makes a difference
  (the logged decision may also reflect a grant, a step-up or a policy changed since).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from policies.evaluation import Call, InvalidCall, PolicyRule, Snapshot, evaluate

EXAMPLES = 5


@dataclass(frozen=True, slots=True)
class LoggedCall:
    """One call of the decision log, as the gateway named it, and what it was told then."""

    user: str
    connector: str
    tools: tuple[str, ...]
    decision: str
    at: datetime


@dataclass(frozen=True, slots=True)
class Flip:
    """One call that the draft would decide differently."""

    call: LoggedCall
    old: str
    new: str


@dataclass
class Replay:
    """How many calls were replayed, and how many went from which decision to which."""

    total: int = 0
    skipped: int = 0
    capped: bool = False
    transitions: Counter[tuple[str, str]] = field(default_factory=Counter)
    examples: list[Flip] = field(default_factory=list)

    @property
    def flipped(self) -> int:
        return sum(n for (old, new), n in self.transitions.items() if old != new)

    def flips(self) -> list[tuple[str, str, int]]:
        """(old, new, count) of the calls that change, the most frequent first."""
        changed = [(old, new, n) for (old, new), n in self.transitions.items() if old != new]
        return sorted(changed, key=lambda t: (-t[2], t[0], t[1]))


def draft_rule(data: Any, *, rule_id: int) -> PolicyRule:
    """The PolicyRule of a policy's draft fields (a policies.services.PolicyData)."""
    return PolicyRule(
        id=rule_id,
        name=data.name,
        connector_id=data.connector.pk,
        tool_ids=frozenset(tool.pk for tool in data.tools),
        all_users=data.all_users,
        user_ids=frozenset() if data.all_users else frozenset(p.pk for p in data.users),
        group_ids=frozenset(group.pk for group in data.groups),
        action=data.action,
        flow_id=data.approval_flow.pk if data.approval_flow is not None else None,
    )


def new_rule_id(snapshot: Snapshot) -> int:
    """An id above every policy of the snapshot, for a draft not saved yet."""
    ids = (rule.id for rules in snapshot.policies_by_connector.values() for rule in rules)
    return max(ids, default=0) + 1


def snapshot_with(
    snapshot: Snapshot, draft: PolicyRule | None, *, replaced_id: int | None = None
) -> Snapshot:
    """The snapshot with the replaced policy removed and the draft added (if given)."""
    by_connector: dict[int, list[PolicyRule]] = {
        cid: [rule for rule in rules if rule.id != replaced_id]
        for cid, rules in snapshot.policies_by_connector.items()
    }
    if draft is not None:
        by_connector.setdefault(draft.connector_id, []).append(draft)
    return Snapshot(
        version=snapshot.version,
        people_by_email=snapshot.people_by_email,
        people_by_external_id=snapshot.people_by_external_id,
        connectors_by_slug=snapshot.connectors_by_slug,
        policies_by_connector={cid: tuple(rules) for cid, rules in by_connector.items() if rules},
    )


def replay(
    snapshot: Snapshot,
    draft: PolicyRule | None,
    calls: Iterable[LoggedCall],
    *,
    now: datetime,
    replaced_id: int | None = None,
    limit: int | None = None,
) -> Replay:
    """Count, per (today's decision, decision with the draft), the calls replayed.

    - `draft=None` with a `replaced_id` shows what deleting or disabling that policy changes.
    - Calls naming a connector or tool that no longer exists are counted as skipped.
    - At most `limit` calls are replayed; one more in `calls` marks the replay as capped.
    - The same (user, connector, tools) is evaluated once, however often it was logged.
    """
    changed = snapshot_with(snapshot, draft, replaced_id=replaced_id)
    result = Replay()
    seen: dict[tuple[str, str, tuple[str, ...]], tuple[str, str] | None] = {}
    for call in calls:
        if limit is not None and result.total + result.skipped >= limit:
            result.capped = True
            break
        key = (call.user, call.connector, call.tools)
        if key not in seen:
            seen[key] = _both(snapshot, changed, key, now)
        outcome = seen[key]
        if outcome is None:
            result.skipped += 1
            continue
        result.total += 1
        result.transitions[outcome] += 1
        if outcome[0] != outcome[1] and len(result.examples) < EXAMPLES:
            result.examples.append(Flip(call, *outcome))
    return result


def _both(
    before: Snapshot,
    after: Snapshot,
    key: tuple[str, str, tuple[str, ...]],
    now: datetime,
) -> tuple[str, str] | None:
    """The overall decision before and after, or None for a call that is no longer valid."""
    call = Call(user=key[0], connector=key[1], tools=key[2])
    try:
        return evaluate(before, call, now=now).decision, evaluate(after, call, now=now).decision
    except InvalidCall:
        return None


def policy_names(snapshot: Snapshot) -> Mapping[int, str]:
    """Every enabled policy's name by id."""
    return {
        rule.id: rule.name for rules in snapshot.policies_by_connector.values() for rule in rules
    }

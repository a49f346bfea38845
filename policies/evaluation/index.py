"""The snapshot a decision reads, and its rules indexed per connector, tool and audience.

- The snapshot indexes its rules per connector, per tool and per (all users | user | group), so
  a call touches only the rules that can match it, however many policies exist.
- Built once per snapshot (policies/snapshot.py builds the snapshot from the database).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field

from policies.evaluation.types import SEVERITY, ConnectorInfo, PersonInfo, PolicyRule


def _rank(rule: PolicyRule) -> tuple[int, int]:
    """Order of precedence: the most restrictive action, then the lowest id."""
    return SEVERITY[rule.action], -rule.id


@dataclass(frozen=True, slots=True)
class Decided:
    """A set of rules, decided in advance: their ids in order and the one that wins."""

    ids: tuple[int, ...]
    winner: PolicyRule | None

    @classmethod
    def of(cls, rules: Iterable[PolicyRule]) -> Decided:
        ordered = sorted(rules, key=lambda rule: rule.id)
        return cls(tuple(rule.id for rule in ordered), max(ordered, key=_rank, default=None))


NO_RULES = Decided((), None)


@dataclass(frozen=True, slots=True)
class _Personal:
    """The rules of one tool (or of "all tools") that name users or groups, decided per name."""

    by_user: Mapping[int, Decided]
    by_group: Mapping[int, Decided]

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
            {key: Decided.of(value) for key, value in by_user.items()},
            {key: Decided.of(value) for key, value in by_group.items()},
        )

    def covering(self, person: PersonInfo) -> Iterator[Decided]:
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
class ConnectorIndex:
    """A connector's rules per tool id, with those on every tool kept apart.

    - Rules are decided in advance per tool and per audience (all users, each user, each
      group): a call only combines the few parts that concern its person, however many policies
      there are.
    """

    everyone_by_tool: Mapping[int, Decided]
    everyone_any_tool: Decided
    personal_by_tool: Mapping[int, _Personal]
    personal_any_tool: _Personal
    rules_by_id: Mapping[int, PolicyRule]

    @classmethod
    def of(cls, rules: Iterable[PolicyRule]) -> ConnectorIndex:
        ordered = sorted(rules, key=lambda rule: rule.id)
        per_tool: dict[int, list[PolicyRule]] = {}
        for rule in ordered:
            for tool_id in rule.tool_ids:
                per_tool.setdefault(tool_id, []).append(rule)
        any_tool = [rule for rule in ordered if not rule.tool_ids]
        everyone = [rule for rule in any_tool if rule.all_users]
        return cls(
            everyone_by_tool={
                tool_id: Decided.of([*everyone, *(r for r in tool_rules if r.all_users)])
                for tool_id, tool_rules in per_tool.items()
            },
            everyone_any_tool=Decided.of(everyone),
            personal_by_tool={tool_id: _Personal.of(rs) for tool_id, rs in per_tool.items()},
            personal_any_tool=_Personal.of(any_tool),
            rules_by_id={rule.id: rule for rule in ordered},
        )

    def match(self, tool_id: int, person: PersonInfo) -> Decided:
        """The rules that match this tool and cover this person, and the one that wins."""
        parts = [self.everyone_by_tool.get(tool_id, self.everyone_any_tool)]
        parts.extend(self.personal_by_tool.get(tool_id, _NOBODY).covering(person))
        parts.extend(self.personal_any_tool.covering(person))
        parts = [part for part in parts if part.ids]
        if len(parts) <= 1:
            return parts[0] if parts else NO_RULES
        # A rule may come through several parts (the user and a group): ids are merged as a set.
        ids = tuple(sorted({rule_id for part in parts for rule_id in part.ids}))
        return Decided(ids, max((part.winner for part in parts if part.winner), key=_rank))


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
    index: Mapping[int, ConnectorIndex] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_connector = self.policies_by_connector.items()
        object.__setattr__(self, "index", {cid: ConnectorIndex.of(rs) for cid, rs in by_connector})

    def find_person(self, user: str) -> PersonInfo | None:
        """The person with this email (any case) or, failing that, this external id."""
        person = self.people_by_email.get(user.strip().lower())
        return person if person is not None else self.people_by_external_id.get(user)

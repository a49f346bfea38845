"""The policy snapshot: built from the database, cached per process, rebuilt when its version moves.

- load_snapshot() reads everything evaluate() needs with a fixed number of queries (nine, plus
  one SET TRANSACTION on PostgreSQL when it opens its own transaction), whatever the row counts.
- current_snapshot() costs one query (the version) while nothing changed, or none when the
  caller read the version along with a query of its own (the API does, with its key lookup).
- Any change to policies, people, groups, memberships, connectors or tools bumps the version after
  commit (policies/signals.py); code that writes those rows with queryset.update() or bulk_create()
  sends no signal and calls snapshot_changed() itself.
- Grants are not read here (policies does not import requests_app): the caller passes them to
  evaluate().
"""

from __future__ import annotations

import threading

from django.db import connection, transaction
from django.db.models import F
from django.db.models.functions import Now

from connectors.models import Connector, Tool
from directory.models import Group, Person
from policies.evaluation import ConnectorInfo, PersonInfo, PolicyRule, Snapshot, ToolInfo
from policies.models import Policy, PolicySnapshotVersion

_lock = threading.Lock()
_cached: Snapshot | None = None


def current_snapshot(*, version: int | None = None) -> Snapshot:
    """The cached snapshot, re-read from the database only when the stored version moved.

    - `version`: the stored version as the caller already read it in one of its own queries
      (the API reads it with the key: api/auth.py); without it, one query reads it.
    - Inside a transaction that has changed snapshot rows (a bump is pending), the snapshot is
      read fresh and not cached: the caller sees its own writes, other callers never see them
      before commit.
    """
    global _cached
    if snapshot_change_pending():
        return load_snapshot()
    if version is None:
        version = stored_snapshot_version()
    cached = _cached
    if cached is not None and cached.version == version:
        return cached
    with _lock:
        cached = _cached
        if cached is None or cached.version != version:
            cached = _cached = load_snapshot()
    return cached


def clear_snapshot_cache() -> None:
    """Forget this process's snapshot (tests roll the version row back between them)."""
    global _cached
    _cached = None


def stored_snapshot_version() -> int:
    """The version in the database; 0 when the row is missing (a flushed test database)."""
    versions = list(PolicySnapshotVersion.objects.filter(pk=1).values_list("version", flat=True))
    return versions[0] if versions else 0


def bump_snapshot_version() -> None:
    """Move the version on by one, atomically, creating the row if it is missing."""
    if _increment_version():
        return
    PolicySnapshotVersion.objects.get_or_create(pk=1)
    _increment_version()


def _increment_version() -> bool:
    updated = PolicySnapshotVersion.objects.filter(pk=1).update(
        version=F("version") + 1, updated_at=Now()
    )
    return updated > 0


class _PendingBump:
    """An on_commit callback that bumps the version once, and remembers it did."""

    __slots__ = ("done",)

    def __init__(self) -> None:
        self.done = False

    def __call__(self) -> None:
        self.done = True
        bump_snapshot_version()


def snapshot_change_pending() -> bool:
    """Whether the current transaction changed snapshot rows that are not yet committed."""
    conn = transaction.get_connection()
    if not conn.in_atomic_block:
        return False
    # A rolled-back savepoint drops its callbacks from run_on_commit, so this stays exact.
    return any(isinstance(f, _PendingBump) and not f.done for _, f, _ in conn.run_on_commit)


def snapshot_changed() -> None:
    """Bump the snapshot version when the current transaction commits (once per transaction)."""
    if snapshot_change_pending():
        return
    # robust: the change is committed already; a failed bump is logged, not raised at the user.
    transaction.on_commit(_PendingBump(), robust=True)


def load_snapshot() -> Snapshot:
    """Build a snapshot from the database, all reads from one consistent view."""
    if connection.in_atomic_block:
        return _read_snapshot()
    with transaction.atomic():
        if connection.vendor == "postgresql":
            # One MVCC snapshot for every query: a policy never shows up without its tools.
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        return _read_snapshot()


def _read_snapshot() -> Snapshot:
    # The version is read first: a change committed meanwhile bumps it again later.
    version = stored_snapshot_version()
    by_email, by_external_id = _load_people()
    return Snapshot(
        version=version,
        people_by_email=by_email,
        people_by_external_id=by_external_id,
        connectors_by_slug=_load_connectors(),
        policies_by_connector=_load_policies(),
    )


def _load_people() -> tuple[dict[str, PersonInfo], dict[str, PersonInfo]]:
    """People keyed by lower-cased email and by external id (two queries)."""
    groups: dict[int, set[int]] = {}
    memberships = Group.members.through.objects.values_list("person_id", "group_id")
    for person_id, group_id in memberships:
        groups.setdefault(person_id, set()).add(group_id)
    by_email: dict[str, PersonInfo] = {}
    by_external_id: dict[str, PersonInfo] = {}
    rows = Person.objects.order_by("id").values_list(
        "id", "email", "external_id", "status", "deactivated_at"
    )
    for person_id, email, external_id, status, deactivated_at in rows:
        person = PersonInfo(
            id=person_id,
            email=email,
            external_id=external_id or None,
            locked=status == Person.Status.LOCKED,
            group_ids=frozenset(groups.get(person_id, ())),
            deactivated=deactivated_at is not None,
        )
        by_email.setdefault(email.lower(), person)
        if person.external_id:
            by_external_id[person.external_id] = person
    return by_email, by_external_id


def _load_connectors() -> dict[str, ConnectorInfo]:
    """Connectors by slug with every tool, disabled ones included (two queries)."""
    tools: dict[int, dict[str, ToolInfo]] = {}
    rows = Tool.objects.order_by("id").values_list("id", "connector_id", "key", "enabled", "access")
    for tool_id, connector_id, key, enabled, access in rows:
        tools.setdefault(connector_id, {})[key] = ToolInfo(tool_id, key, enabled, access)
    return {
        slug: ConnectorInfo(cid, slug, name, enabled, tools.get(cid, {}))
        for cid, slug, name, enabled in Connector.objects.values_list(
            "id", "slug", "name", "enabled"
        )
    }


def _load_policies() -> dict[int, tuple[PolicyRule, ...]]:
    """Enabled policies per connector, with their tools, users and groups (four queries)."""
    enabled = Policy.objects.filter(enabled=True).order_by("id")
    rows = list(
        enabled.values_list("id", "name", "connector_id", "all_users", "action", "approval_flow_id")
    )
    tools = _ids_by_policy(Policy.tools.through, "tool_id")
    users = _ids_by_policy(Policy.users.through, "person_id")
    groups = _ids_by_policy(Policy.groups.through, "group_id")
    by_connector: dict[int, list[PolicyRule]] = {}
    for policy_id, name, connector_id, all_users, action, flow_id in rows:
        rule = PolicyRule(
            id=policy_id,
            name=name,
            connector_id=connector_id,
            tool_ids=tools.get(policy_id, frozenset()),
            all_users=all_users,
            user_ids=users.get(policy_id, frozenset()),
            group_ids=groups.get(policy_id, frozenset()),
            action=action,
            flow_id=flow_id,
        )
        by_connector.setdefault(connector_id, []).append(rule)
    return {connector_id: tuple(rules) for connector_id, rules in by_connector.items()}


def _ids_by_policy(through: type, column: str) -> dict[int, frozenset[int]]:
    """One M2M through table of enabled policies, as policy id → related ids."""
    found: dict[int, set[int]] = {}
    rows = through.objects.filter(policy__enabled=True).values_list("policy_id", column)
    for policy_id, related_id in rows:
        found.setdefault(policy_id, set()).add(related_id)
    return {policy_id: frozenset(ids) for policy_id, ids in found.items()}

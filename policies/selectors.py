"""Reads of the Policies page: the list, one policy for the panel, the decisions to replay."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.db.models import (
    Case,
    Count,
    IntegerField,
    OuterRef,
    Prefetch,
    QuerySet,
    Subquery,
    When,
)
from django.db.models import Value as V
from django.db.models.functions import Coalesce

from connectors.models import Tool
from directory.models import Group, Person
from policies.evaluation import SEVERITY
from policies.models import DecisionLog, Policy
from policies.simulator import LoggedCall, Replay, draft_rule, new_rule_id, replay
from policies.snapshot import current_snapshot

if TYPE_CHECKING:
    from policies.services import PolicyData

# A preview replays the calls of the last REPLAY_DAYS, at most REPLAY_CAP of them (the newest).
REPLAY_DAYS = 30
REPLAY_CAP = 50_000
REPLAY_CHUNK = 2_000


def _user_count() -> Subquery:
    through = Policy.users.through
    counts = (
        through.objects.filter(policy_id=OuterRef("pk"))
        .order_by()
        .values("policy_id")
        .annotate(n=Count("*"))
        .values("n")
    )
    return Coalesce(Subquery(counts, output_field=IntegerField()), V(0))


def _action_rank() -> Case:
    """Allow < Step up < Request approval < Deny, so that sorting by action reads as severity."""
    return Case(
        *(When(action=action, then=V(rank)) for action, rank in SEVERITY.items()),
        default=V(len(SEVERITY)),
        output_field=IntegerField(),
    )


def policy_list() -> QuerySet[Policy]:
    """Policies with what the table shows: a fixed number of queries however many rows.

    - Users are counted in SQL (a policy may name thousands); tools and groups, which the table
      names, are prefetched with their keys and names only.
    """
    return (
        Policy.objects.select_related("connector")
        .annotate(user_count=_user_count(), action_rank=_action_rank())
        .prefetch_related(
            Prefetch("tools", queryset=Tool.objects.only("id", "key").order_by("key", "id")),
            Prefetch("groups", queryset=Group.objects.only("id", "name").order_by("name")),
        )
    )


def policy_for_panel(pk: int) -> Policy | None:
    """One policy with everything the panel shows, or None."""
    return (
        Policy.objects.select_related("connector", "approval_flow", "created_by")
        .prefetch_related(
            Prefetch("tools", queryset=Tool.objects.order_by("key", "id")),
            Prefetch("users", queryset=Person.objects.order_by("name", "id")),
            Prefetch("groups", queryset=Group.objects.order_by("name")),
        )
        .filter(pk=pk)
        .first()
    )


def logged_calls(
    *, since: datetime, connector_ids: Iterable[int], cap: int = REPLAY_CAP
) -> Iterator[LoggedCall]:
    """The logged API calls on these connectors since a time, newest first, at most cap + 1.

    - Read along the (connector, -created_at) index, streamed in chunks (a server-side cursor
      on PostgreSQL), never held in memory at once; the row past the cap says it was capped.
    - Calls on a connector unknown when they were logged have no connector: nothing to replay.
    """
    rows = (
        DecisionLog.objects.filter(connector_id__in=list(connector_ids), created_at__gte=since)
        .order_by("-created_at")
        .values_list("user_ref", "connector_slug", "tools", "decision", "created_at")[: cap + 1]
    )
    for user_ref, slug, tools, decision, at in rows.iterator(chunk_size=REPLAY_CHUNK):
        keys = tuple(str(key) for key in tools) if isinstance(tools, list) else ()
        yield LoggedCall(user=user_ref, connector=slug, tools=keys, decision=decision, at=at)


@dataclass(frozen=True)
class Preview:
    """A replay of logged calls with a draft policy, and what was replayed."""

    replay: Replay
    since: datetime
    days: int
    cap: int
    draft_enabled: bool
    editing: bool


def policy_preview(*, data: PolicyData, replaced: Policy | None, now: datetime) -> Preview:
    """Replay the recent calls on the draft's connector(s) with the draft in place. Writes nothing.

    - Editing: the draft replaces the policy (and a disabled draft removes it); creating: the
      draft is added. Only calls on the draft's connector, or the edited policy's, can change.
    """
    snapshot = current_snapshot()
    rule_id = replaced.pk if replaced is not None else new_rule_id(snapshot)
    draft = draft_rule(data, rule_id=rule_id) if data.enabled else None
    connector_ids = {data.connector.pk}
    if replaced is not None:
        connector_ids.add(replaced.connector_id)
    since = now - timedelta(days=REPLAY_DAYS)
    calls = logged_calls(since=since, connector_ids=connector_ids, cap=REPLAY_CAP)
    try:
        result = replay(
            snapshot,
            draft,
            calls,
            now=now,
            replaced_id=replaced.pk if replaced is not None else None,
            limit=REPLAY_CAP,
        )
    finally:
        calls.close()  # a capped replay stops early: release the server-side cursor now
    return Preview(result, since, REPLAY_DAYS, REPLAY_CAP, data.enabled, replaced is not None)

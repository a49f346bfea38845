"""Reads about approval flows."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from django.db.models import Prefetch, Q, QuerySet

from approval_flows.models import ApprovalFlow, ApprovalLevel
from directory.models import Group, Person


def flow_ids_for_approver(person: Person) -> list[int]:
    """The flows in which this person may decide: named, through a group, or as a backup."""
    return list(
        ApprovalLevel.objects.filter(
            Q(people=person) | Q(groups__members=person) | Q(backup_people=person)
        )
        .order_by()
        .values_list("flow_id", flat=True)
        .distinct()
    )


def person_may_approve(person: Person, flow: ApprovalFlow) -> bool:
    """Whether this person is one of the flow's approvers (any level, or a backup)."""
    return flow.pk in flow_ids_for_approver(person)


# --- The Approval flows page ------------------------------------------------------------------
# Written by approval_flows/views.py and services.py; policies and requests are reached through
# the reverse relations `flow.policies` and `flow.requests`, never imported (they sit above).

PENDING = "pending"  # AccessRequest.Status.PENDING
POLICIES_SHOWN = 20
REQUESTS_SHOWN = 5


@dataclass(frozen=True)
class PendingRequest:
    """A pending request of a flow, as the refusal to delete or disable it names it."""

    public_id: UUID
    requester_name: str
    connector_name: str
    requested_at: datetime


@dataclass(frozen=True)
class FlowUsage:
    """What uses a flow: policies (all of them count) and pending requests."""

    policies: list[tuple[int, str]]
    policy_count: int
    pending: list[PendingRequest]
    pending_count: int

    @property
    def in_use(self) -> bool:
        return bool(self.policy_count or self.pending_count)

    @property
    def more_policies(self) -> int:
        return self.policy_count - len(self.policies)

    @property
    def more_pending(self) -> int:
        return self.pending_count - len(self.pending)


def flow_list() -> QuerySet[ApprovalFlow]:
    """Every flow with the columns of the table: one query for the rows, none per row."""
    return ApprovalFlow.objects.only(
        "id", "name", "description", "channel_email", "channel_sms", "enabled", "updated_at"
    )


def flow_for_panel(pk: int) -> ApprovalFlow | None:
    """One flow with its levels and their people and groups, or None."""
    people = Person.objects.order_by("name", "id")
    levels = ApprovalLevel.objects.order_by("position").prefetch_related(
        Prefetch("people", queryset=people),
        Prefetch("groups", queryset=Group.objects.order_by("name")),
        Prefetch("backup_people", queryset=people),
    )
    return (
        ApprovalFlow.objects.prefetch_related(Prefetch("levels", queryset=levels))
        .filter(pk=pk)
        .first()
    )


def flow_usage(flow: ApprovalFlow) -> FlowUsage:
    """The policies that name this flow and the requests still pending on it (a few of each)."""
    policies = flow.policies.order_by("name", "id").values_list("pk", "name")
    pending = flow.requests.filter(status=PENDING)
    examples = pending.order_by("requested_at", "id").values_list(
        "public_id", "requester_name", "connector_name", "requested_at"
    )[:REQUESTS_SHOWN]
    return FlowUsage(
        policies=list(policies[:POLICIES_SHOWN]),
        policy_count=flow.policies.count(),
        pending=[PendingRequest(*row) for row in examples],
        pending_count=pending.count(),
    )


def reachable_approver_count(*, people: Iterable[Person], groups: Iterable[Group]) -> int:
    """How many active people a level notifies: those named and the members of its groups."""
    person_ids = [person.pk for person in people]
    group_ids = [group.pk for group in groups]
    if not person_ids and not group_ids:
        return 0
    return (
        Person.objects.filter(status=Person.Status.ACTIVE)
        .filter(Q(pk__in=person_ids) | Q(groups__in=group_ids))
        .order_by()
        .values("pk")
        .distinct()
        .count()
    )

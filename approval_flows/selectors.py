"""Reads about approval flows."""

from __future__ import annotations

from django.db.models import Q

from approval_flows.models import ApprovalFlow, ApprovalLevel
from directory.models import Person


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

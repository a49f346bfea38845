"""Reads of the Users page: the lists, a person's panel (access, requests, decisions), a group's."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from django.db.models import Count, IntegerField, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.db.models import Value as V
from django.db.models.functions import Coalesce, Lower

from connectors.models import Tool
from directory.models import Group, Person
from policies.evaluation import Call, Snapshot, ToolDecision, evaluate
from policies.models import DecisionLog, Policy
from policies.snapshot import current_snapshot
from requests_app.models import AccessRequest

RECENT = 10


def person_list() -> QuerySet[Person]:
    """People with the columns the table shows (no joins)."""
    return Person.objects.only(
        "name", "email", "status", "deactivated_at", "mfa_enabled", "created_at"
    )


def _count(through: type, column: str) -> Coalesce:
    counts = (
        through.objects.filter(group_id=OuterRef("pk"))
        .order_by()
        .values("group_id")
        .annotate(n=Count("*"))
        .values("n")
    )
    return Coalesce(Subquery(counts, output_field=IntegerField()), V(0))


def group_list() -> QuerySet[Group]:
    """Groups with their member and policy counts, counted in SQL."""
    return Group.objects.annotate(
        member_count=_count(Group.members.through, "person_id"),
        policy_count=_count(Policy.groups.through, "policy_id"),
    )


def person_for_panel(pk: int) -> Person | None:
    """One person with their groups, or None."""
    groups = Prefetch("groups", queryset=Group.objects.only("id", "name").order_by("name"))
    return Person.objects.prefetch_related(groups).filter(pk=pk).first()


def person_policies(person: Person) -> list[Policy]:
    """Every policy that covers the person: all users, by name, or through a group."""
    group_ids = [group.pk for group in person.groups.all()]
    covers = Q(all_users=True) | Q(
        pk__in=Policy.users.through.objects.filter(person_id=person.pk).values("policy_id")
    )
    if group_ids:
        covers |= Q(
            pk__in=Policy.groups.through.objects.filter(group_id__in=group_ids).values("policy_id")
        )
    tools = Prefetch(
        "tools", queryset=Tool.objects.only("id", "key", "connector_id").order_by("key")
    )
    return list(
        Policy.objects.filter(covers)
        .select_related("connector")
        .prefetch_related(tools)
        .order_by("connector__name", "name", "id")
    )


@dataclass(frozen=True)
class ConnectorAccess:
    """What today's policies decide for each tool of one connector, for one person."""

    name: str
    slug: str
    enabled: bool
    tools: tuple[ToolDecision, ...]


def person_access(
    person: Person, policies: list[Policy], *, now: datetime
) -> list[ConnectorAccess]:
    """Per connector that a policy covering the person names: each tool's winning action.

    - Evaluated over the policy snapshot, without grants or step-up; a locked or deactivated
      person is evaluated as if active, so the panel says what unlocking would give back.
    """
    snapshot = current_snapshot()
    found = snapshot.find_person(person.email)
    if found is None:
        return []
    if found.locked or found.deactivated:
        active = replace(found, locked=False, deactivated=False)
        snapshot = Snapshot(
            version=snapshot.version,
            people_by_email={person.email.lower(): active},
            people_by_external_id={},
            connectors_by_slug=snapshot.connectors_by_slug,
            policies_by_connector=snapshot.policies_by_connector,
        )
    slugs = dict.fromkeys(policy.connector.slug for policy in policies)
    result = []
    for slug in slugs:
        connector = snapshot.connectors_by_slug.get(slug)
        if connector is None or not connector.tools_by_key:
            continue
        call = Call(user=person.email, connector=slug, tools=tuple(sorted(connector.tools_by_key)))
        decision = evaluate(snapshot, call, now=now)
        result.append(ConnectorAccess(connector.name, slug, connector.enabled, decision.tools))
    return result


def person_requests(person: Person) -> list[AccessRequest]:
    """The person's latest access requests (the requester index)."""
    return list(
        AccessRequest.objects.filter(requester=person)
        .only(
            "public_id", "connector_name", "first_tool_key", "tool_count", "status", "requested_at"
        )
        .order_by("-requested_at", "-id")[:RECENT]
    )


def person_decisions(person: Person) -> list[DecisionLog]:
    """The latest API decisions that named the person by email or external id, any case.

    - Read along the lower(user_ref), created_at index: an index scan per name, however many
      millions of decisions are logged.
    """
    refs = [person.email.lower()]
    if person.external_id:
        refs.append(person.external_id.lower())
    return list(
        DecisionLog.objects.annotate(ref=Lower("user_ref"))
        .filter(ref__in=refs)
        .only("created_at", "connector_slug", "tools", "decision", "reason_code", "agent")
        .order_by("-created_at")[:RECENT]
    )


def group_for_panel(pk: int) -> Group | None:
    """One group with its counts, or None."""
    return group_list().filter(pk=pk).first()


def group_members(group: Group) -> QuerySet[Person]:
    """The group's members, by name, for a paginator."""
    return group.members.only("name", "email", "status", "deactivated_at").order_by("name", "id")


def group_policies(group: Group) -> list[Policy]:
    """The policies that name the group."""
    return list(
        Policy.objects.filter(groups=group).select_related("connector").order_by("name", "id")
    )

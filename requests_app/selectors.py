"""Reads for the Requests page and the review panel, with what each template needs joined."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.db.models import Prefetch, QuerySet, prefetch_related_objects

from agenwork.roles import is_admin
from approval_flows.models import Notification
from approval_flows.selectors import flow_ids_for_approver
from directory.models import Group
from requests_app.models import AccessRequest, RequestEvent, RequestTool


def console_person(user: Any):
    """The directory person linked to this login, or None."""
    return getattr(user, "person", None) if user.is_authenticated else None


def approver_flow_ids(user: Any) -> list[int] | None:
    """None for an admin (every request); otherwise the flows this login may decide in."""
    if is_admin(user):
        return None
    person = console_person(user)
    if person is None or person.is_locked:
        return []
    return flow_ids_for_approver(person)


def requests_visible_to(user: Any, flow_ids: list[int] | None = None) -> QuerySet[AccessRequest]:
    """The requests a login may see: all for admins, those of their flows for approvers."""
    flow_ids = approver_flow_ids(user) if flow_ids is None and not is_admin(user) else flow_ids
    qs = AccessRequest.objects.all()
    if flow_ids is not None:
        qs = qs.filter(flow_id__in=flow_ids)
    return qs


def request_list(user: Any, flow_ids: list[int] | None) -> QuerySet[AccessRequest]:
    """Rows of the Requests table: every column is on the request row or its connector."""
    return (
        requests_visible_to(user, flow_ids)
        .select_related("connector")
        .only(
            "public_id",
            "requester_name",
            "requester_identifier",
            "connector_id",
            "connector__name",
            "connector__icon",
            "connector__slug",
            "connector_name",
            "first_tool_key",
            "tool_count",
            "tool_keys",
            "note",
            "status",
            "requested_at",
            "decided_at",
            "decided_by_name",
            "decided_via",
            "updated_at",
        )
    )


def _review_prefetches() -> list[Prefetch]:
    """What the review panel and the approver link page show beyond the request's own row."""
    return [
        Prefetch("requester__groups", queryset=Group.objects.only("id", "name")),
        Prefetch("tools", queryset=RequestTool.objects.select_related("tool").order_by("position")),
    ]


def request_for_panel(
    user: Any, public_id: UUID, flow_ids: list[int] | None = None
) -> AccessRequest | None:
    """One request with everything the review panel shows, or None if this login may not see it.

    - `flow_ids`: the login's approver flows when the caller already read them (saves a query).
    """
    return (
        requests_visible_to(user, flow_ids)
        .select_related("requester", "connector", "flow", "policy", "decided_by")
        .prefetch_related(
            *_review_prefetches(),
            Prefetch("events", queryset=RequestEvent.objects.order_by("created_at", "id")),
        )
        .filter(public_id=public_id)
        .first()
    )


def user_may_decide(
    user: Any, access_request: AccessRequest, flow_ids: list[int] | None = None
) -> tuple[bool, str]:
    """Whether this login may decide this request, and why not when it may not.

    - `flow_ids`: the login's approver flows when the caller already read them (saves a query).
    """
    person = console_person(user)
    if person is not None and person.pk == access_request.requester_id:
        return False, "Nobody decides their own request."
    if is_admin(user):
        return True, ""
    if person is None or person.is_locked:
        return False, "Your login is not linked to an active approver."
    flow_ids = flow_ids_for_approver(person) if flow_ids is None else flow_ids
    if access_request.flow_id not in flow_ids:
        return False, "You are not an approver of this request's flow."
    return True, ""


def request_notifications(access_request: AccessRequest) -> list[Notification]:
    """The messages queued about a request, oldest first, with their recipients (one query)."""
    return list(
        Notification.objects.filter(request_public_id=access_request.public_id)
        .select_related("recipient")
        .order_by("created_at", "id")
    )


def bulk_candidates(
    user: Any,
    flow_ids: list[int] | None,
    *,
    ids: list[UUID] | None,
    connector_slug: str = "",
    limit: int,
) -> tuple[list[AccessRequest], bool]:
    """The requests a bulk decision takes, oldest first, and whether more than `limit` matched.

    - `ids`: the ticked requests, whatever their status now (one decided meanwhile is reported).
    - Otherwise every pending request visible to this login, of one connector when given.
    """
    qs = (
        requests_visible_to(user, flow_ids)
        .select_related("connector")
        .order_by("requested_at", "id")
    )
    if ids is not None:
        qs = qs.filter(public_id__in=ids)
    else:
        qs = qs.filter(status=AccessRequest.Status.PENDING)
        if connector_slug:
            qs = qs.filter(connector__slug=connector_slug)
    rows = list(qs[: limit + 1])
    return rows[:limit], len(rows) > limit


def request_for_link(access_request: AccessRequest) -> AccessRequest:
    """Join what the approver link page shows to a request read through its link.

    - Safe to call again: what is already joined is not read twice, what a decision refreshed is.
    """
    prefetch_related_objects([access_request], *_review_prefetches())
    return access_request

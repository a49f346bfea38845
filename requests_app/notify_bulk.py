"""The sweep's bulk path for reminders: the outbox rows `notify.notify_reminder` writes, per batch.

- `notify_reminder` reads the approvers, the votes and the tools, inserts a link and an outbox
  row (and reads it back) and publishes a send task, for every message: about 8 ms a reminder.
  The sweep must claim 100,000 due reminders within a minute, so a batch reads approvers, votes
  and tools once, inserts its links and outbox rows with one statement each, and publishes one
  task that fans the sends out after commit.
- Who is reminded, by which channel, with what text, is `notify_reminder`'s rule; a test
  (tests/requests_app/test_sweep.py) checks that both write the same rows.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from functools import partial
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from agenwork.broker import publish_after_commit
from agenwork.crypto import hash_token, random_token
from agenwork.db import insert_skipping_conflicts
from approval_flows.models import ApprovalLevel, Notification
from connectors.models import Tool
from directory.models import Person
from requests_app import notify
from requests_app.links import DEFAULT_LIFETIME, link_url
from requests_app.models import AccessRequest, ApproverLink, RequestApproval, RequestTool

REMINDER = Notification.Occasion.REMINDER
# One task that fans a batch's sends out (requests_app.tasks imports this module: a name, not it).
HAND_OUT_TASK = "requests_app.tasks.hand_out_notifications"
EMAIL, SMS = Notification.Channel.EMAIL, Notification.Channel.SMS


def notify_reminders(items: Sequence[tuple[AccessRequest, int]]) -> dict[int, int]:
    """Queue reminder `sequence` for each (request, sequence); return how many per request."""
    requests = [access_request for access_request, _ in items if access_request.flow_id]
    approvers = _approvers({(r.flow_id, r.current_level) for r in requests})
    voted = _voted([r.pk for r in requests])
    tools = _tools([r.pk for r in requests])
    links: list[ApproverLink] = []
    rows: list[Notification] = []
    for access_request, sequence in items:
        if not access_request.flow_id:
            continue
        people = [
            person
            for person in approvers[(access_request.flow_id, access_request.current_level)]
            if person.pk != access_request.requester_id
            and person.pk not in voted[access_request.pk]
        ]
        context = _context(access_request, tools[access_request.pk])
        for person in people:
            for channel in notify.flow_channels(access_request.flow, person):
                link, row = _message(access_request, person, channel, sequence, context)
                links.append(link)
                rows.append(row)
    ApproverLink.objects.bulk_create(links)
    inserted = insert_skipping_conflicts(rows, returning=["id", "request_public_id"])
    if inserted:
        transaction.on_commit(partial(_hand_out, [pk for pk, _ in inserted]), robust=True)
    queued: dict[int, int] = defaultdict(int)
    by_public_id = {str(r.public_id): r.pk for r, _ in items}
    for _pk, public_id in inserted:
        queued[by_public_id[str(public_id)]] += 1
    return {access_request.pk: queued[access_request.pk] for access_request, _ in items}


def _approvers(keys: set[tuple[int, int]]) -> dict[tuple[int, int], list[Person]]:
    """`notify.level_approvers` of levels 1..level, once per (flow, level), requester kept."""
    found = {}
    for flow_id, level in keys:
        levels = ApprovalLevel.objects.filter(flow_id=flow_id, position__in=range(1, level + 1))
        found[(flow_id, level)] = list(
            Person.objects.filter(
                Q(approver_levels__in=levels) | Q(groups__approver_levels__in=levels)
            )
            .filter(status=Person.Status.ACTIVE)
            .distinct()
            .order_by("name", "id")
        )
    return found


def _voted(request_ids: list[int]) -> dict[int, set[int]]:
    voted: dict[int, set[int]] = defaultdict(set)
    pairs = RequestApproval.objects.filter(request_id__in=request_ids)
    for request_id, person_id in pairs.values_list("request_id", "person_id"):
        voted[request_id].add(person_id)
    return voted


def _tools(request_ids: list[int]) -> dict[int, list[RequestTool]]:
    """Each request's tools in order; a tool shared by many requests is read once."""
    request_tools = list(RequestTool.objects.filter(request_id__in=request_ids))
    shared = Tool.objects.in_bulk({request_tool.tool_id for request_tool in request_tools})
    tools: dict[int, list[RequestTool]] = defaultdict(list)
    for request_tool in request_tools:
        request_tool.tool = shared[request_tool.tool_id]
        tools[request_tool.request_id].append(request_tool)
    return tools


def _context(access_request: AccessRequest, tools: list[RequestTool]) -> dict[str, Any]:
    """`notify.request_context` from tools read for the whole batch (a pending request)."""
    first = tools[0].tool.key if tools else access_request.first_tool_key
    return {
        "req": access_request,
        "occasion": REMINDER,
        "requester_name": access_request.requester_name,
        "requester_email": access_request.requester_identifier,
        "connector_name": access_request.connector_name,
        "tools": tools,
        "first_tool": notify.tool_label(access_request, first),
        "extra_tools": max(access_request.tool_count - 1, 0),
        "requested_at": timezone.localtime(access_request.requested_at).strftime(
            "%d %b %Y %H:%M %Z"
        ),
        "code": access_request.sms_code,
        "status": access_request.get_status_display(),
        "decided_by": access_request.decided_by_name or "the system",
        "decided_via": "",
        "decided_at": "",
        "grant_expires_at": "",
    }


def _message(
    access_request: AccessRequest,
    person: Person,
    channel: str,
    sequence: int,
    context: dict[str, Any],
) -> tuple[ApproverLink, Notification]:
    """A fresh link for this person and channel, and the rendered outbox row carrying it."""
    token = random_token(32)
    expires_at = access_request.timeout_at or timezone.now() + DEFAULT_LIFETIME
    link = ApproverLink(
        request=access_request,
        person=person,
        channel=channel,
        token_hash=hash_token(token),
        expires_at=expires_at,
    )
    personal = {**context, "person": person, "link": link_url(token)}
    if channel == SMS:
        address = notify.e164(person.phone)
        texts = {"body_text": notify.sms_text("sms/approval_request.txt", personal)}
    else:
        address, texts = person.email, notify.email_texts("approval_request", personal)
    row = Notification(
        request_public_id=access_request.public_id,
        recipient=person,
        address=address,
        channel=channel,
        occasion=REMINDER,
        sequence=sequence,
        **texts,
    )
    return link, row


def _hand_out(notification_ids: list[int]) -> None:
    publish_after_commit(HAND_OUT_TASK, notification_ids)

"""Decisions made by people: in the console (one request from the review panel, or several at
once), or without a login through an approver link or an SMS reply.

An admin's decision is final (`request_approve` / `request_deny`); an approver's is a vote
(`request_vote`: the flow may need several approvals). Each request is decided on its own, in
its own transaction, with its own event, messages and webhook, so a race is settled per request.
`person_decide` is the one place where a person reached by a link or an SMS reply decides, so the
voting rules apply to both channels at once.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from agenwork.roles import is_admin
from directory.models import Person
from requests_app.links import LinkSpent, link_spend
from requests_app.models import AccessRequest, ApproverLink, RequestApproval
from requests_app.outcomes import Actor, RequestAlreadyDecided
from requests_app.selectors import console_person, user_may_decide
from requests_app.services import request_approve, request_deny
from requests_app.voting import Vote, VoteRefused, request_vote

# How many requests one bulk decision takes: each is its own transaction with its own messages,
# so a larger batch would keep the admin's browser waiting (the rest stay selected by filter).
BULK_LIMIT = 500


def request_decide(
    *,
    access_request: AccessRequest,
    user: Any,
    approve: bool,
    tool_ids: Iterable[int] | None = None,
    duration: timedelta | None = None,
    comment: str = "",
    response_ms: int | None = None,
) -> AccessRequest:
    """Decide a request as this console login: final for an admin, a vote for an approver.

    - Raises RequestAlreadyDecided when someone else decided first, VoteRefused when an approver
      may not vote (their own request, already voted, not at this level).
    """
    actor = dataclasses.replace(Actor.for_user(user), response_ms=response_ms)
    if not is_admin(user):
        return request_vote(
            access_request=access_request,
            person=console_person(user),
            vote=Vote.APPROVE if approve else Vote.DENY,
            actor=actor,
            tool_ids=tool_ids if approve else None,
            duration=duration if approve else None,
            comment=comment,
        )
    if approve:
        return request_approve(
            access_request=access_request,
            actor=actor,
            tool_ids=tool_ids,
            duration=duration,
            comment=comment,
        )
    return request_deny(access_request=access_request, actor=actor, comment=comment)


@transaction.atomic
def link_decide(
    *,
    link: ApproverLink,
    approve: bool,
    tool_ids: Iterable[int] | None = None,
    duration: timedelta | None = None,
    comment: str = "",
    response_ms: int | None = None,
) -> AccessRequest:
    """Spend the link and decide through it; nothing changes when either step loses a race.

    - `tool_ids` (None: all of them) and `duration` (None: this call only) shape an approval.
    """
    if not link_spend(link):
        raise LinkSpent
    return person_decide(
        access_request=link.request,
        person=link.person,
        approve=approve,
        channel=link.channel,
        tool_ids=tool_ids,
        duration=duration,
        comment=comment,
        response_ms=response_ms,
    )


@transaction.atomic
def person_decide(
    *,
    access_request: AccessRequest,
    person: Person,
    approve: bool,
    channel: str,
    tool_ids: Iterable[int] | None = None,
    duration: timedelta | None = None,
    comment: str = "",
    response_ms: int | None = None,
) -> AccessRequest:
    """Approve or deny as this person (no login); raises RequestAlreadyDecided when too late.

    - An approval covers `tool_ids` (None: every tool) for `duration` (None: this call only).
    - Every other link of this person on this request is spent with the decision.
    """
    actor = Actor(name=person.name, channel=channel, user=None, response_ms=response_ms)
    # A vote: the flow may need several approvals (requests_app.voting).
    vote = RequestApproval.Vote.APPROVE if approve else RequestApproval.Vote.DENY
    request_vote(
        access_request=access_request,
        person=person,
        vote=vote,
        actor=actor,
        tool_ids=tool_ids if approve else None,
        duration=duration if approve else None,
        comment=comment,
    )
    ApproverLink.objects.filter(request=access_request, person=person, used_at__isnull=True).update(
        used_at=timezone.now()
    )
    return access_request


@dataclass
class BulkOutcome:
    """What a decision on several requests did, request by request."""

    decided: list[AccessRequest] = field(default_factory=list)
    # An approver's approval counted, but the flow needs more approvals.
    recorded: list[AccessRequest] = field(default_factory=list)
    # (request as it is now, who decided it first)
    already_decided: list[tuple[AccessRequest, str]] = field(default_factory=list)
    # (request, why this login may not decide it)
    refused: list[tuple[AccessRequest, str]] = field(default_factory=list)


def requests_decide_bulk(
    *,
    requests: Sequence[AccessRequest],
    user: Any,
    approve: bool,
    flow_ids: list[int] | None,
    duration: timedelta | None = None,
    comment: str = "",
) -> BulkOutcome:
    """Approve (every tool) or deny each request in turn, each one exactly as a single decision.

    - `flow_ids`: the login's approver flows (None for an admin), read once by the caller.
    - Nothing is decided twice: a request decided meanwhile is reported with its winner.
    """
    outcome = BulkOutcome()
    for access_request in requests[:BULK_LIMIT]:
        may_decide, why_not = user_may_decide(user, access_request, flow_ids)
        if not may_decide:
            outcome.refused.append((access_request, why_not))
            continue
        try:
            request_decide(
                access_request=access_request,
                user=user,
                approve=approve,
                duration=duration,
                comment=comment,
            )
        except RequestAlreadyDecided as exc:
            outcome.already_decided.append((exc.access_request, str(exc)))
        except VoteRefused as exc:
            outcome.refused.append((access_request, str(exc)))
        else:
            done = outcome.recorded if access_request.is_pending else outcome.decided
            done.append(access_request)
    return outcome

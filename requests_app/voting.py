"""Approvers' votes: N approvals approve a request, any single deny denies it.

Admins deciding in the console are final and call `request_approve` / `request_deny` directly;
approvers (web panel, email and SMS links, SMS replies) vote through `request_vote`.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

from django.db import transaction
from django.db.models import Q

from approval_flows.models import ApprovalLevel
from directory.models import Person
from requests_app.models import AccessRequest, RequestApproval, RequestEvent
from requests_app.outcomes import Actor, RequestAlreadyDecided, describe_decision
from requests_app.services import record_event, request_approve, request_deny

Vote = RequestApproval.Vote


class VoteRefused(Exception):
    """This person may not vote on this request (not an approver, their own request, locked)."""


class AlreadyVoted(VoteRefused):
    """This person has already voted on this request; a vote is never changed."""


def vote_refusal(access_request: AccessRequest, person: Person) -> str:
    """Why this person may not vote on this request, or "" when they may.

    - Eligible: named in, a member of a group of, or a backup of a level at or below the
      request's current level (escalation widens the circle, never narrows it).
    """
    if person.pk == access_request.requester_id:
        return "Nobody decides their own request."
    if person.is_locked:
        return "Your account is locked."
    if access_request.flow_id is None:
        return "This request has no approval flow; only an admin decides it."
    eligible = (
        ApprovalLevel.objects.filter(
            flow_id=access_request.flow_id, position__lte=access_request.current_level
        )
        .filter(Q(people=person) | Q(groups__members=person) | Q(backup_people=person))
        .exists()
    )
    return "" if eligible else "You are not an approver of this request at its current level."


def approval_progress(access_request: AccessRequest) -> str:
    """How far the approvals got, such as "1 of 2 approvals"."""
    approvals = RequestApproval.objects.filter(request=access_request, vote=Vote.APPROVE).count()
    needed = access_request.flow.min_approvals if access_request.flow_id else 1
    return f"{approvals} of {needed} approval{'' if needed == 1 else 's'}"


def vote_summary(access_request: AccessRequest) -> str:
    """What a voter is told afterwards: who decided, or how far the approvals got."""
    if access_request.is_pending:
        return f"Your approval is recorded: {approval_progress(access_request)} so far"
    return describe_decision(access_request)


@transaction.atomic
def request_vote(
    *,
    access_request: AccessRequest,
    person: Person,
    vote: str,
    actor: Actor,
    tool_ids: Iterable[int] | None = None,
    duration: timedelta | None = None,
    comment: str = "",
) -> AccessRequest:
    """Record one approver's vote and decide the request when the vote settles it.

    - The request row is locked first, so concurrent votes are counted one after the other and
      the vote that reaches `min_approvals` is the one that approves (exactly once).
    - A vote on a decided request raises RequestAlreadyDecided naming the winner; a second vote
      by the same person raises AlreadyVoted; an ineligible person gets VoteRefused.
    - `tool_ids`, `duration` and `comment` apply when this vote approves the request.
    """
    if vote not in Vote.values:
        raise ValueError(f"unknown vote {vote!r}")
    locked = AccessRequest.objects.select_related("flow").select_for_update(of=("self",))
    locked = locked.get(pk=access_request.pk)
    refusal = vote_refusal(locked, person)
    if refusal:
        raise VoteRefused(refusal)
    if not locked.is_pending:
        raise RequestAlreadyDecided(locked)
    if RequestApproval.objects.filter(request=locked, person=person).exists():
        raise AlreadyVoted("You have already voted on this request.")
    RequestApproval.objects.create(request=locked, person=person, vote=vote, channel=actor.channel)
    _settle(locked, actor, vote, tool_ids=tool_ids, duration=duration, comment=comment)
    if access_request is not locked:
        access_request.refresh_from_db()
    return access_request


def _settle(
    locked: AccessRequest,
    actor: Actor,
    vote: str,
    *,
    tool_ids: Iterable[int] | None,
    duration: timedelta | None,
    comment: str,
) -> AccessRequest:
    """Deny on a deny, approve on the N-th approval, otherwise record the partial approval."""
    if vote == Vote.DENY:
        return request_deny(access_request=locked, actor=actor, comment=comment)
    approvals = RequestApproval.objects.filter(request=locked, vote=Vote.APPROVE).count()
    needed = locked.flow.min_approvals
    if approvals >= needed:
        return request_approve(
            access_request=locked,
            actor=actor,
            tool_ids=tool_ids,
            duration=duration,
            comment=comment,
        )
    record_event(
        locked,
        RequestEvent.Kind.VOTED,
        actor,
        approval_progress(locked),
        {"vote": Vote.APPROVE, "approvals": approvals, "needed": needed, "comment": comment},
    )
    return locked

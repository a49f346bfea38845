"""Approver links: single-use, hashed, expiring tokens that let one person decide one request.

- Only `hash_token(token)` is stored; the raw token exists only in the message that carries it.
- A link decides through `requests_app.deciding.link_decide` (a vote); this module only issues,
  resolves and spends links, so the messages that carry them need nothing from the transitions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from agenwork.crypto import hash_token, random_token
from approval_flows.selectors import person_may_approve
from directory.models import Person
from requests_app.models import AccessRequest, ApproverLink, RequestApproval
from requests_app.outcomes import describe_decision

DEFAULT_LIFETIME = timedelta(days=7)
# token_urlsafe(32) gives 43 characters; anything else was never issued, so no query is run.
TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{32,64}")


class Problem:
    """Why a link cannot decide (the values of LinkCheck.problem)."""

    UNKNOWN = "unknown"
    EXPIRED = "expired"
    USED = "used"
    DECIDED = "decided"
    NOT_ALLOWED = "not_allowed"


@dataclass(frozen=True)
class LinkCheck:
    """What a presented token leads to, and the problem that stops it from deciding, if any."""

    link: ApproverLink | None
    access_request: AccessRequest | None
    problem: str | None = None
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.problem is None


def link_create(*, access_request: AccessRequest, person: Person, channel: str) -> str:
    """Issue a link for this person and channel; return the raw token (only its hash is kept)."""
    token = random_token(32)
    ApproverLink.objects.create(
        request=access_request,
        person=person,
        channel=channel,
        token_hash=hash_token(token),
        expires_at=access_request.timeout_at or timezone.now() + DEFAULT_LIFETIME,
    )
    return token


def link_url(token: str) -> str:
    """The absolute address of a link, as it goes into an email or an SMS."""
    return f"{settings.SITE_URL}/a/{token}/"


def link_resolve(token: str) -> LinkCheck:
    """Find the link of a presented token and tell whether it may still decide its request."""
    if not TOKEN_SHAPE.fullmatch(token):
        return LinkCheck(None, None, Problem.UNKNOWN)
    link = (
        ApproverLink.objects.select_related(
            "person", "request", "request__flow", "request__connector", "request__requester"
        )
        .filter(token_hash=hash_token(token))
        .first()
    )
    if link is None:
        return LinkCheck(None, None, Problem.UNKNOWN)
    return LinkCheck(link, link.request, *_problem(link))


def _problem(link: ApproverLink) -> tuple[str | None, str]:
    """The first reason why this link cannot decide now.

    - Someone who may no longer decide is told only that: not who decided, nor when.
    """
    access_request = link.request
    why_not = person_may_not_decide(link.person, access_request)
    if why_not:
        return Problem.NOT_ALLOWED, why_not
    decision = "" if access_request.is_pending else describe_decision(access_request)
    if link.used_at is not None:
        return Problem.USED, decision
    if not access_request.is_pending:
        return Problem.DECIDED, decision
    if link.expires_at <= timezone.now():
        return Problem.EXPIRED, ""
    if RequestApproval.objects.filter(request=access_request, person=link.person).exists():
        return Problem.NOT_ALLOWED, "You have already voted on this request."
    return None, ""


def person_may_not_decide(person: Person, access_request: AccessRequest) -> str:
    """Why this person may not decide this request, or "" when they may."""
    if person.pk == access_request.requester_id:
        return "Nobody decides their own request."
    if person.is_locked:
        return "Your account is locked."
    flow = access_request.flow
    if flow is None or not person_may_approve(person, flow):
        return "You are no longer an approver of this request."
    return ""


def link_spend(link: ApproverLink) -> bool:
    """Mark a link used; False when it already was (a reused or double-submitted link)."""
    now = timezone.now()
    spent = ApproverLink.objects.filter(pk=link.pk, used_at__isnull=True).update(used_at=now)
    if spent:
        link.used_at = now
    return bool(spent)


class LinkSpent(Exception):
    """The link was used between its check and its decision (a double submit)."""

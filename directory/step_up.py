"""Step-up: a person signs in again before their agents may run a Step-up tool.

- The MCP gateway asks for one (`step_up_challenge_create`) when the engine answers step_up:
  a link to `/step-up/<token>/`, hashed, short-lived (STEP_UP_LINK_SECONDS), used once. It
  reads `latest_step_up_at` to decide the same call again: within STEP_UP_WINDOW_SECONDS of the
  person's latest step-up, the engine allows it (`step_up_verified`).
- The link's page sends the person to the identity provider with a fresh login
  (`prompt=login`, `max_age=0`); without single sign-on, they type their console password.
- A step-up is recorded only for the challenge's own person, signed in as themselves, with an
  `auth_time` no older than the moment they left for the provider (less STEP_UP_CLOCK_SKEW),
  on a challenge neither used nor expired. Each start, step-up and refusal is audited; a
  refusal records no step-up.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from agenwork.crypto import hash_token, random_token
from audit.models import AuditEntry
from audit.services import audit_record
from directory.models import Person, StepUp, StepUpChallenge

# A provider's clock slightly behind ours still counts as a fresh login.
STEP_UP_CLOCK_SKEW = timedelta(seconds=60)
# token_urlsafe(32) gives 43 characters; anything else was never issued, so no query is run.
TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{32,64}")
OBJECT_TYPE = "step_up"


@dataclass(frozen=True)
class StepUpRefusal:
    """What the step-up page says for one reason, and its HTTP status."""

    status: int
    title: str
    message: str


AGAIN = "Ask your agent to repeat the call: it will give you a new link."
REFUSALS: dict[str, StepUpRefusal] = {
    "wrong_person": StepUpRefusal(
        403,
        "This step-up is somebody else's",
        "This link was made for another person's agent. Sign out and open it signed in as "
        "that person, or ignore it.",
    ),
    "expired": StepUpRefusal(
        410, "This step-up link has expired", f"A step-up link works a few minutes. {AGAIN}"
    ),
    "used": StepUpRefusal(410, "This step-up link was already used", AGAIN),
    "stale_auth_time": StepUpRefusal(
        400,
        "Your identity provider did not sign you in again",
        "Its answer shows an earlier sign-in, not a fresh one, so it does not count as a "
        "step-up. Open the link again and sign in at the provider when it asks.",
    ),
    "wrong_subject": StepUpRefusal(
        403,
        "You signed in as somebody else",
        "At the identity provider you signed in as another person than the one this step-up "
        "is for. Open the link again and sign in as yourself.",
    ),
    "bad_password": StepUpRefusal(400, "Wrong password", "That is not your console password."),
}


def step_up_window() -> timedelta:
    """How long a step-up lets Step-up tools through (STEP_UP_WINDOW_SECONDS)."""
    return timedelta(seconds=settings.STEP_UP_WINDOW_SECONDS)


def step_up_challenge_create(*, person_id: int, tool_key: str, agent: str) -> str:
    """A challenge for this person's call; returns the link's raw token (only its hash is kept)."""
    token = random_token(32)
    now = timezone.now()
    StepUpChallenge.objects.create(
        person_id=person_id,
        token_hash=hash_token(token),
        tool_key=tool_key[:200],
        agent=agent[:200],
        created_at=now,
        expires_at=now + timedelta(seconds=settings.STEP_UP_LINK_SECONDS),
    )
    return token


def step_up_url(token: str) -> str:
    """The absolute address of a step-up link, as the gateway gives it to the agent."""
    return settings.SITE_URL + reverse("step_up:page", args=[token])


def challenge_find(token: str) -> StepUpChallenge | None:
    """The challenge of a presented token, with its person; None for one never issued."""
    if not TOKEN_SHAPE.fullmatch(token):
        return None
    return (
        StepUpChallenge.objects.select_related("person", "step_up")
        .filter(token_hash=hash_token(token))
        .first()
    )


def challenge_problem(challenge: StepUpChallenge, *, now: datetime | None = None) -> str | None:
    """Why this challenge can no longer be met ("used", "expired"), or None."""
    if challenge.completed_at is not None:
        return "used"
    if challenge.expires_at <= (now or timezone.now()):
        return "expired"
    return None


def latest_step_up_at(person_id: int) -> datetime | None:
    """When this person last stepped up (the provider's auth_time), if ever. One query."""
    return (
        StepUp.objects.filter(person_id=person_id)
        .order_by("-authenticated_at")
        .values_list("authenticated_at", flat=True)
        .first()
    )


def auth_time_is_fresh(auth_time: Any, *, started_at: datetime, now: datetime) -> bool:
    """Whether the provider's `auth_time` (seconds since the epoch) is a login made after the
    step-up started, allowing STEP_UP_CLOCK_SKEW either way."""
    at = auth_time_of(auth_time)
    if at is None:
        return False
    return started_at - STEP_UP_CLOCK_SKEW <= at <= now + STEP_UP_CLOCK_SKEW


def auth_time_of(value: Any) -> datetime | None:
    """The ID token's `auth_time` as an aware datetime; None when missing or not a number."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        return datetime.fromtimestamp(value, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None


def step_up_start(*, challenge: StepUpChallenge, user: Any, method: str) -> datetime:
    """Mark that the person left for the provider (or typed their password) now; audited.

    - Raises StepUpRefused when the challenge was used or expired meanwhile.
    """
    now = timezone.now()
    live = StepUpChallenge.objects.filter(
        pk=challenge.pk, completed_at__isnull=True, expires_at__gt=now
    )
    if not live.update(started_at=now):
        raise StepUpRefused(challenge_problem(_reread(challenge), now=now) or "used")
    challenge.started_at = now
    _audit(challenge, user, AuditEntry.Action.STEP_UP_STARTED, {"method": method}, method)
    return now


def step_up_complete(
    *,
    challenge: StepUpChallenge,
    user: Any,
    method: str,
    authenticated_at: datetime,
    acr: str = "",
    amr: list[str] | None = None,
) -> StepUp:
    """Record the person's step-up and spend the challenge, in one transaction; audited.

    - The challenge is spent by a conditional update: of two answers at once, one records.
    - Raises StepUpRefused ("used", "expired") and records nothing otherwise.
    """
    now = timezone.now()
    with transaction.atomic():
        live = StepUpChallenge.objects.filter(
            pk=challenge.pk, completed_at__isnull=True, expires_at__gt=now
        )
        if not live.update(completed_at=now):
            raise StepUpRefused(challenge_problem(_reread(challenge), now=now) or "used")
        step_up = StepUp.objects.create(
            person_id=challenge.person_id,
            challenge=challenge,
            method=method,
            authenticated_at=authenticated_at,
            acr=acr[:200],
            amr=amr or [],
            created_at=now,
        )
        after = {
            "method": method,
            "authenticated_at": authenticated_at.isoformat(),
            "acr": acr,
            "amr": amr or [],
            "valid_until": (authenticated_at + step_up_window()).isoformat(),
        }
        _audit(challenge, user, AuditEntry.Action.STEPPED_UP, after, method)
    challenge.completed_at = now
    return step_up


def step_up_refuse(
    *, challenge: StepUpChallenge, user: Any, reason: str, method: str, detail: str = ""
) -> None:
    """Record a refused step-up: why (a key of REFUSALS), and what else is worth knowing."""
    after = {"reason": reason, "method": method, "detail": detail[:200]}
    _audit(challenge, user, AuditEntry.Action.STEP_UP_REFUSED, after, method)


class StepUpRefused(Exception):
    """The step-up cannot be recorded; `reason` is a key of REFUSALS."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _reread(challenge: StepUpChallenge) -> StepUpChallenge:
    return StepUpChallenge.objects.get(pk=challenge.pk)


def _audit(
    challenge: StepUpChallenge, user: Any, action: str, after: dict[str, Any], channel: str
) -> None:
    person: Person = challenge.person
    audit_record(
        actor=user,
        action=action,
        object_type=OBJECT_TYPE,
        object_id=challenge.pk,
        object_repr=f"{person.name} for {challenge.tool_key or 'a call'}",
        after={"person": person.email, "tool": challenge.tool_key, **after},
        channel=channel,
    )

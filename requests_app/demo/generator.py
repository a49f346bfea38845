"""Rows of generated access requests: many people, connectors, tools, dates and outcomes.

- Every request goes through the "Sales approvals" flow, so its approvers see it; calendar
  requests name the Request approval policy that routes them there.
- Pending requests are younger than the flow's 24 h timeout; decided ones spread over 90 days,
  with decision, tool statuses and events shaped as the services in requests_app would write them.
- Pure Python: the generator reads no database, so it can run beside the writer.
"""

from __future__ import annotations

import json
import math
import random
import uuid
from bisect import bisect
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from requests_app.demo import names
from requests_app.demo.people import PersonRef
from requests_app.demo.writers import Batch
from requests_app.models import AccessRequest, Channel, RequestEvent, RequestTool
from requests_app.services import GRANT_DURATIONS, duration_label

GENERATED_PREFIX = "demo:"
S, K, T = AccessRequest.Status, RequestEvent.Kind, RequestTool.Status
PEOPLE_CHANNELS = frozenset({Channel.WEB, Channel.EMAIL, Channel.SMS})
STATUSES = (S.PENDING, S.APPROVED, S.DENIED, S.AUTO_APPROVED, S.EXPIRED, S.CANCELLED)
STATUS_CUM = (15, 60, 77, 89, 94, 100)  # 15 % pending, 45 % approved, 17 % denied…
TOOL_COUNT_CUM = (50, 80, 95, 100)  # 1, 2, 3 or 4 tools
# Requests cluster in office hours (UTC).
HOUR_WEIGHTS = (1, 1, 1, 1, 1, 2, 4, 8, 12, 14, 14, 12, 10, 12, 14, 13, 11, 8, 5, 3, 2, 2, 1, 1)
HOUR_CUM = tuple(sum(HOUR_WEIGHTS[: i + 1]) for i in range(24))
TOOL_STATUS = {
    S.PENDING: T.PENDING,
    S.APPROVED: T.APPROVED,
    S.AUTO_APPROVED: T.APPROVED,
    S.DENIED: T.DENIED,
    S.EXPIRED: T.DENIED,
    S.CANCELLED: T.DENIED,
}
DURATIONS = [d for d in GRANT_DURATIONS.values() if d]
HOUR = timedelta(hours=1)
# As the sweep records the first reminder: Dana, the one Security approver, by email and SMS.
REMINDER_DATA = json.dumps({"sequence": 1, "queued": 2})


@dataclass(frozen=True)
class ConnectorRef:
    """A connector as generated requests use it."""

    id: int
    slug: str
    name: str
    tools: tuple[tuple[int, str], ...]
    requesters: tuple[PersonRef, ...]
    policy_id: int | None
    weight: int


@dataclass(frozen=True)
class Decider:
    """A console login that decides generated requests, and the channels it uses."""

    user_id: int
    name: str
    channels: tuple[str, ...]


@dataclass
class Decision:
    """How a generated request left pending (or did not)."""

    at: datetime | None = None
    by_id: int | None = None
    by_name: str = ""
    via: str = ""
    comment: str = ""
    grant_expires_at: datetime | None = None
    approved_positions: frozenset[int] | None = None
    event: tuple[str, str, str] | None = None  # kind, message, data (JSON)


class RequestGenerator:
    """Builds batches of request, tool and event rows from one seeded random stream."""

    def __init__(
        self,
        *,
        connectors: list[ConnectorRef],
        deciders: list[Decider],
        flow_id: int,
        timeout: timedelta,
        now: datetime,
        seed: int | str,
    ) -> None:
        self.rng = random.Random(seed)
        self.connectors = connectors
        self.connector_cum = _cumulative([c.weight for c in connectors])
        self.deciders = deciders
        self.flow_id = flow_id
        self.timeout = timeout
        # Decisions come before the timeout; decided requests are old enough to be over.
        self.window = max(int(timeout.total_seconds() * 0.95), 180)
        self.min_age_days = 1 + math.ceil(timeout / timedelta(days=1))
        self.now = now.astimezone(UTC).replace(tzinfo=None)  # naive UTC: see writers
        self.midnight = self.now.replace(hour=0, minute=0, second=0, microsecond=0)
        self.notes = {c.slug: _notes(c.slug) for c in connectors}
        self.arguments = {c.slug: _arguments_pool(c.slug, self.rng, self.now) for c in connectors}

    def batch(self, ids: list[int]) -> Batch:
        """One batch of generated requests with the given (reserved) ids."""
        batch = Batch()
        for request_id in ids:
            self._add_request(batch, request_id)
        return batch

    def _add_request(self, batch: Batch, request_id: int) -> None:
        rng = self.rng
        connector = _pick(rng, self.connectors, self.connector_cum)
        count = min(len(connector.tools), _pick(rng, (1, 2, 3, 4), TOOL_COUNT_CUM))
        tools = rng.sample(connector.tools, count)
        person = rng.choice(connector.requesters)
        status = _pick(rng, STATUSES, STATUS_CUM)
        requested_at = self._requested_at(status)
        decision = self._decide(status, requested_at, count)
        reminded_at = requested_at + HOUR
        last_seen = decision.at or self.now
        reminded = reminded_at < last_seen
        batch.requests.append(
            self._request_row(request_id, connector, person, tools, status, requested_at)
            + _decision_columns(decision)
            + self._deadline_columns(status, requested_at, reminded, decision)
        )
        tool_rows = [
            (request_id, tool_id, position, _tool_status(status, decision, position))
            for position, (tool_id, _key) in enumerate(tools)
        ]
        batch.tools.extend(tool_rows)
        if decision.event is not None and decision.event[0] == K.APPROVED:
            approved = sorted(row[1] for row in tool_rows if row[3] == T.APPROVED)
            data = json.dumps({"approved_tool_ids": approved, "comment": decision.comment})
            decision.event = (K.APPROVED, decision.event[1], data)
        _add_events(batch.events, request_id, person, requested_at, reminded, decision)

    def _requested_at(self, status: str) -> datetime:
        rng = self.rng
        if status == S.PENDING:
            # Younger than the timeout, so the sweep has not decided it yet.
            return self.now - timedelta(seconds=rng.randrange(120, self.window))
        hour = _pick(rng, range(24), HOUR_CUM)
        return self.midnight + timedelta(
            days=-rng.randrange(self.min_age_days, 91), seconds=hour * 3600 + rng.randrange(3600)
        )

    def _request_row(
        self,
        request_id: int,
        connector: ConnectorRef,
        person: PersonRef,
        tools: list[tuple[int, str]],
        status: str,
        requested_at: datetime,
    ) -> tuple[Any, ...]:
        rng = self.rng
        public_id = uuid.uuid4()
        note = rng.choice(self.notes[connector.slug]) if rng.random() < 0.85 else ""
        arguments = rng.choice(self.arguments[connector.slug]) if rng.random() < 0.35 else None
        return (
            request_id, public_id, person.id, person.name, person.email, connector.id,
            connector.name, tools[0][1], len(tools), note, rng.choice(names.AGENTS), arguments,
            GENERATED_PREFIX + public_id.hex, status, connector.policy_id, self.flow_id,
            requested_at,
        )  # fmt: skip

    def _deadline_columns(
        self, status: str, requested_at: datetime, reminded: bool, decision: Decision
    ) -> tuple[Any, ...]:
        """current_level … updated_at, as request_create and the transitions leave them."""
        reminded_at = requested_at + HOUR
        updated_at = decision.at or (reminded_at if reminded else requested_at)
        if status != S.PENDING:
            return (1, int(reminded), None, None, None, updated_at)
        next_reminder = None if reminded else reminded_at
        return (1, int(reminded), next_reminder, None, requested_at + self.timeout, updated_at)

    def _decide(self, status: str, requested_at: datetime, tool_count: int) -> Decision:
        if status == S.PENDING:
            return Decision()
        if status in (S.AUTO_APPROVED, S.EXPIRED):
            kind = K.AUTO_APPROVED if status == S.AUTO_APPROVED else K.EXPIRED
            message = "Nobody decided before the timeout"
            return Decision(
                at=requested_at + self.timeout,
                by_name=names.TIMEOUT_ACTOR,
                via=Channel.TIMEOUT,
                event=(kind, message, "{}"),
            )
        if status == S.CANCELLED:
            delay = timedelta(seconds=self.rng.randrange(60, min(3 * 3600, self.window)))
            return Decision(
                at=requested_at + delay,
                by_name=names.GATEWAY_ACTOR,
                via=Channel.API,
                event=(K.CANCELLED, "Cancelled", "{}"),
            )
        if status == S.DENIED:
            return self._deny(requested_at)
        return self._approve(requested_at, tool_count)

    def _human(self, requested_at: datetime) -> Decision:
        """Who decided and when: mostly within a couple of hours, always before the timeout."""
        rng = self.rng
        decider = self.deciders[0] if rng.random() < 0.8 else rng.choice(self.deciders)
        seconds = min(int(rng.expovariate(1 / 5400)) + 30, self.window)
        return Decision(
            at=requested_at + timedelta(seconds=seconds),
            by_id=decider.user_id,
            by_name=decider.name,
            via=rng.choice(decider.channels),
        )

    def _deny(self, requested_at: datetime) -> Decision:
        decision = self._human(requested_at)
        if self.rng.random() < 0.5:
            decision.comment = self.rng.choice(names.DENY_COMMENTS)
        decision.event = (K.DENIED, "Denied", json.dumps({"comment": decision.comment}))
        return decision

    def _approve(self, requested_at: datetime, tool_count: int) -> Decision:
        rng = self.rng
        decision = self._human(requested_at)
        positions = set(range(tool_count))
        if tool_count > 1 and rng.random() < 0.15:
            positions = set(rng.sample(range(tool_count), rng.randrange(1, tool_count)))
        decision.approved_positions = frozenset(positions)
        if rng.random() < 0.2:
            decision.comment = rng.choice(names.APPROVE_COMMENTS)
        duration = rng.choice(DURATIONS) if rng.random() < 0.3 else None
        if duration is not None and decision.at is not None:
            decision.grant_expires_at = decision.at + duration
        partial = len(positions) < tool_count
        message = "Approved some tools, denied the others" if partial else "Approved"
        message += f" for {duration_label(duration)}" if duration else " once"
        # The data (approved tool ids) is filled in once the tools are drawn.
        decision.event = (K.APPROVED, message, "")
        return decision


def _add_events(
    events: list[tuple[Any, ...]],
    request_id: int,
    person: PersonRef,
    requested_at: datetime,
    reminded: bool,
    decision: Decision,
) -> None:
    """The request's history: created, the reminder if one was due, the decision."""
    events.append(
        (request_id, K.CREATED, None, person.name, Channel.API, "Requested by the agent", "{}",
         requested_at, None)
    )  # fmt: skip
    if reminded:
        events.append(
            (request_id, K.REMINDED, None, names.SYSTEM_ACTOR, Channel.SYSTEM, "Reminder 1 sent",
             REMINDER_DATA, requested_at + HOUR, None)
        )  # fmt: skip
    if decision.event is not None:
        kind, message, data = decision.event
        by_person = decision.via in PEOPLE_CHANNELS
        looked = response_ms(request_id, decision.at - requested_at) if by_person else None
        events.append(
            (request_id, kind, decision.by_id, decision.by_name, decision.via, message, data,
             decision.at, looked)
        )  # fmt: skip


def response_ms(request_id: int, waited: timedelta) -> int | None:
    """How long the approver looked before deciding: from a second to ten minutes.

    - Drawn from the request id (a multiplicative hash), not from the generator's random stream,
      so adding it changed no other generated value. About 1 in 20 is under 5 seconds (the
      Dashboard flags those as possible rubber-stamps); none is longer than the wait itself.
    """
    spread = ((request_id * 2654435761) & 0xFFFFFFFF) / 2**32
    if spread < 0.05:
        looked = 1_200 + int(spread * 60_000)
    else:
        looked = int(6_000 * 100 ** ((spread - 0.05) / 0.95))
    return max(min(looked, int(waited.total_seconds() * 1000)), 0)


def _decision_columns(decision: Decision) -> tuple[Any, ...]:
    """decided_at … consumed_at of a request row."""
    return (
        decision.at, decision.by_id, decision.by_name, decision.via, decision.comment,
        decision.grant_expires_at, None,
    )  # fmt: skip


def _tool_status(status: str, decision: Decision, position: int) -> str:
    if decision.approved_positions is not None and position not in decision.approved_positions:
        return T.DENIED
    return TOOL_STATUS[status]


def _pick(rng: random.Random, items: Sequence[Any], cum_weights: Sequence[int]) -> Any:
    """rng.choices(items, cum_weights=…)[0], several times cheaper."""
    return items[bisect(cum_weights, rng.random() * cum_weights[-1])]


def _cumulative(weights: list[int]) -> list[int]:
    total, out = 0, []
    for weight in weights:
        total += weight
        out.append(total)
    return out


def _notes(slug: str) -> list[str]:
    """Every note of a connector with each customer, repository or channel filled in."""
    notes = []
    for template in names.NOTES.get(slug, ("Need this for my work today.",)):
        for customer, repo, channel in zip(
            names.CUSTOMERS, names.REPOS * 2, names.CHANNELS * 3, strict=False
        ):
            notes.append(template.format(customer=customer, repo=repo, channel=channel))
    return sorted(set(notes))


def _arguments_pool(slug: str, rng: random.Random, now: datetime) -> list[str]:
    """A few dozen argument objects (as JSON text) a gateway might forward for the connector."""
    pool = []
    for i in range(40):
        when = (now + timedelta(days=rng.randrange(1, 30), hours=rng.randrange(8, 18))).replace(
            minute=0, second=0, microsecond=0
        )
        if slug == "github":
            repo = rng.choice(names.REPOS)
            value: dict[str, Any] = {"owner": "example-org", "repo": repo, "title": f"Issue {i}"}
        elif slug == "slack":
            value = {"channel": rng.choice(names.CHANNELS), "text": "Release notes are out."}
        else:
            customer = rng.choice(names.CUSTOMERS)
            value = {"calendarId": "primary", "summary": f"{customer} sync",
                     "start": {"dateTime": f"{when.isoformat()}Z"}}  # fmt: skip
        pool.append(json.dumps(value, ensure_ascii=False))
    return pool

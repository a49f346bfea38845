"""Rows of generated access requests: many people, connectors, tools, dates and outcomes.

- Each request follows one of the demo's Request approval policies (a route): its requester is
  an active member of the policy's groups, its tools are among the policy's, and it goes to the
  policy's flow, as the engine would have routed the gateway's call.
- Pending requests are younger than their flow's timeout; decided ones spread over 90 days,
  with decision, tool statuses, events and messages shaped as the services in requests_app
  would write them (`history`). A request that times out gets its flow's timeout outcome.
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

from requests_app.demo.asks import Ask
from requests_app.demo.history import Decision, FlowRef, History, Subject
from requests_app.demo.names import APPROVE_COMMENTS, DENY_COMMENTS, GATEWAY_ACTOR, TIMEOUT_ACTOR
from requests_app.demo.people import PersonRef
from requests_app.demo.writers import Batch
from requests_app.models import AccessRequest, Channel, RequestEvent, RequestTool
from requests_app.services import GRANT_DURATIONS, approval_message

GENERATED_PREFIX = "demo:"
S, K, T = AccessRequest.Status, RequestEvent.Kind, RequestTool.Status
TIMED_OUT = "timed_out"  # becomes the flow's timeout outcome
STATUSES = (S.PENDING, S.APPROVED, S.DENIED, TIMED_OUT, S.CANCELLED)
STATUS_CUM = (15, 60, 77, 94, 100)  # 15 % pending, 45 % approved, 17 % denied…
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
LINK_CHANNELS = frozenset({Channel.EMAIL, Channel.SMS})


@dataclass(frozen=True)
class RouteRef:
    """A Request approval policy as generated requests follow it."""

    connector_id: int
    connector_slug: str
    connector_name: str
    policy_id: int
    flow: FlowRef
    tool_ids: dict[str, int]
    requesters: tuple[PersonRef, ...]
    asks: tuple[Ask, ...]
    agents: tuple[str, ...]
    weight: int


@dataclass(frozen=True)
class Decider:
    """A console login that decides generated requests, and the channels it uses.

    - Email and SMS are the approver's links: a decision by link is recorded under the
      person's name with no login (as requests_app.links does), and only where the flow sends
      that channel.
    """

    user_id: int
    name: str
    channels: tuple[str, ...]

    def channels_for(self, flow: FlowRef) -> tuple[str, ...]:
        return tuple(c for c in self.channels if c != Channel.SMS or flow.sms)


class RequestGenerator:
    """Builds batches of request, tool, event and message rows from one seeded random stream."""

    def __init__(
        self,
        *,
        routes: list[RouteRef],
        deciders: list[Decider],
        now: datetime,
        seed: int | str,
        site_url: str,
    ) -> None:
        self.rng = random.Random(seed)
        self.routes = routes
        self.route_cum = _cumulative([route.weight for route in routes])
        self.deciders = deciders
        self.channels = {
            (d.user_id, r.flow.id): d.channels_for(r.flow) for d in deciders for r in routes
        }
        self.now = now.astimezone(UTC).replace(tzinfo=None)  # naive UTC: see writers
        self.midnight = self.now.replace(hour=0, minute=0, second=0, microsecond=0)
        self.site_url = site_url.rstrip("/")

    def batch(self, ids: list[int]) -> Batch:
        """One batch of generated requests with the given (reserved) ids."""
        batch = Batch()
        history = History(batch.events, batch.notifications)
        for request_id in ids:
            self._add_request(batch, history, request_id)
        return batch

    def _add_request(self, batch: Batch, history: History, request_id: int) -> None:
        rng, route = self.rng, _pick(self.rng, self.routes, self.route_cum)
        ask: Ask = rng.choice(route.asks)
        tools = [(route.tool_ids[key], key) for key in ask.template.tools]
        person = rng.choice(route.requesters)
        drawn = _pick(rng, STATUSES, STATUS_CUM)
        requested_at = self._requested_at(drawn, route.flow)
        decision = self._decide(drawn, requested_at, len(tools), route.flow)
        status = decision.status
        reminded_at = self._reminded_at(route.flow, requested_at, decision)
        public_id = uuid.uuid4()
        batch.requests.append(
            self._request_row(request_id, public_id, route, ask, person, status, requested_at)
            + _decision_columns(decision)
            + self._deadline_columns(route.flow, requested_at, reminded_at, decision)
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
        subject = self._subject(public_id, person, route, [key for _id, key in tools])
        history.add(request_id, subject, route.flow, requested_at, reminded_at, decision)

    def _subject(
        self, public_id: uuid.UUID, person: PersonRef, route: RouteRef, keys: list[str]
    ) -> Subject:
        first = keys[0].removeprefix(route.connector_slug + "_")
        tools = first + (f" (+{len(keys) - 1})" if len(keys) > 1 else "")
        url = f"{self.site_url}/requests/{public_id}/"
        return Subject(str(public_id), person, route.connector_name, tools, url)

    def _requested_at(self, status: str, flow: FlowRef) -> datetime:
        rng = self.rng
        if status == S.PENDING:
            # Younger than the timeout, so the sweep has not decided it yet.
            return self.now - timedelta(seconds=rng.randrange(120, _window(flow)))
        hour = _pick(rng, range(24), HOUR_CUM)
        # Decided requests are old enough for their timeout to be over too.
        min_age_days = 1 + math.ceil(flow.timeout / timedelta(days=1))
        return self.midnight + timedelta(
            days=-rng.randrange(min_age_days, 91), seconds=hour * 3600 + rng.randrange(3600)
        )

    def _reminded_at(
        self, flow: FlowRef, requested_at: datetime, decision: Decision
    ) -> datetime | None:
        """When the sweep sent the first reminder, if it came due while the request was pending."""
        if flow.reminder_after is None:
            return None
        due = requested_at + flow.reminder_after
        return due if due < (decision.at or self.now) else None

    def _request_row(
        self,
        request_id: int,
        public_id: uuid.UUID,
        route: RouteRef,
        ask: Ask,
        person: PersonRef,
        status: str,
        requested_at: datetime,
    ) -> tuple[Any, ...]:
        rng = self.rng
        note = ask.note if rng.random() < 0.85 else ""
        arguments = ask.arguments_json(requested_at) if rng.random() < 0.35 else None
        first_key, count = ask.template.tools[0], len(ask.template.tools)
        return (
            request_id, public_id, person.id, person.name, person.email, route.connector_id,
            route.connector_name, first_key, count, " ".join(ask.template.tools), note,
            rng.choice(route.agents), arguments,
            GENERATED_PREFIX + public_id.hex, status, route.policy_id, route.flow.id,
            requested_at,
        )  # fmt: skip

    def _deadline_columns(
        self,
        flow: FlowRef,
        requested_at: datetime,
        reminded_at: datetime | None,
        decision: Decision,
    ) -> tuple[Any, ...]:
        """current_level … updated_at, as request_create, the sweep and transitions leave them."""
        updated_at = decision.at or reminded_at or requested_at
        reminders = int(reminded_at is not None)
        if decision.at is not None:
            return (1, reminders, None, None, None, updated_at)
        next_reminder = None
        if flow.reminder_after is not None and reminded_at is None:
            next_reminder = requested_at + flow.reminder_after
        return (1, reminders, next_reminder, None, requested_at + flow.timeout, updated_at)

    def _decide(
        self, drawn: str, requested_at: datetime, tool_count: int, flow: FlowRef
    ) -> Decision:
        """How a request with the drawn outcome was decided (TIMED_OUT: the flow's outcome)."""
        if drawn == S.PENDING:
            return Decision(status=S.PENDING)
        if drawn == TIMED_OUT:
            return Decision(
                status=flow.timeout_status,
                at=requested_at + flow.timeout,
                by_name=TIMEOUT_ACTOR,
                via=Channel.TIMEOUT,
                event=(flow.timeout_kind, "Nobody decided before the timeout", "{}"),
            )
        if drawn == S.CANCELLED:
            delay = self.rng.randrange(60, min(3 * 3600, _window(flow)))
            return Decision(
                status=S.CANCELLED,
                at=requested_at + timedelta(seconds=delay),
                by_name=GATEWAY_ACTOR,
                via=Channel.API,
                event=(K.CANCELLED, "Cancelled", "{}"),
            )
        if drawn == S.DENIED:
            return self._deny(requested_at, flow)
        return self._approve(requested_at, tool_count, flow)

    def _human(self, requested_at: datetime, flow: FlowRef, status: str) -> Decision:
        """Who decided and when: mostly within a couple of hours, always before the timeout."""
        rng = self.rng
        decider = self.deciders[0] if rng.random() < 0.8 else rng.choice(self.deciders)
        seconds = min(int(rng.expovariate(1 / 5400)) + 30, _window(flow))
        via = rng.choice(self.channels[(decider.user_id, flow.id)])
        return Decision(
            status=status,
            at=requested_at + timedelta(seconds=seconds),
            by_id=None if via in LINK_CHANNELS else decider.user_id,
            by_name=decider.name,
            via=via,
        )

    def _deny(self, requested_at: datetime, flow: FlowRef) -> Decision:
        decision = self._human(requested_at, flow, S.DENIED)
        if self.rng.random() < 0.5:
            decision.comment = self.rng.choice(DENY_COMMENTS)
        decision.event = (K.DENIED, "Denied", json.dumps({"comment": decision.comment}))
        return decision

    def _approve(self, requested_at: datetime, tool_count: int, flow: FlowRef) -> Decision:
        rng = self.rng
        decision = self._human(requested_at, flow, S.APPROVED)
        positions = set(range(tool_count))
        if tool_count > 1 and rng.random() < 0.15:
            positions = set(rng.sample(range(tool_count), rng.randrange(1, tool_count)))
        decision.approved_positions = frozenset(positions)
        if rng.random() < 0.2:
            decision.comment = rng.choice(APPROVE_COMMENTS)
        duration = rng.choice(DURATIONS) if rng.random() < 0.3 else None
        if duration is not None and decision.at is not None:
            decision.grant_expires_at = decision.at + duration
        message = approval_message(partial=len(positions) < tool_count, duration=duration)
        # The data (approved tool ids) is filled in once the tools are drawn.
        decision.event = (K.APPROVED, message, "")
        return decision


def _window(flow: FlowRef) -> int:
    """Seconds within which people decide: a little less than the flow's timeout."""
    return max(int(flow.timeout.total_seconds() * 0.95), 180)


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

"""A generated request's history and outbox, written together so that they always agree.

- As `request_create` does: a "created" event, then the approvers' messages and a "notified"
  event counting them. As the sweep does: a reminder event only beside its reminder messages.
  As `notify_resolution` does: "decided by someone else" to every approver who was asked but
  did not decide, and the outcome to the requester (not for a cancelled request).
- Messages are recorded as sent a few seconds after they were queued. Generated messages carry
  no approver link (links are stored hashed and would open nothing), so their text points to
  the request's page in the console instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from approval_flows.models import Notification
from requests_app.demo.names import SYSTEM_ACTOR
from requests_app.demo.people import PersonRef
from requests_app.models import Channel, RequestEvent

K, Occasion = RequestEvent.Kind, Notification.Occasion
EMAIL, SMS = Notification.Channel.EMAIL, Notification.Channel.SMS
PEOPLE_CHANNELS = frozenset({Channel.WEB, Channel.EMAIL, Channel.SMS})
SENT = Notification.Status.SENT
SEND_DELAY = timedelta(seconds=3)


@dataclass(frozen=True, slots=True)
class ApproverRef:
    """An approver of a flow as its messages address them."""

    person_id: int
    name: str
    email: str
    phone: str  # E.164, or "" when they have none
    user_id: int | None


@dataclass(frozen=True)
class FlowRef:
    """An approval flow as generated requests go through it."""

    id: int
    reminder_after: timedelta | None
    timeout: timedelta
    timeout_status: str
    timeout_kind: str
    notify_requester: bool
    # Each (approver, channel) a new request asks: email, and SMS to those with a phone.
    recipients: tuple[tuple[ApproverRef, str], ...]
    sms: bool


@dataclass
class Decision:
    """How a generated request left pending (or did not)."""

    status: str = ""
    at: datetime | None = None
    by_id: int | None = None
    by_name: str = ""
    via: str = ""
    comment: str = ""
    grant_expires_at: datetime | None = None
    approved_positions: frozenset[int] | None = None
    event: tuple[str, str, str] | None = None  # kind, message, data (JSON)


@dataclass(frozen=True, slots=True)
class Subject:
    """What every message about one request says."""

    public_id: str
    requester: PersonRef
    connector: str
    tools: str
    url: str


class History:
    """Appends one request's events and outbox rows to a batch."""

    def __init__(self, events: list[tuple[Any, ...]], outbox: list[tuple[Any, ...]]) -> None:
        self.events = events
        self.outbox = outbox

    def add(
        self,
        request_id: int,
        subject: Subject,
        flow: FlowRef,
        requested_at: datetime,
        reminded_at: datetime | None,
        decision: Decision,
    ) -> None:
        """Created, notified, the reminder when one was due, the decision and its messages."""
        person = subject.requester
        self._event(request_id, K.CREATED, None, person.name, Channel.API,
                    "Requested by the agent", "{}", requested_at)  # fmt: skip
        asked = self._ask(subject, flow, Occasion.NEW_REQUEST, 0, requested_at)
        plural = "" if asked == 1 else "s"
        # JSON written by hand: json.dumps was a tenth of the generator's time (seed_demo 100k).
        self._event(request_id, K.NOTIFIED, None, SYSTEM_ACTOR, Channel.SYSTEM,
                    f"{asked} notification{plural} queued for the approvers",
                    f'{{"queued": {asked}}}', requested_at)  # fmt: skip
        if reminded_at is not None:
            queued = self._ask(subject, flow, Occasion.REMINDER, 1, reminded_at)
            self._event(request_id, K.REMINDED, None, SYSTEM_ACTOR, Channel.SYSTEM,
                        "Reminder 1 sent", f'{{"sequence": 1, "queued": {queued}}}',
                        reminded_at)  # fmt: skip
        if decision.event is not None and decision.at is not None:
            self._decided(request_id, subject, flow, requested_at, decision)

    def _decided(
        self,
        request_id: int,
        subject: Subject,
        flow: FlowRef,
        requested_at: datetime,
        decision: Decision,
    ) -> None:
        kind, message, data = decision.event  # type: ignore[misc]
        at = decision.at
        by_person = decision.via in PEOPLE_CHANNELS
        looked = response_ms(request_id, at - requested_at) if by_person else None
        self._event(request_id, kind, decision.by_id, decision.by_name, decision.via, message,
                    data, at, looked)  # fmt: skip
        stamps = _stamps(at)
        for approver, channel in flow.recipients:
            if not _decided_by(approver, decision):
                self._message(subject, approver.person_id, approver, channel,
                              Occasion.DECIDED_ELSEWHERE, 0, stamps, decision)  # fmt: skip
        if flow.notify_requester and kind != K.CANCELLED:
            person = subject.requester
            self._message(subject, person.id, None, EMAIL, Occasion.OUTCOME, 0, stamps, decision)

    def _ask(self, subject: Subject, flow: FlowRef, occasion: str, seq: int, at: datetime) -> int:
        stamps = _stamps(at)
        for approver, channel in flow.recipients:
            self._message(subject, approver.person_id, approver, channel, occasion, seq, stamps)
        return len(flow.recipients)

    def _event(
        self,
        request_id: int,
        kind: str,
        actor_id: int | None,
        actor_name: str,
        channel: str,
        message: str,
        data: str,
        at: datetime,
        response: int | None = None,
    ) -> None:
        self.events.append(
            (request_id, kind, actor_id, actor_name, channel, message, data, at, response)
        )

    def _message(
        self,
        subject: Subject,
        recipient_id: int,
        approver: ApproverRef | None,
        channel: str,
        occasion: str,
        sequence: int,
        stamps: tuple[str, str],
        decision: Decision | None = None,
    ) -> None:
        """One outbox row, sent a few seconds after it was queued (stamps: queued, sent)."""
        if approver is None:
            address = subject.requester.email
        else:
            address = approver.phone if channel == SMS else approver.email
        title, text = _texts(subject, channel, occasion, decision)
        queued, sent = stamps
        self.outbox.append(
            (subject.public_id, recipient_id, address, channel, occasion, sequence, title, text,
             SENT, 1, queued, sent, queued)
        )  # fmt: skip


def _stamps(at: datetime) -> tuple[str, str]:
    """When messages were queued and sent, printed once for all the rows that share them."""
    return str(at), str(at + SEND_DELAY)


def _decided_by(approver: ApproverRef, decision: Decision) -> bool:
    """As notify._is_decider: the same login, or the same name deciding by web, link or SMS."""
    if decision.by_id is not None and decision.by_id == approver.user_id:
        return True
    return decision.via in PEOPLE_CHANNELS and decision.by_name == approver.name


def _texts(
    subject: Subject, channel: str, occasion: str, decision: Decision | None
) -> tuple[str, str]:
    """The subject line (email only) and the text of one message."""
    who, connector = subject.requester.name, subject.connector
    asking = occasion in (Occasion.NEW_REQUEST, Occasion.REMINDER)
    if channel == SMS:
        # Short enough for one segment: no link, the console is where it is reviewed.
        if asking:
            return "", f"agenwork: {who} asks {connector} {subject.tools}. Review it in agenwork."
        return "", f"agenwork: {who}'s request ({connector}) was {_outcome(decision)}."
    what = f"{subject.tools} on {connector}"
    if asking:
        prefix = "Reminder: " if occasion == Occasion.REMINDER else ""
        title = f"{prefix}Approve {who}'s request: {connector}"
        text = f"{who} asks to use {what}. Review it: {subject.url}"
    elif occasion == Occasion.OUTCOME:
        title = f"Your request was {_outcome(decision)}: {connector}"
        text = f"Your request for {what} was {_outcome(decision)}. Details: {subject.url}"
    else:
        outcome = _outcome(decision)
        title = f"{outcome.capitalize()}: {who}'s request for {connector}"
        text = f"{who}'s request for {what} was {outcome}. No action needed: {subject.url}"
    return title, text + "\n"


def _outcome(decision: Decision | None) -> str:
    """ "approved by Dana Levi", "auto-approved at the timeout", "cancelled by the gateway"…"""
    if decision is None:
        return ""
    label = decision.status.replace("_", "-")
    if decision.via == Channel.TIMEOUT:
        return f"{label} at the timeout"
    return f"{label} by {decision.by_name}"


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

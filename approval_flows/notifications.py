"""The notification outbox: queue inside the caller's transaction, send after commit, record.

- `notification_queue` writes the row with the caller's change and enqueues the send after
  commit; a lost broker message is picked up by the sweep (`notification_due_ids`).
- `notification_send` claims the row, talks to SMTP or Twilio outside any transaction, then
  records the outcome on that same claim: `NOTIFICATIONS`, an `agenwork.outbox.Outbox`, the
  mechanism gateways' webhooks share. Two workers (or a task and the sweep) racing for one row:
  one claim wins, the other does nothing.
- At-least-once at one point only: a worker that dies after the provider accepted the message
  but before the row is marked sent leaves a stale claim, which the sweep returns to pending
  after `STALE_CLAIM`, so that message goes out again. The window is short: after SMTP's 250
  to DATA only the QUIT exchange and the UPDATE remain (after Twilio's 201, only the UPDATE).
  tests/integration/test_faults.py kills workers at random during 1,000 sends to check it.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from agenwork.db import insert_skipping_conflicts
from agenwork.outbox import Outbox
from approval_flows.models import Notification
from approval_flows.transports import transport_for
from directory.models import Person

Status = Notification.Status

# Wait before each retry; after the last one the notification fails for good.
BACKOFF = (
    timedelta(seconds=30),
    timedelta(minutes=2),
    timedelta(minutes=10),
    timedelta(minutes=30),
    timedelta(hours=2),
)
NOTIFICATIONS: Outbox[Notification] = Outbox(
    model=Notification,
    task="approval_flows.tasks.send_notification",
    backoff=BACKOFF,
    done=Status.SENT,
    done_at="sent_at",
    label="notification",
)
MAX_ATTEMPTS = NOTIFICATIONS.max_attempts
STALE_CLAIM = NOTIFICATIONS.stale_claim
FRESH_GRACE = NOTIFICATIONS.fresh_grace


def notification_queue(
    *,
    request_public_id: uuid.UUID | None,
    recipient: Person | None,
    address: str,
    channel: str,
    occasion: str,
    sequence: int = 0,
    subject: str = "",
    body_text: str,
    body_html: str = "",
    enqueue: bool = True,
) -> Notification | None:
    """Write one outbox row in the caller's transaction and send it after commit.

    - Returns None when the same (request, recipient, channel, occasion, sequence) was queued
      before, or for an SMS to a person without a phone. (A row without a request or a
      recipient is never a duplicate: NULLs differ in a unique constraint.)
    - `enqueue=False` leaves the sending to the caller (`send_test_notification`).
    """
    if channel == Notification.Channel.SMS and not address:
        return None
    row = Notification(
        request_public_id=request_public_id,
        recipient=recipient,
        address=address,
        channel=channel,
        occasion=occasion,
        sequence=sequence,
        subject=subject,
        body_text=body_text,
        body_html=body_html,
    )
    inserted = insert_skipping_conflicts([row], returning=["id"])
    if not inserted:  # queued before
        return None
    notification_id = inserted[0][0]
    if enqueue:
        NOTIFICATIONS.enqueue_after_commit(notification_id)
    return Notification.objects.get(pk=notification_id)


def notification_send(*, notification_id: int, now: datetime | None = None) -> str:
    """Claim a due notification, hand it to its transport, record the outcome; return the status.

    - "not_due" when the row is not pending and due (sent, failed, claimed by another worker,
      or waiting for its next attempt): nothing is sent.
    - Call it outside any transaction: the claim must be visible before the provider is called.
    """
    return NOTIFICATIONS.send(notification_id, _deliver, now=now)


def _deliver(notification: Notification) -> dict[str, Any]:
    """Hand the message to SMTP or Twilio; the provider's id is recorded with the success."""
    return {"provider_id": transport_for(notification.channel).send(notification)}


def notification_due_ids(*, now: datetime | None = None, limit: int = 1000) -> list[int]:
    """Ids the sweep should hand to `send_notification`; stale claims are settled first."""
    return NOTIFICATIONS.due_ids(now=now, limit=limit)


def notification_abandon(*, notification_id: int, reason: str) -> bool:
    """Fail a pending notification so that it is never retried; False if it was not pending."""
    return bool(
        Notification.objects.filter(pk=notification_id, status=Status.PENDING).update(
            status=Status.FAILED, last_error=reason[:500]
        )
    )


# Twilio's message statuses in the order they happen; a late callback never moves one back.
_TWILIO_PROGRESS = {
    "accepted": 0,
    "scheduled": 0,
    "queued": 1,
    "sending": 2,
    "sent": 3,
    "receiving": 3,
    "received": 4,
    "delivered": 4,
    "undelivered": 4,
    "failed": 4,
    "canceled": 4,
    "read": 5,
}
_TWILIO_FAILED = ("failed", "undelivered")


def notification_record_provider_status(
    *, provider_id: str, provider_status: str, error_code: str = ""
) -> int:
    """Store the provider's delivery status; a failed or undelivered SMS fails the notification.

    Returns how many notifications changed (0 for an unknown id or an out-of-order callback).
    """
    if not provider_id:
        return 0
    provider_status = provider_status.strip().lower()[:32]
    rank = _TWILIO_PROGRESS.get(provider_status, 0)
    later = [name for name, value in _TWILIO_PROGRESS.items() if value > rank]
    rows = Notification.objects.filter(provider_id=provider_id).exclude(provider_status__in=later)
    if provider_status not in _TWILIO_FAILED:
        return rows.update(provider_status=provider_status)
    error = f"Twilio reported {provider_status}" + (f" (error {error_code})" if error_code else "")
    return rows.update(provider_status=provider_status, status=Status.FAILED, last_error=error)

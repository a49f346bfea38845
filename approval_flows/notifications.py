"""The notification outbox: queue inside the caller's transaction, send after commit, record.

- `notification_queue` writes the row with the caller's change and enqueues the send after
  commit; a lost broker message is picked up by the sweep (`notification_due_ids`).
- `notification_send` claims the row with a conditional UPDATE (pending → sending), talks to
  SMTP or Twilio outside any transaction, then records the outcome on that same claim. Two
  workers (or a task and the sweep) racing for one row: one claim wins, the other does nothing.
- At-least-once at one point only: a worker that dies after the provider accepted the message
  but before the row is marked sent leaves a stale claim, which the sweep returns to pending
  after `STALE_CLAIM`, so that message goes out again. The window is short: after SMTP's 250
  to DATA only the QUIT exchange and the UPDATE remain (after Twilio's 201, only the UPDATE).
  tests/integration/test_faults.py kills workers at random during 1,000 sends to check it.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from agenwork.broker import handout_cutoff, publish_after_commit
from agenwork.db import insert_skipping_conflicts
from approval_flows.models import Notification
from approval_flows.transports import PermanentError, TransientError, transport_for
from directory.models import Person

logger = logging.getLogger(__name__)

Status = Notification.Status

# Wait before each retry; after the last one the notification fails for good.
BACKOFF = (
    timedelta(seconds=30),
    timedelta(minutes=2),
    timedelta(minutes=10),
    timedelta(minutes=30),
    timedelta(hours=2),
)
MAX_ATTEMPTS = len(BACKOFF) + 1
# Longer than the Celery hard time limit: a claim this old belongs to a worker that is gone.
STALE_CLAIM = timedelta(minutes=5)
# The after-commit task sends a fresh row; the sweep only takes the ones the broker lost (and,
# after the broker refused a publish, every row created until then: `handout_cutoff`).
FRESH_GRACE = timedelta(seconds=30)


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
        # A lambda, not functools.partial: Django logs a robust callback's failure by __qualname__.
        transaction.on_commit(lambda: _enqueue(notification_id), robust=True)
    return Notification.objects.get(pk=notification_id)


def _enqueue(notification_id: int) -> None:
    from approval_flows.tasks import send_notification

    publish_after_commit(send_notification, notification_id)


def notification_send(*, notification_id: int, now: datetime | None = None) -> str:
    """Claim a due notification, hand it to its transport, record the outcome; return the status.

    - "not_due" when the row is not pending and due (sent, failed, claimed by another worker,
      or waiting for its next attempt): nothing is sent.
    - Call it outside any transaction: the claim must be visible before the provider is called.
    """
    notification = _claim(notification_id, now or timezone.now())
    if notification is None:
        return "not_due"
    try:
        provider_id = transport_for(notification.channel).send(notification)
    except PermanentError as exc:
        return _record_failure(notification, str(exc), permanent=True, now=now)
    except TransientError as exc:
        return _record_failure(notification, str(exc), permanent=False, now=now)
    except Exception as exc:  # a bug or a time limit: retry like a temporary failure, loudly
        logger.exception("notification %s: unexpected error while sending", notification_id)
        error = f"{type(exc).__name__}: {exc}"
        return _record_failure(notification, error, permanent=False, now=now)
    return _record(
        notification,
        status=Status.SENT,
        sent_at=now or timezone.now(),
        provider_id=provider_id,
        last_error="",
    )


def _claim(notification_id: int, now: datetime) -> Notification | None:
    """Pending and due → sending, one attempt more; None when not due or someone else has it."""
    claimed = Notification.objects.filter(
        pk=notification_id,
        status=Status.PENDING,
        next_attempt_at__lte=now,
        attempts__lt=MAX_ATTEMPTS,
    ).update(status=Status.SENDING, claimed_at=now, attempts=F("attempts") + 1)
    return Notification.objects.get(pk=notification_id) if claimed else None


def _record_failure(
    notification: Notification, error: str, *, permanent: bool, now: datetime | None
) -> str:
    """Back to pending after the backoff, or failed when permanent or out of attempts."""
    logger.warning(
        "notification %s (%s to %s), attempt %s: %s",
        notification.pk,
        notification.channel,
        notification.address,
        notification.attempts,
        error,
    )
    if permanent or notification.attempts >= MAX_ATTEMPTS:
        return _record(notification, status=Status.FAILED, last_error=error[:500])
    retry_at = (now or timezone.now()) + BACKOFF[notification.attempts - 1]
    return _record(
        notification, status=Status.PENDING, next_attempt_at=retry_at, last_error=error[:500]
    )


def _record(notification: Notification, **fields: object) -> str:
    """Write the outcome on our own claim only (a reclaimed row belongs to someone else now)."""
    updated = Notification.objects.filter(
        pk=notification.pk, status=Status.SENDING, claimed_at=notification.claimed_at
    ).update(claimed_at=None, **fields)
    if not updated:
        logger.warning("notification %s: the claim was lost before recording", notification.pk)
    return str(fields["status"])


def notification_due_ids(*, now: datetime | None = None, limit: int = 1000) -> list[int]:
    """Ids the sweep should hand to `send_notification`; stale claims go back to pending first."""
    now = now or timezone.now()
    _reclaim_stale(now)
    return list(
        notifications_due(now=now)
        .order_by("next_attempt_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )


def notifications_due(*, now: datetime) -> QuerySet[Notification]:
    """Pending rows whose attempt is due and that the after-commit task may not have sent."""
    return Notification.objects.filter(
        Q(status=Status.PENDING, next_attempt_at__lte=now)
        & (Q(attempts__gt=0) | Q(created_at__lte=handout_cutoff(now=now, grace=FRESH_GRACE)))
    )


def _reclaim_stale(now: datetime) -> None:
    """A claim older than `STALE_CLAIM` belongs to a dead worker: retry it, or fail it."""
    stale = Notification.objects.filter(status=Status.SENDING, claimed_at__lt=now - STALE_CLAIM)
    lost = "The worker stopped while sending; the message may have gone out."
    stale.filter(attempts__gte=MAX_ATTEMPTS).update(
        status=Status.FAILED, claimed_at=None, last_error=lost
    )
    stale.update(status=Status.PENDING, claimed_at=None, next_attempt_at=now, last_error=lost)


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

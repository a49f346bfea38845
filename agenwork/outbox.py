"""The outbox: a message row written with the change that causes it, sent after commit, recorded.

One mechanism for every kind of message: approvers' email and SMS (approval_flows.notifications)
and gateways' webhooks (requests_app.webhooks) each declare an `Outbox` and call it.

- `enqueue_after_commit` publishes the send task (by name: the task module imports the service,
  never the reverse) once the row is committed. A message the broker lost is not lost: the sweep
  hands out what is due (`due_ids`), the one definition of due.
- `send` claims the row with a conditional UPDATE (pending, due and attempts left → sending; its
  `claimed_at` is the claim's token), hands it to the kind's `deliver` outside any transaction,
  then records the outcome on that same claim only. Two workers racing for one row: one claim
  wins. A worker whose claim was reclaimed meanwhile (it was slow, not dead) changes nothing.
- A failed attempt is retried after the kind's `backoff`; a permanent failure, or the last
  attempt, fails the row for good. The reason stays on the row (`last_error`), where the console
  shows it.
- A claim older than `stale_claim` belongs to a worker that is gone: `due_ids` puts it back to
  pending, or fails it when it has no attempt left. That is the one point of at-least-once: the
  provider may have accepted the message before the worker died.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar

from django.db import models, transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from agenwork.broker import handout_cutoff, publish_after_commit

logger = logging.getLogger(__name__)

# The statuses every outbox model shares (its Status choices); the "done" one is the kind's own.
PENDING, SENDING, FAILED = "pending", "sending", "failed"
NOT_DUE = "not_due"
CLAIM_LOST = "claim_lost"
# Longer than the Celery hard time limit: a claim this old belongs to a worker that is gone.
STALE_CLAIM = timedelta(minutes=5)
# The after-commit task sends a fresh row; the sweep only takes the ones the broker lost (and,
# after the broker refused a publish, every row created until then: `handout_cutoff`).
FRESH_GRACE = timedelta(seconds=30)
LOST = "The worker stopped while sending; the message may have gone out."

Row = TypeVar("Row", bound=models.Model)


class SendError(Exception):
    """An attempt that did not hand the message over; `fields` are recorded with the error."""

    permanent = False

    def __init__(self, message: str, **fields: object) -> None:
        super().__init__(message)
        self.fields = fields


class TransientError(SendError):
    """A temporary failure: try again after the backoff."""


class PermanentError(SendError):
    """A failure that no retry will fix: the row fails now."""

    permanent = True


@dataclass(frozen=True)
class Outbox(Generic[Row]):
    """One kind of outbox row: how it is published, claimed, recorded, retried and handed out.

    - `model` has `status` (PENDING, SENDING, FAILED and `done`), `attempts`,
      `next_attempt_at`, `claimed_at`, `last_error`, `created_at`, and the `done_at` field.
    - `task` is the name of the Celery task that calls `send` for one id.
    """

    model: type[Row]
    task: str
    backoff: tuple[timedelta, ...]
    done: str
    done_at: str
    label: str
    related: tuple[str, ...] = ()
    stale_claim: timedelta = STALE_CLAIM
    fresh_grace: timedelta = FRESH_GRACE

    @property
    def max_attempts(self) -> int:
        """The first attempt and one per backoff step."""
        return len(self.backoff) + 1

    def enqueue_after_commit(self, pk: int) -> None:
        """Publish the send task once the caller's transaction commits (never fails the caller)."""
        # A lambda, not functools.partial: Django logs a robust callback's failure by __qualname__.
        transaction.on_commit(lambda: publish_after_commit(self.task, pk), robust=True)

    def send(
        self, pk: int, deliver: Callable[[Row], dict[str, Any]], *, now: datetime | None = None
    ) -> str:
        """Claim the row, `deliver` it, record the outcome; return the status written.

        - `deliver` hands the row to its provider and returns the fields to record with
          success, or raises TransientError / PermanentError. Call `send` outside any
          transaction: the claim must be visible before the provider is called.
        - NOT_DUE when the row is not pending and due (done, failed, claimed by another
          worker, waiting for its next attempt, out of attempts): nothing is sent.
        - CLAIM_LOST when the claim was reclaimed while sending: the outcome is discarded.
        """
        row = self.claim(pk, now or timezone.now())
        if row is None:
            return NOT_DUE
        try:
            fields = deliver(row)
        except SendError as exc:
            return self._record_failure(row, exc, now)
        except Exception as exc:  # a bug or a time limit: retry like a temporary failure, loudly
            logger.exception("%s %s: unexpected error while sending", self.label, pk)
            return self._record_failure(row, TransientError(f"{type(exc).__name__}: {exc}"), now)
        done_at = {self.done_at: now or timezone.now()}
        return self._record(row, status=self.done, last_error="", **done_at, **fields)

    def claim(self, pk: int, now: datetime) -> Row | None:
        """Pending and due → sending, one attempt more; None when not due or someone else has it."""
        claimed = self.model._default_manager.filter(
            pk=pk, status=PENDING, next_attempt_at__lte=now, attempts__lt=self.max_attempts
        ).update(status=SENDING, claimed_at=now, attempts=F("attempts") + 1)
        if not claimed:
            return None
        return self.model._default_manager.select_related(*self.related).get(pk=pk)

    def _record_failure(self, row: Any, error: SendError, now: datetime | None) -> str:
        """Back to pending after the backoff, or failed when permanent or out of attempts."""
        message = str(error)[:500]
        logger.warning("%s %s (%s), attempt %s: %s", self.label, row.pk, row, row.attempts, message)
        fields = {"last_error": message, **error.fields}
        if error.permanent or row.attempts >= self.max_attempts:
            return self._record(row, status=FAILED, **fields)
        retry_at = (now or timezone.now()) + self.backoff[row.attempts - 1]
        return self._record(row, status=PENDING, next_attempt_at=retry_at, **fields)

    def _record(self, row: Any, **fields: object) -> str:
        """Write the outcome on our own claim only (a reclaimed row belongs to someone else now)."""
        updated = self.model._default_manager.filter(
            pk=row.pk, status=SENDING, claimed_at=row.claimed_at
        ).update(claimed_at=None, **fields)
        if not updated:
            logger.warning("%s %s: the claim was lost before recording", self.label, row.pk)
            return CLAIM_LOST
        return str(fields["status"])

    def due(self, *, now: datetime) -> QuerySet[Row]:
        """Rows the sweep hands out: pending, due, attempts left, and maybe lost by the broker."""
        cutoff = handout_cutoff(now=now, grace=self.fresh_grace)
        return self.model._default_manager.filter(
            Q(status=PENDING, next_attempt_at__lte=now, attempts__lt=self.max_attempts)
            & (Q(attempts__gt=0) | Q(created_at__lte=cutoff))
        )

    def stale(self, *, now: datetime) -> QuerySet[Row]:
        """Claims of workers that are gone: older than `stale_claim`."""
        return self.model._default_manager.filter(
            status=SENDING, claimed_at__lt=now - self.stale_claim
        )

    def waiting(self, *, now: datetime) -> QuerySet[Row]:
        """What `due_ids` would hand out at `now`, read without reclaiming anything (dry runs)."""
        return self.due(now=now) | self.stale(now=now).filter(attempts__lt=self.max_attempts)

    def due_ids(self, *, now: datetime | None = None, limit: int = 1000) -> list[int]:
        """Ids to hand to the send task, oldest first; stale claims are settled first."""
        now = now or timezone.now()
        self.reclaim_stale(now=now)
        due = self.due(now=now).order_by("next_attempt_at", "pk")
        return list(due.values_list("pk", flat=True)[:limit])

    def reclaim_stale(self, *, now: datetime) -> None:
        """Stale claims go back to pending (their time has come already), or fail when spent."""
        stale = self.stale(now=now)
        stale.filter(attempts__gte=self.max_attempts).update(
            status=FAILED, claimed_at=None, last_error=LOST
        )
        stale.update(status=PENDING, claimed_at=None, last_error=LOST)

"""Celery tasks of the request lifecycle: thin adapters that take ids and call a service."""

from __future__ import annotations

from celery import shared_task

from agenwork.heartbeat import SWEEP, heartbeat_mark
from approval_flows.tasks import send_notification
from requests_app.sweep import sweep_due
from requests_app.webhooks import webhook_deliver

# Below CELERY_TASK_SOFT_TIME_LIMIT (90 s): the batch in progress still has time to commit.
SWEEP_BUDGET_SECONDS = 60


@shared_task(acks_late=True, ignore_result=True)
def deliver_webhook(delivery_id: int) -> str:
    """Send one webhook delivery if it is due (safe to run twice: the row is claimed first)."""
    return webhook_deliver(delivery_id=delivery_id)


@shared_task(acks_late=True, ignore_result=True)
def hand_out_notifications(notification_ids: list[int]) -> int:
    """Enqueue one send task per notification: the sweep publishes a whole batch as one message.

    - Safe to run twice: sending claims the row first; ids not handed out stay pending, and the
      sweep hands them out again.
    """
    for notification_id in notification_ids:
        send_notification.delay(notification_id)
    return len(notification_ids)


@shared_task(ignore_result=True)
def sweep() -> dict[str, int]:
    """Beat's only schedule: act on due deadlines, hand due notifications and webhooks out.

    - A large backlog is worked off over several sweeps: each stops claiming after
      SWEEP_BUDGET_SECONDS, well inside the task time limit.
    - Its end is the worker's heartbeat, which /healthz reads.
    """
    counts = sweep_due(budget=SWEEP_BUDGET_SECONDS).counts()
    heartbeat_mark(name=SWEEP)
    return counts

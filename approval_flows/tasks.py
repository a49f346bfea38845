"""Celery tasks of the notification outbox: thin adapters that take ids and call a service."""

from __future__ import annotations

from celery import shared_task

from approval_flows.notifications import notification_send


@shared_task(acks_late=True, ignore_result=True)
def send_notification(notification_id: int) -> str:
    """Send one notification if it is due (safe to run twice: the row is claimed first).

    - Never retried through the broker: a temporary failure puts the row back to pending with
      its next attempt time, and the sweep enqueues it again when that time comes.
    """
    return notification_send(notification_id=notification_id)

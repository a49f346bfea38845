"""Celery tasks of the request lifecycle: thin adapters that take ids and call a service."""

from __future__ import annotations

from celery import shared_task

from requests_app.webhooks import webhook_deliver, webhook_due_ids


@shared_task(acks_late=True, ignore_result=True)
def deliver_webhook(delivery_id: int) -> str:
    """Send one webhook delivery if it is due (safe to run twice: the row is claimed first)."""
    return webhook_deliver(delivery_id=delivery_id)


@shared_task(ignore_result=True)
def sweep() -> int:
    """Claim what is due in PostgreSQL (webhook retries) and hand each item to a worker."""
    due = webhook_due_ids()
    for delivery_id in due:
        deliver_webhook.delay(delivery_id)
    return len(due)

"""The one outbox (agenwork.outbox) under both its kinds: approvers' messages, gateways' webhooks.

Each kind goes through its own service (`notification_send`, `webhook_deliver`) to a real
provider on 127.0.0.1 (the SMTP server, the webhook receiver). The pages that show failed rows
are tested with them: tests/requests_app/test_views_panel.py, tests/gateways/test_views.py.
"""

from __future__ import annotations

import importlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
from celery import current_app
from django.apps import apps
from django.db import models
from django.utils import timezone

from agenwork.outbox import CLAIM_LOST, FAILED, NOT_DUE, PENDING, SENDING, Outbox
from approval_flows.models import Notification
from approval_flows.notifications import NOTIFICATIONS, notification_queue, notification_send
from approval_flows.transports import EmailTransport
from dashboard.figures import REFRESH_TASK
from gateways.services import api_key_create
from requests_app import webhooks
from requests_app.models import WebhookDelivery
from requests_app.notify_bulk import HAND_OUT_TASK
from requests_app.sweep import sweep_due
from requests_app.webhooks import WEBHOOKS, webhook_deliver
from tests.support.smtp import SmtpServer, smtp_server  # noqa: F401 (a fixture)
from tests.support.webhooks import Receiver, receiver  # noqa: F401 (a fixture)

pytestmark = pytest.mark.django_db


@dataclass
class Kind:
    """One kind of outbox row, with its service and what its provider received."""

    outbox: Outbox
    new_row: Callable[..., models.Model]
    send: Callable[[int, datetime | None], str]
    received: Callable[[], int]
    # Runs `hook` while the row is with its provider (after the claim, before the record).
    while_sending: Callable[[Callable[[], None]], None]


@pytest.fixture(params=["notification", "webhook"])
def kind(request) -> Kind:
    return request.getfixturevalue(f"{request.param}_kind")


@pytest.fixture
def notification_kind(smtp_server: SmtpServer, monkeypatch, requester) -> Kind:  # noqa: F811
    def new_row(**fields: Any) -> Notification:
        row = notification_queue(
            request_public_id=uuid.uuid4(),
            recipient=requester,
            address=requester.email,
            channel=Notification.Channel.EMAIL,
            occasion=Notification.Occasion.NEW_REQUEST,
            subject="Ana Lopez asks to use Google Calendar",
            body_text="Review: http://testserver/a/t/",
            enqueue=False,
        )
        Notification.objects.filter(pk=row.pk).update(**fields)
        return row

    def while_sending(hook: Callable[[], None]) -> None:
        send = EmailTransport.send
        monkeypatch.setattr(EmailTransport, "send", lambda self, row: (hook(), send(self, row))[1])

    return Kind(
        outbox=NOTIFICATIONS,
        new_row=new_row,
        send=lambda pk, now=None: notification_send(notification_id=pk, now=now),
        received=lambda: len(smtp_server.messages),
        while_sending=while_sending,
    )


@pytest.fixture
def webhook_kind(receiver: Receiver, monkeypatch, access_request) -> Kind:  # noqa: F811
    issued = api_key_create(name="hooked gateway", webhook_url=receiver.url)
    receiver.secret = issued.webhook_secret
    events = iter(range(1000))

    def new_row(**fields: Any) -> WebhookDelivery:
        row = WebhookDelivery.objects.create(
            request=access_request,
            api_key=issued.api_key,
            event=f"request.resolved.{next(events)}",
            url=receiver.url,
            payload={"id": str(access_request.public_id), "status": "approved"},
        )
        WebhookDelivery.objects.filter(pk=row.pk).update(**fields)
        return row

    def while_sending(hook: Callable[[], None]) -> None:
        post = webhooks.requests.post
        monkeypatch.setattr(webhooks.requests, "post", lambda *a, **k: (hook(), post(*a, **k))[1])

    return Kind(
        outbox=WEBHOOKS,
        new_row=new_row,
        send=lambda pk, now=None: webhook_deliver(delivery_id=pk, now=now),
        received=lambda: len(receiver.hits),
        while_sending=while_sending,
    )


def state(row: models.Model) -> tuple[str, int, datetime | None]:
    row.refresh_from_db()
    return row.status, row.attempts, row.claimed_at


def test_a_reclaimed_workers_late_result_is_discarded(kind: Kind):
    """A slow worker's claim is reclaimed and taken by another: its late outcome changes nothing."""
    row = kind.new_row()
    first_claim = timezone.now()
    later = first_claim + kind.outbox.stale_claim + timedelta(seconds=1)

    def meanwhile() -> None:
        assert row.pk in kind.outbox.due_ids(now=later)  # the sweep reclaims the stale claim
        assert kind.outbox.claim(row.pk, later) is not None  # and a second worker claims it

    kind.while_sending(meanwhile)

    outcome = kind.send(row.pk, first_claim)

    assert outcome == CLAIM_LOST
    assert kind.received() == 1, "the slow worker did send: the provider got it once so far"
    assert state(row) == (SENDING, 2, later), "the second worker's claim is untouched"
    assert "may have gone out" in row.last_error


def test_a_stale_claim_with_attempts_left_goes_back_to_pending_and_is_sent(kind: Kind):
    now = timezone.now()
    row = kind.new_row(status=SENDING, attempts=1, claimed_at=now - kind.outbox.stale_claim)

    assert kind.outbox.due_ids(now=now + timedelta(seconds=1)) == [row.pk]
    assert kind.send(row.pk, now + timedelta(seconds=2)) == kind.outbox.done

    assert state(row) == (kind.outbox.done, 2, None)
    assert kind.received() == 1


def test_a_stale_claim_out_of_attempts_ends_failed(kind: Kind):
    now = timezone.now()
    spent = kind.outbox.max_attempts
    row = kind.new_row(status=SENDING, attempts=spent, claimed_at=now - timedelta(hours=1))

    report = sweep_due(now=now)

    assert state(row) == (FAILED, spent, None)
    assert "may have gone out" in row.last_error
    assert report.counts()["notifications"] == report.counts()["webhooks"] == 0
    assert kind.send(row.pk, now + timedelta(days=30)) == NOT_DUE
    assert kind.received() == 0


def test_the_claim_refuses_a_row_out_of_attempts(kind: Kind):
    row = kind.new_row(attempts=kind.outbox.max_attempts)

    assert kind.send(row.pk, timezone.now() + timedelta(days=1)) == NOT_DUE
    assert kind.outbox.due_ids(now=timezone.now() + timedelta(days=1)) == []
    assert state(row)[0] == PENDING
    assert kind.received() == 0


def test_the_last_failed_attempt_fails_the_row(kind: Kind):
    row = kind.new_row(attempts=kind.outbox.max_attempts - 1)

    def refuse() -> None:
        raise ConnectionRefusedError("the provider is down")

    kind.while_sending(refuse)

    assert kind.send(row.pk, None) == FAILED
    assert state(row) == (FAILED, kind.outbox.max_attempts, None)
    assert row.last_error == "ConnectionRefusedError: the provider is down"


def test_a_dry_run_counts_what_the_sweep_hands_out(kind: Kind):
    now = timezone.now()
    past = now - kind.outbox.fresh_grace
    stale = now - kind.outbox.stale_claim - timedelta(seconds=1)

    def row(**fields: Any) -> None:
        kind.new_row(**{"created_at": past, "next_attempt_at": past, **fields})

    row()  # lost by the broker
    row(created_at=now, next_attempt_at=now)  # fresh: its after-commit task sends it
    row(attempts=1, next_attempt_at=now - timedelta(seconds=1))  # a retry now due
    row(attempts=1, next_attempt_at=now + timedelta(minutes=1))  # a retry later
    row(status=SENDING, attempts=1, claimed_at=stale)  # a dead worker's claim
    row(status=SENDING, attempts=kind.outbox.max_attempts, claimed_at=stale)  # out of attempts
    row(status=SENDING, attempts=1, claimed_at=now)  # a live worker's claim
    row(status=kind.outbox.done, attempts=1)
    row(status=FAILED, attempts=1)

    waiting = kind.outbox.waiting(now=now).count()

    assert waiting == len(kind.outbox.due_ids(now=now)) == 3


def test_every_task_published_by_name_is_registered():
    names = {NOTIFICATIONS.task, WEBHOOKS.task, HAND_OUT_TASK, REFRESH_TASK}

    assert names <= set(current_app.tasks)


def test_the_migration_fails_webhook_deliveries_pending_past_their_last_attempt(webhook_kind):
    migration = importlib.import_module(
        "requests_app.migrations.0008_fail_spent_webhook_deliveries"
    )
    spent = webhook_kind.new_row(attempts=migration.MAX_ATTEMPTS + 2)
    waiting = webhook_kind.new_row(attempts=migration.MAX_ATTEMPTS - 1)

    migration.fail_spent_deliveries(apps, None)

    assert state(spent)[0] == FAILED and "No attempt left" in spent.last_error
    assert state(waiting)[0] == PENDING
    assert WEBHOOKS.max_attempts == migration.MAX_ATTEMPTS

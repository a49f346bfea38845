"""Faults: a worker killed while sending, and the broker down while requests come in.

Either way every notification is sent exactly once (counted at the SMTP server and the Twilio
stand-in). The broker is stopped only as a private redis-server: the shared one serves others.
"""

from __future__ import annotations

import asyncio
import threading
from datetime import timedelta

import pytest
from django.db.models import F
from django.utils import timezone

from approval_flows.models import Notification
from approval_flows.notifications import FRESH_GRACE, STALE_CLAIM
from requests_app.sweep import sweep_due
from tests.integration.conftest import in_process_broker, wait_for, worker_env

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

DELIVERY_SECONDS = 40


def assert_each_sent_exactly_once(smtp_server, twilio_server) -> None:
    """Every outbox row was sent, and each reached its provider once (its body is unique)."""
    rows = list(Notification.objects.all())
    assert {row.status for row in rows} == {"sent"}, [(r.pk, r.status) for r in rows]
    emails = [row.body_text.strip() for row in rows if row.channel == "email"]
    received = [mail.text.replace("\r\n", "\n").strip() for mail in smtp_server.messages]
    assert sorted(received) == sorted(emails)
    assert len(set(received)) == len(received)
    texts = sorted(row.body_text for row in rows if row.channel == "sms")
    assert sorted(m["Body"] for m in twilio_server.messages) == texts


def all_sent(expected: int):
    def check() -> bool:
        return Notification.objects.filter(status="sent").count() == expected

    return check


def outbox_state() -> str:
    rows = Notification.objects.order_by("pk").values_list("pk", "channel", "status", "attempts")
    return f"every notification sent; the outbox: {list(rows)}"


def stall_first_recipient(smtp_server) -> threading.Event:
    """Hold the first RCPT TO for a while (the worker is mid-conversation); set an event then."""
    handler = smtp_server._controller.handler
    original = handler.handle_RCPT
    stalled = threading.Event()

    async def handle_rcpt(server, session, envelope, address, rcpt_options):
        if not stalled.is_set():
            stalled.set()
            await asyncio.sleep(8)
        return await original(server, session, envelope, address, rcpt_options)

    handler.handle_RCPT = handle_rcpt
    return stalled


def test_a_worker_killed_while_sending_sends_everything_once_after_restart(
    shared_broker, smtp_server, twilio_server, start_worker, scenario
):
    stalled = stall_first_recipient(smtp_server)
    with in_process_broker(shared_broker):
        env = worker_env(shared_broker, smtp_server, twilio_server)
        worker = start_worker(env)
        scenario.ask("google-calendar_events_create")
        scenario.ask("google-calendar_events_update")
        expected = Notification.objects.count()
        assert expected == 6

        assert stalled.wait(timeout=DELIVERY_SECONDS), worker.log()
        worker.kill()
        [claimed] = Notification.objects.filter(status="sending")
        assert smtp_server.messages == []

        # As if STALE_CLAIM had passed: the claim of the dead worker is now stale.
        Notification.objects.filter(pk=claimed.pk).update(
            claimed_at=F("claimed_at") - STALE_CLAIM - timedelta(seconds=1)
        )
        start_worker(env)
        assert sweep_due().notifications >= 1
        wait_for(all_sent(expected), timeout=DELIVERY_SECONDS, what=outbox_state)

    assert_each_sent_exactly_once(smtp_server, twilio_server)
    claimed.refresh_from_db()
    assert claimed.attempts == 2


def test_requests_made_while_the_broker_is_down_are_sent_once_it_is_back(
    private_redis, smtp_server, twilio_server, start_worker, scenario
):
    with in_process_broker(private_redis.url):
        start_worker(worker_env(private_redis.url, smtp_server, twilio_server))
        scenario.ask("google-calendar_events_create")
        wait_for(all_sent(3), timeout=DELIVERY_SECONDS, what=outbox_state)

        private_redis.stop()
        scenario.ask("google-calendar_events_update")  # the web path answers without a broker
        scenario.ask("google-calendar_events_move")
        assert Notification.objects.filter(status="pending").count() == 6

        private_redis.start()
        # The sweep hands over rows older than FRESH_GRACE; move its clock past that instead.
        report = sweep_due(now=timezone.now() + FRESH_GRACE + timedelta(seconds=1))
        assert report.notifications == 6
        wait_for(all_sent(9), timeout=DELIVERY_SECONDS, what=outbox_state)

    assert_each_sent_exactly_once(smtp_server, twilio_server)

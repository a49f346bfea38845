"""Faults: a worker killed while sending (once, mid-SMTP; and at random during 1,000 sends).

What the outbox guarantees when a worker dies (see approval_flows/notifications.py):
- Nothing is lost: a claim older than STALE_CLAIM goes back to pending at the next sweep.
- A message goes out twice only when the worker died after the provider accepted it (SMTP's
  250 to DATA, Twilio's 201) and before the row was marked sent: one SMTP QUIT and one UPDATE.
  A duplicate is then a row retried after a lost claim (attempts > 1), at most one per pool
  process per crash. Any other death (before or during the conversation) sends it once.
The broker here is a private redis-server; the broker-outage test is in test_faults_broker.py.
"""

from __future__ import annotations

import asyncio
import random
import threading
from collections import Counter
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


SENDS = 1000
SMS_EVERY = 4  # one notification in four is an SMS
KILLS = 4
POOL = 2
KILL_SEED = 20260611


def fill_outbox(count: int) -> None:
    """`count` pending rows, old enough for the sweep to hand out; each body is unique."""
    created = timezone.now() - FRESH_GRACE - timedelta(seconds=1)
    rows = [
        Notification(
            channel="sms" if n % SMS_EVERY == 0 else "email",
            address=f"+1555{n:07d}" if n % SMS_EVERY == 0 else f"approver{n}@example.com",
            occasion="new_request",
            subject=f"Approve request {n}",
            body_text=f"Request {n} waits for your approval.",
            created_at=created,
            next_attempt_at=created,
        )
        for n in range(count)
    ]
    Notification.objects.bulk_create(rows)


def deliveries(smtp_server, twilio_server) -> Counter[int]:
    """How many times each notification reached its provider (by Message-ID, or SMS body)."""
    by_body = dict(Notification.objects.filter(channel="sms").values_list("body_text", "pk"))
    counts = Counter(
        int(mail.message["Message-ID"].strip("<>")[1:].split(".")[0])
        for mail in smtp_server.messages
    )
    counts.update(by_body[sms["Body"]] for sms in twilio_server.messages)
    return counts


def reached(threshold: int, smtp_server, twilio_server):
    def check() -> bool:
        return len(smtp_server.messages) + len(twilio_server.messages) >= threshold

    return check


def after_the_crash() -> None:
    """As if STALE_CLAIM had passed since the kill: the dead pool's claims are stale."""
    Notification.objects.filter(status="sending").update(
        claimed_at=F("claimed_at") - STALE_CLAIM - timedelta(seconds=1)
    )


def test_a_worker_killed_at_random_during_1000_sends_loses_nothing(
    private_redis, smtp_server, twilio_server, start_worker, transactional_db
):
    fill_outbox(SENDS)
    rng = random.Random(KILL_SEED)
    kill_at = sorted(rng.sample(range(SENDS // 10, SENDS * 9 // 10), KILLS))
    with in_process_broker(private_redis.url):
        env = worker_env(private_redis.url, smtp_server, twilio_server)
        worker = start_worker(env, concurrency=POOL)
        assert sweep_due().notifications == SENDS
        for threshold in kill_at:
            wait_for(
                reached(threshold, smtp_server, twilio_server),
                timeout=DELIVERY_SECONDS,
                what=f"{threshold} deliveries",
                every=rng.uniform(0.002, 0.02),  # the kill lands anywhere in a send
            )
            worker.kill()
            after_the_crash()
            worker = start_worker(env, concurrency=POOL)
            assert sweep_due().errors == []
        wait_for(all_sent(SENDS), timeout=DELIVERY_SECONDS * 2, what=outbox_state)

    counts = deliveries(smtp_server, twilio_server)
    assert sorted(counts) == sorted(Notification.objects.values_list("pk", flat=True))
    twice = {pk for pk, times in counts.items() if times > 1}
    assert max(counts.values()) <= 2
    retried = set(Notification.objects.filter(attempts__gt=1).values_list("pk", flat=True))
    assert twice <= retried
    assert len(twice) <= KILLS * POOL

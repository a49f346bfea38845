"""Faults: Redis restarted five times under a worker and beat that run as deployed.

- A web process (this one, through Django's test client), a worker (prefork, two processes,
  heartbeats, mingle and gossip on, as in the Procfile) and beat (sweeping every 2 s) on a
  private redis-server without persistence, so a restart also forgets every queued message.
- Each outage: requests before it, Redis stopped (20 s the first time, then 6 s) while gateways
  keep asking, an approver decides one request (its webhook and messages are queued while Redis
  is away) and a reminder falls due; Redis started again, more requests after. Every answer is
  a 200; once Redis is back every email, SMS, reminder and webhook arrives exactly once within a
  minute; the same worker and beat processes are still running; a sweep has ended since the
  return and /healthz answers 200.
- Two ways: with the worker idle when Redis stops, and with the worker holding an
  unacknowledged message (its send stalled on the SMTP server) while its other pool process
  polls for the next: the case where Celery 5.7.0 died for good
  ("Unrecoverable error: AttributeError … 'hostname'"; see pyproject.toml's pin).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from datetime import datetime, timedelta

import pytest
from django.db.models import Count
from django.utils import timezone

from agenwork.heartbeat import SWEEP, heartbeat_last
from approval_flows.models import Notification
from directory.models import Person
from gateways.services import api_key_create
from requests_app.models import AccessRequest, WebhookDelivery
from requests_app.services import Actor, request_approve
from tests.integration.conftest import in_process_broker, wait_for, worker_env
from tests.support.smtp import SmtpServer
from tests.support.webhooks import Receiver

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

# How long Redis stays away each time: once as long as a routine restart takes, then shorter.
OUTAGE_SECONDS = (20, 6, 6, 6, 6)
OUTAGES = len(OUTAGE_SECONDS)
BACK_WITHIN = 60  # seconds from Redis's return to the last message sent
SWEEP_INTERVAL_SECONDS = 2
BEFORE, DURING, AFTER = 2, 3, 2  # requests around each outage
DANA = Actor(name="Dana Levi", channel="web")


class StalledSmtp:
    """Hold the next message at RCPT TO until released: its worker process waits mid-send."""

    def __init__(self, smtp_server: SmtpServer) -> None:
        handler = smtp_server._controller.handler
        self.original = handler.handle_RCPT
        handler.handle_RCPT = self.handle_rcpt
        self.armed = False
        self.holding = threading.Event()
        self.released = threading.Event()

    def arm(self) -> None:
        self.released.clear()
        self.holding.clear()
        self.armed = True

    def release(self) -> None:
        self.released.set()

    async def handle_rcpt(self, server, session, envelope, address, rcpt_options):
        if self.armed:
            self.armed = False
            self.holding.set()
            await asyncio.to_thread(self.released.wait, 60)
        return await self.original(server, session, envelope, address, rcpt_options)


class Gateway:
    """A gateway with a webhook: asks for a new person each time, the API must answer 200."""

    def __init__(self, scenario, receiver: Receiver) -> None:
        issued = api_key_create(name="hooked gateway", webhook_url=receiver.url)
        receiver.secret = issued.webhook_secret
        self.scenario, self.key, self.asked = scenario, issued.raw_key, 0

    def ask(self) -> AccessRequest:
        self.asked += 1
        number = self.asked
        person = Person.objects.create(name=f"Agent user {number}", email=f"a{number}@example.com")
        tool = self.scenario.tools[0].key
        body = {"user": person.email, "connector": "google-calendar", "tools": [tool]}
        response = self.scenario.client.post(
            "/api/v1/decisions",
            body,
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {self.key}",
        )
        assert response.status_code == 200, (response.status_code, response.content)
        assert response.json()["decision"] == "approval_required", response.json()
        return AccessRequest.objects.get(public_id=response.json()["request"]["id"])


def everything_delivered(reminded: AccessRequest):
    """The reminder is queued, every notification is sent and every webhook delivered."""

    def check() -> bool:
        reminders = Notification.objects.filter(
            request_public_id=reminded.public_id, occasion="reminder"
        )
        undelivered = WebhookDelivery.objects.exclude(status="delivered")
        unsent = Notification.objects.exclude(status="sent")
        return reminders.exists() and not undelivered.exists() and not unsent.exists()

    return check


def sent_is(count: int):
    def check() -> bool:
        return Notification.objects.filter(status="sent").count() == count

    return check


def while_alive(worker, check, outage: int):
    """`check`, but fail at once (with the worker's log) when the worker process has exited."""

    def checked() -> bool:
        assert worker.alive(), f"the worker died in outage {outage}:\n{worker.log()}"
        return check()

    return checked


def outbox_counts() -> str:
    counts = dict(Notification.objects.values_list("status").annotate(Count("pk")))
    hooks = dict(WebhookDelivery.objects.values_list("status").annotate(Count("pk")))
    return f"everything sent; notifications by status: {counts}, webhooks: {hooks}"


def email_deliveries(smtp_server: SmtpServer) -> Counter[int]:
    """How many times each email notification reached the SMTP server (by its Message-ID)."""
    return Counter(
        int(mail.message["Message-ID"].strip("<>")[1:].split(".")[0])
        for mail in smtp_server.messages
    )


def assert_everything_sent_once(smtp_server: SmtpServer, twilio_server) -> None:
    emails = set(Notification.objects.filter(channel="email").values_list("pk", flat=True))
    received = email_deliveries(smtp_server)
    assert set(received) == emails
    assert [pk for pk, times in received.items() if times > 1] == []
    texts = Counter(m["Body"] for m in twilio_server.messages)
    expected = Counter(
        Notification.objects.filter(channel="sms").values_list("body_text", flat=True)
    )
    assert texts == expected and max(expected.values()) == 1


def assert_each_webhook_delivered_once(receiver: Receiver) -> None:
    deliveries = set(WebhookDelivery.objects.values_list("pk", flat=True))
    hits = Counter(int(hit.headers["Agenwork-Delivery"]) for hit in receiver.hits)
    assert set(hits) == deliveries and set(hits.values()) == {1}
    assert all(hit.verified for hit in receiver.hits)


def swept_since(moment: datetime) -> bool:
    last = heartbeat_last(name=SWEEP)
    return last is not None and last > moment


@pytest.mark.parametrize("worker_busy", [False, True], ids=["worker-idle", "worker-holding"])
def test_the_worker_survives_five_redis_restarts_and_every_approver_is_told_once(
    worker_busy,
    private_redis,
    smtp_server,
    twilio_server,
    receiver,
    start_worker,
    start_beat,
    scenario,
    settings,
    client,
):
    settings.CELERY_BROKER_URL = private_redis.url  # what /healthz pings
    stall = StalledSmtp(smtp_server)
    gateway = Gateway(scenario, receiver)
    env = worker_env(private_redis.url, smtp_server, twilio_server)
    env["SWEEP_INTERVAL_SECONDS"] = str(SWEEP_INTERVAL_SECONDS)
    with in_process_broker(private_redis.url):
        worker = start_worker(env, concurrency=2, as_deployed=True)
        beat = start_beat(env)
        wait_for(lambda: heartbeat_last(name=SWEEP), timeout=60, what=beat.log)
        for outage in range(OUTAGES):
            if worker_busy:
                stall.arm()
            before = [gateway.ask() for _ in range(BEFORE)]
            expected = Notification.objects.count()
            if worker_busy:
                # One send held at the SMTP server, every other one done: the worker's other
                # process is idle, so its consumer is polling Redis while holding a message.
                assert stall.holding.wait(30), worker.log()
                wait_for(sent_is(expected - 1), timeout=30, what=outbox_counts)
            else:
                wait_for(sent_is(expected), timeout=30, what=outbox_counts)

            private_redis.stop()
            for _ in range(DURING):
                gateway.ask()
            decided, reminded = before
            request_approve(access_request=decided, actor=DANA)
            AccessRequest.objects.filter(pk=reminded.pk).update(next_reminder_at=timezone.now())
            stall.release()
            time.sleep(OUTAGE_SECONDS[outage])  # the outage itself: how long Redis stays away
            private_redis.start()
            back = timezone.now()
            for _ in range(AFTER):
                gateway.ask()

            wait_for(
                while_alive(worker, everything_delivered(reminded), outage + 1),
                timeout=BACK_WITHIN,
                what=lambda n=outage + 1: f"outage {n}: {outbox_counts()}\n{worker.log()}",
                every=0.2,
            )
            late = Notification.objects.filter(sent_at__gt=back + timedelta(seconds=BACK_WITHIN))
            assert list(late.values_list("pk", "sent_at")) == []
            assert Notification.objects.filter(occasion="reminder").count() == 3 * (outage + 1)
            assert worker.alive(), f"the worker died in outage {outage + 1}:\n{worker.log()}"
            assert beat.alive(), f"beat died in outage {outage + 1}:\n{beat.log()}"
            wait_for(lambda: swept_since(back), timeout=BACK_WITHIN, what=beat.log)  # noqa: B023
            response = client.get("/healthz")
            assert response.status_code == 200, response.json()

    assert gateway.asked == OUTAGES * (BEFORE + DURING + AFTER)
    assert WebhookDelivery.objects.count() == OUTAGES
    assert_everything_sent_once(smtp_server, twilio_server)
    assert_each_webhook_delivered_once(receiver)
    assert "Unrecoverable error" not in worker.log()

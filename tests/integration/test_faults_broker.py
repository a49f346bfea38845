"""Faults: the broker (Redis) stopped while 1,000 requests come in through the gateway API.

- 1,000 agents ask for a write that needs approval; each request queues an email and an SMS to
  Dana. The broker, a private redis-server without persistence, stops after 200 requests and
  is back after 800.
- Every answer is a 200 with the request, every request has its two outbox rows, and once the
  broker is back the sweep (run here every 10 s as beat would) hands out what the broker lost
  or never got: each message reaches the SMTP server or the Twilio stand-in once, within 60 s
  of the broker's return (or of its creation, for the later ones).
- While the broker is down the web process does not wait on it (`agenwork.broker`): the
  requests of the outage are about as fast as the others.
- The worker rides the outage out: the same process reconnects and sends what is due
  (test_faults_redis_restart.py restarts Redis five times under a worker and beat as deployed).
"""

from __future__ import annotations

import statistics
import time
from collections import Counter
from datetime import datetime, timedelta

import pytest
from django.conf import settings
from django.db.models import Count
from django.utils import timezone

from approval_flows.models import Notification
from directory.models import Person
from requests_app.models import AccessRequest
from requests_app.sweep import sweep_due
from tests.integration.conftest import Worker, in_process_broker, wait_for, worker_env

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

REQUESTS = 1000
BROKER_STOPS_AFTER = 200
BROKER_BACK_AFTER = 800
SENT_WITHIN = timedelta(seconds=60)
# Generous for 2 shared cores; a request waiting on the dead broker took 1.5 s before the pause.
OUTAGE_MEDIAN_SECONDS = 0.25
POOL = 3


def requesters(count: int) -> list[Person]:
    people = [Person(name=f"Agent user {n}", email=f"agent{n}@example.com") for n in range(count)]
    return Person.objects.bulk_create(people)


def ask(scenario, person: Person) -> float:
    """One approval_required call through the gateway API; return how long it took."""
    body = {"user": person.email, "connector": "google-calendar", "tools": [scenario.tools[0].key]}
    started = time.monotonic()
    response = scenario.client.post(
        "/api/v1/decisions",
        body,
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {scenario.key}",
    )
    took = time.monotonic() - started
    assert response.status_code == 200, (person.email, response.status_code, response.content)
    assert response.json()["decision"] == "approval_required", response.json()
    return took


def message_ids(smtp_server) -> Counter[int]:
    """How many times each notification reached the SMTP server (its id is in the Message-ID)."""
    return Counter(
        int(m.message["Message-ID"].strip("<>")[1:].split(".")[0]) for m in smtp_server.messages
    )


def assert_each_row_sent_once(smtp_server, twilio_server) -> None:
    emails = Notification.objects.filter(channel="email").values_list("pk", flat=True)
    received = message_ids(smtp_server)
    assert set(received) == set(emails)
    assert [pk for pk, times in received.items() if times > 1] == []
    texts = Counter(m["Body"] for m in twilio_server.messages)
    expected = Counter(
        Notification.objects.filter(channel="sms").values_list("body_text", flat=True)
    )
    assert texts == expected
    assert max(expected.values()) == 1  # each SMS body names its own request


def assert_sent_in_time(broker_back: datetime) -> None:
    """Each row was sent within SENT_WITHIN of its creation or of the broker's return."""
    late = [
        (row.pk, row.created_at, row.sent_at)
        for row in Notification.objects.all()
        if row.sent_at - max(row.created_at, broker_back) > SENT_WITHIN
    ]
    assert late == []


def test_a_broker_outage_during_1000_requests_loses_nothing_and_sends_each_message_once(
    private_redis, smtp_server, twilio_server, start_worker, scenario
):
    scenario.flow.levels.get().people.remove(scenario.eli)  # Dana: one email and one SMS
    people = requesters(REQUESTS)
    durations: list[float] = []
    with in_process_broker(private_redis.url):
        env = worker_env(private_redis.url, smtp_server, twilio_server)
        worker = start_worker(env, concurrency=POOL)
        beat = Beat(2 * REQUESTS, worker)
        for number, person in enumerate(people):
            if number == BROKER_STOPS_AFTER:
                private_redis.stop()
            if number == BROKER_BACK_AFTER:
                private_redis.start()
                broker_back = timezone.now()
            if number % 50 == 0 and not BROKER_STOPS_AFTER <= number < BROKER_BACK_AFTER:
                beat()  # beat runs while requests come in; it fails without a broker
            durations.append(ask(scenario, person))

        assert AccessRequest.objects.count() == REQUESTS
        per_request = Notification.objects.values("request_public_id").annotate(n=Count("pk"))
        assert {row["n"] for row in per_request} == {2}
        assert len(per_request) == REQUESTS

        remaining = (broker_back + SENT_WITHIN - timezone.now()).total_seconds()
        wait_for(beat, timeout=remaining, what=outbox_counts, every=0.5)

    assert_each_row_sent_once(smtp_server, twilio_server)
    assert_sent_in_time(broker_back)
    outage = durations[BROKER_STOPS_AFTER:BROKER_BACK_AFTER]
    assert statistics.median(outage) < OUTAGE_MEDIAN_SECONDS, statistics.median(outage)


class Beat:
    """Run the sweep every SWEEP_INTERVAL_SECONDS, on the real clock, as beat would.

    - Called between requests and while waiting; fails at once if the worker has exited.
    - The sweep hands out every row created until the broker's last refusal (and its pause)
      ended, and later rows still pending FRESH_GRACE after their creation (the ones published
      before a worker declared the queue again).
    """

    def __init__(self, expected: int, worker: Worker) -> None:
        self.expected = expected
        self.worker = worker
        self.last_sweep = float("-inf")

    def __call__(self) -> bool:
        if Notification.objects.filter(status="sent").count() == self.expected:
            return True
        assert self.worker.alive(), f"the worker exited:\n{self.worker.log()}"
        if time.monotonic() - self.last_sweep >= settings.CELERY_BEAT_SCHEDULE["sweep"]["schedule"]:
            self.last_sweep = time.monotonic()
            assert sweep_due().errors == []
        return False


def outbox_counts() -> str:
    counts = dict(Notification.objects.values_list("status").annotate(Count("pk")))
    return f"every notification sent; the outbox by status: {counts}"

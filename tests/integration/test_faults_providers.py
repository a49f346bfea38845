"""Faults: SMTP and Twilio answering errors to a real worker.

- A temporary error (SMTP 451, Twilio 500) puts the row back to pending with the first backoff
  delay; the sweep hands it out again when that time comes, and it is sent once.
- A permanent error (SMTP 550, Twilio 400 with its error code) fails the row for good; the reason
  shows in the request's notification history (the review panel's partial).
- Either way the worker keeps running and sends the next request's messages.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from approval_flows.models import Notification
from approval_flows.notifications import BACKOFF
from requests_app.sweep import sweep_due
from tests.factories import UserFactory
from tests.integration.conftest import in_process_broker, wait_for, worker_env

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

DELIVERY_SECONDS = 30
HTMX = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "panel"}


@pytest.fixture
def worker(private_redis, smtp_server, twilio_server, start_worker, scenario):
    with in_process_broker(private_redis.url):
        yield start_worker(worker_env(private_redis.url, smtp_server, twilio_server))


def settled(access_request, expected: dict[tuple[str, str], str]):
    """True once each (address, channel) row of the request has its expected status."""

    def check() -> bool:
        rows = Notification.objects.filter(request_public_id=access_request.public_id)
        found = {(row.address, row.channel): row.status for row in rows}
        return found == expected

    return check


def rows_of(access_request) -> dict[tuple[str, str], Notification]:
    rows = Notification.objects.filter(request_public_id=access_request.public_id)
    return {(row.address, row.channel): row for row in rows}


def assert_worker_still_sends(worker, scenario, tool_key: str) -> None:
    """The same worker process, still alive, sends a fresh request's three messages."""
    pid = worker.process.pid
    fresh = scenario.ask(tool_key)
    wait_for(
        lambda: set(rows_of(fresh)) and {r.status for r in rows_of(fresh).values()} == {"sent"},
        timeout=DELIVERY_SECONDS,
        what=lambda: f"the next request's messages; the worker's log:\n{worker.log()}",
    )
    assert worker.process.poll() is None and worker.process.pid == pid
    assert "Traceback" not in worker.log()


def test_temporary_errors_are_retried_after_the_backoff_and_sent_once(
    worker, scenario, smtp_server, twilio_server
):
    smtp_server.refuse("dana@example.com", "451 4.3.0 Mailbox busy, try again later")
    twilio_server.fail_next(500, 20500, "Internal Server Error")
    asked = scenario.ask("google-calendar_events_create")
    waiting = {
        ("dana@example.com", "email"): "pending",
        ("+15550100", "sms"): "pending",
        ("eli@example.com", "email"): "sent",
    }
    wait_for(settled(asked, waiting), timeout=DELIVERY_SECONDS, what=lambda: worker.log())
    retried = [rows_of(asked)[("dana@example.com", "email")], rows_of(asked)[("+15550100", "sms")]]
    for row in retried:
        assert row.attempts == 1
        assert timezone.now() < row.next_attempt_at <= timezone.now() + BACKOFF[0]
    assert "SMTP 451" in retried[0].last_error
    assert "Twilio 500 (error 20500)" in retried[1].last_error

    smtp_server.rcpt_replies.clear()
    assert sweep_due().notifications == 0  # not due before the backoff is over
    # As if BACKOFF[0] had passed.
    Notification.objects.filter(pk__in=[row.pk for row in retried]).update(
        next_attempt_at=timezone.now() - timedelta(seconds=1)
    )
    assert sweep_due().notifications == 2
    done = {key: "sent" for key in waiting}
    wait_for(settled(asked, done), timeout=DELIVERY_SECONDS, what=lambda: worker.log())
    assert {row.attempts for row in rows_of(asked).values()} == {1, 2}
    assert sorted(m.rcpt_tos[0] for m in smtp_server.messages) == [
        "dana@example.com",
        "eli@example.com",
    ]
    assert [m["To"] for m in twilio_server.messages] == ["+15550100"]
    assert_worker_still_sends(worker, scenario, "google-calendar_events_update")


def test_permanent_errors_fail_the_message_visibly_and_the_worker_goes_on(
    worker, scenario, smtp_server, twilio_server
):
    smtp_server.refuse("eli@example.com", "550 5.1.1 No such user here")
    twilio_server.fail_next(400, 21211, "The 'To' number +15550100 is not a valid phone number.")
    asked = scenario.ask("google-calendar_events_create")
    outcome = {
        ("dana@example.com", "email"): "sent",
        ("+15550100", "sms"): "failed",
        ("eli@example.com", "email"): "failed",
    }
    wait_for(settled(asked, outcome), timeout=DELIVERY_SECONDS, what=lambda: worker.log())
    assert sweep_due().notifications == 0  # a failed row is never handed out again

    admin = Client()
    admin.force_login(UserFactory(username="admin", is_staff=True, is_superuser=True))
    panel = admin.get(f"/requests/{asked.public_id}/", **HTMX).content.decode()
    assert "SMTP 550: 5.1.1 No such user here" in panel
    assert "Twilio 400 (error 21211): Unable to create record: The &#x27;To&#x27; number" in panel
    assert panel.count("notification-failed") == 2

    smtp_server.rcpt_replies.clear()
    assert_worker_still_sends(worker, scenario, "google-calendar_events_update")

"""End to end with a real Celery worker on Redis: the gateway asks, approvers get mail and SMS.

The worker is a subprocess (`celery -A agenwork worker -P solo`) reading the pytest database;
mail goes to a real SMTP server (aiosmtpd) and SMS to a local Twilio stand-in.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from approval_flows.models import Notification
from requests_app.models import AccessRequest
from requests_app.services import Actor, request_approve
from requests_app.tasks import sweep
from tests.integration.conftest import in_process_broker, wait_for, worker_env

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

DELIVERY_SECONDS = 30


def mail_to(smtp_server, address: str) -> list:
    return [m for m in smtp_server.messages if address in m.rcpt_tos]


def sms_to(twilio_server, phone: str) -> list[dict[str, str]]:
    return [m for m in twilio_server.messages if m.get("To") == phone]


@pytest.fixture
def worker(shared_broker, smtp_server, twilio_server, start_worker, scenario):
    with in_process_broker(shared_broker):
        yield start_worker(worker_env(shared_broker, smtp_server, twilio_server))


def test_a_new_request_reaches_each_approver_by_email_and_sms_within_seconds(
    worker, scenario, smtp_server, twilio_server
):
    access_request = scenario.ask("google-calendar_events_create")

    wait_for(
        lambda: len(smtp_server.messages) >= 2 and len(twilio_server.messages) >= 1,
        timeout=DELIVERY_SECONDS,
        what=lambda: (
            f"two emails and one SMS (got {len(smtp_server.messages)} and "
            f"{len(twilio_server.messages)}); the worker's log:\n{worker.log()}"
        ),
    )
    [to_dana] = mail_to(smtp_server, "dana@example.com")
    [to_eli] = mail_to(smtp_server, "eli@example.com")
    assert to_dana.message["Subject"] == "Approve Ana Lopez's request: Google Calendar"
    assert "google-calendar_events_create" in to_dana.text
    assert "/a/" in to_dana.text and "/a/" in to_eli.text
    assert to_dana.html
    [sms] = sms_to(twilio_server, "+15550100")
    assert f"A {access_request.sms_code}" in sms["Body"]
    rows = Notification.objects.filter(request_public_id=access_request.public_id)
    assert set(rows.values_list("status", flat=True)) == {"sent"}
    assert rows.count() == 3


def test_the_requester_is_told_the_outcome_only_when_the_flow_says_so(
    worker, scenario, smtp_server
):
    told = scenario.ask("google-calendar_events_create")
    wait_for(lambda: len(smtp_server.messages) == 2, timeout=DELIVERY_SECONDS, what="2 emails")
    with transaction.atomic():
        request_approve(access_request=told, actor=Actor(name="Admin", channel="web"))
    [outcome] = wait_for(
        lambda: mail_to(smtp_server, "ana@example.com"),
        timeout=DELIVERY_SECONDS,
        what="the outcome email to Ana",
    )
    assert outcome.message["Subject"] == "Your request was approved: Google Calendar"

    scenario.flow.notify_requester = False
    scenario.flow.save()
    silent = scenario.ask("google-calendar_events_update")
    with transaction.atomic():
        request_approve(access_request=silent, actor=Actor(name="Admin", channel="web"))
    wait_for(
        lambda: len(mail_to(smtp_server, "eli@example.com")) == 4,
        timeout=DELIVERY_SECONDS,
        what="Eli's request and decided-elsewhere emails for both requests",
    )
    assert len(mail_to(smtp_server, "ana@example.com")) == 1


def test_the_beat_sweep_task_sends_a_due_reminder_through_the_worker(worker, scenario, smtp_server):
    access_request = scenario.ask("google-calendar_events_create")
    wait_for(lambda: len(smtp_server.messages) == 2, timeout=DELIVERY_SECONDS, what="2 emails")
    AccessRequest.objects.filter(pk=access_request.pk).update(
        next_reminder_at=timezone.now() - timedelta(seconds=1)
    )

    sweep.delay()  # what beat sends every few seconds; the worker runs the sweep itself

    def both_reminders() -> list:
        found = [m for m in smtp_server.messages if m.message["Subject"].startswith("Reminder")]
        return found if len(found) == 2 else []

    reminders = wait_for(both_reminders, timeout=DELIVERY_SECONDS, what="the reminder emails")
    assert sorted(m.rcpt_tos[0] for m in reminders) == ["dana@example.com", "eli@example.com"]
    access_request.refresh_from_db()
    assert access_request.reminders_sent == 1

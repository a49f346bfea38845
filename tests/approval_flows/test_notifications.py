"""The outbox service: queue once, send after commit, claim once, retry with backoff, reclaim."""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone
from kombu.exceptions import OperationalError

from agenwork.broker import BROKER_REFUSED, PAUSE_SECONDS
from agenwork.heartbeat import heartbeat_last, heartbeat_mark
from approval_flows import tasks
from approval_flows.models import Notification
from approval_flows.notifications import (
    BACKOFF,
    FRESH_GRACE,
    MAX_ATTEMPTS,
    STALE_CLAIM,
    notification_due_ids,
    notification_send,
)
from approval_flows.transports import EmailTransport

Status = Notification.Status
SMS = Notification.Channel.SMS


@pytest.fixture
def enqueued(monkeypatch) -> list[int]:
    """The ids handed to send_notification.delay (no broker involved)."""
    ids: list[int] = []
    monkeypatch.setattr(tasks.send_notification, "delay", ids.append)
    return ids


def test_queue_writes_a_pending_row(queue, dana):
    notification = queue()

    assert notification.status == Status.PENDING
    assert notification.attempts == 0
    assert notification.recipient == dana
    assert notification.address == "dana@example.com"
    assert notification.next_attempt_at <= timezone.now()


def test_queue_twice_writes_one_row_and_returns_none(queue):
    first = queue()
    second = queue()

    assert first is not None
    assert second is None
    assert Notification.objects.count() == 1


def test_a_new_sequence_is_a_new_notification(queue):
    queue(occasion=Notification.Occasion.REMINDER, sequence=1)
    queue(occasion=Notification.Occasion.REMINDER, sequence=2)

    assert Notification.objects.count() == 2


def test_sms_to_a_person_without_phone_is_not_queued(queue):
    assert queue(channel=SMS, address="") is None
    assert not Notification.objects.exists()


def test_send_is_enqueued_only_after_commit(queue, enqueued, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        notification = queue()
        assert enqueued == []

    assert enqueued == [notification.pk]


def test_duplicate_queue_enqueues_nothing(queue, enqueued, django_capture_on_commit_callbacks):
    queue()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        queue()

    assert callbacks == []


def test_broker_outage_does_not_break_the_caller(
    queue, monkeypatch, django_capture_on_commit_callbacks
):
    def broker_down(notification_id):
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(tasks.send_notification, "delay", broker_down)
    with django_capture_on_commit_callbacks(execute=True):
        notification = queue()

    later = timezone.now() + FRESH_GRACE + timedelta(seconds=1)
    assert notification_due_ids(now=later) == [notification.pk]


def test_after_commit_task_delivers_the_email(
    queue, smtp_server, celery_eager, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        notification = queue()

    notification.refresh_from_db()
    assert notification.status == Status.SENT
    assert [mail.rcpt_tos for mail in smtp_server.messages] == [["dana@example.com"]]


def test_email_arrives_with_text_and_html(queue, smtp_server):
    notification = queue()

    assert notification_send(notification_id=notification.pk) == Status.SENT

    notification.refresh_from_db()
    assert notification.status == Status.SENT
    assert notification.attempts == 1
    assert notification.sent_at is not None
    assert notification.claimed_at is None
    (mail,) = smtp_server.messages
    assert mail.message["Subject"] == "Ana Lopez asks to use Google Calendar"
    assert mail.message["Message-ID"] == f"<{notification.provider_id}>"
    assert "Ana Lopez asks to create calendar events." in mail.text
    assert "<p>Ana Lopez asks to create calendar events.</p>" in mail.html


def test_sms_goes_through_the_twilio_sdk(queue, twilio_server, settings):
    notification = queue(channel=SMS)

    assert notification_send(notification_id=notification.pk) == Status.SENT

    notification.refresh_from_db()
    (message,) = twilio_server.messages
    assert message["To"] == "+15550100"
    assert message["From"] == twilio_server.from_number
    assert message["Body"] == notification.body_text
    assert message["StatusCallback"] == settings.SITE_URL + "/webhooks/twilio/status"
    assert notification.provider_id.startswith("SM")
    assert notification.status == Status.SENT


def test_sms_without_twilio_is_logged_and_counts_as_sent(queue, settings, caplog):
    settings.TWILIO_ACCOUNT_SID = settings.TWILIO_AUTH_TOKEN = settings.TWILIO_FROM_NUMBER = ""
    notification = queue(channel=SMS)

    with caplog.at_level(logging.INFO, logger="agenwork.sms"):
        assert notification_send(notification_id=notification.pk) == Status.SENT

    assert "+15550100" in caplog.text
    assert notification.body_text in caplog.text


@pytest.mark.parametrize("status", [500, 503, 429])
def test_temporary_failure_goes_back_to_pending_with_backoff(queue, twilio_server, status):
    notification = queue(channel=SMS)
    twilio_server.fail_next(status, message="Try later")
    now = timezone.now()

    assert notification_send(notification_id=notification.pk, now=now) == Status.PENDING

    notification.refresh_from_db()
    assert notification.status == Status.PENDING
    assert notification.attempts == 1
    assert notification.next_attempt_at == now + BACKOFF[0]
    assert notification.claimed_at is None
    assert str(status) in notification.last_error


def test_retry_waits_for_its_time_then_sends(queue, twilio_server):
    notification = queue(channel=SMS)
    twilio_server.fail_next(500)
    now = timezone.now()
    notification_send(notification_id=notification.pk, now=now)

    assert notification_send(notification_id=notification.pk, now=now + BACKOFF[0] / 2) == "not_due"
    assert notification_send(notification_id=notification.pk, now=now + BACKOFF[0]) == Status.SENT

    notification.refresh_from_db()
    assert notification.attempts == 2
    assert notification.last_error == ""
    assert len(twilio_server.messages) == 1


def test_permanent_failure_stops_and_is_visible(queue, twilio_server):
    notification = queue(channel=SMS)
    twilio_server.fail_next(400, 21211, "The 'To' number +15550100 is not a valid phone number.")

    assert notification_send(notification_id=notification.pk) == Status.FAILED

    notification.refresh_from_db()
    assert notification.status == Status.FAILED
    assert "21211" in notification.last_error
    later = timezone.now() + timedelta(days=1)
    assert notification_send(notification_id=notification.pk, now=later) == "not_due"
    assert notification.pk not in notification_due_ids(now=later)


def test_refused_email_recipient_fails_for_good(queue, smtp_server):
    smtp_server.refuse("dana@example.com", "550 5.1.1 No such user here")
    notification = queue()

    assert notification_send(notification_id=notification.pk) == Status.FAILED

    notification.refresh_from_db()
    assert notification.last_error.startswith("SMTP 550")
    assert smtp_server.messages == []


def test_greylisted_email_is_retried(queue, smtp_server):
    smtp_server.refuse("dana@example.com", "451 4.7.1 Greylisted, try again later")
    notification = queue()

    assert notification_send(notification_id=notification.pk) == Status.PENDING

    notification.refresh_from_db()
    assert notification.last_error.startswith("SMTP 451")


def test_attempts_exhausted_fail_after_the_whole_backoff(queue, twilio_server):
    notification = queue(channel=SMS)
    now = timezone.now()
    waits = []
    for _ in range(MAX_ATTEMPTS):
        twilio_server.fail_next(503)
        outcome = notification_send(notification_id=notification.pk, now=now)
        notification.refresh_from_db()
        waits.append(notification.next_attempt_at - now)
        now = notification.next_attempt_at

    assert outcome == Status.FAILED
    assert notification.status == Status.FAILED
    assert notification.attempts == MAX_ATTEMPTS == 6
    assert waits[:-1] == list(BACKOFF)
    assert notification_send(notification_id=notification.pk, now=now + timedelta(days=1)) == (
        "not_due"
    )


def test_unexpected_error_is_retried_like_a_temporary_failure(queue, monkeypatch):
    def broken(self, notification):
        raise RuntimeError("template bug")

    monkeypatch.setattr(EmailTransport, "send", broken)
    notification = queue()

    assert notification_send(notification_id=notification.pk) == Status.PENDING

    notification.refresh_from_db()
    assert notification.last_error == "RuntimeError: template bug"


def test_second_send_of_the_same_id_sends_nothing(queue, smtp_server):
    notification = queue()

    first = notification_send(notification_id=notification.pk)
    second = notification_send(notification_id=notification.pk)

    assert (first, second) == (Status.SENT, "not_due")
    assert len(smtp_server.messages) == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_sends_of_one_notification_send_it_once(queue, enqueued, smtp_server):
    notification = queue()
    workers = 8
    barrier = threading.Barrier(workers)
    outcomes: list[str] = []

    def work() -> None:
        try:
            barrier.wait(timeout=30)
            outcomes.append(notification_send(notification_id=notification.pk))
        finally:
            connection.close()

    threads = [threading.Thread(target=work) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sorted(outcomes) == ["not_due"] * (workers - 1) + [Status.SENT]
    assert len(smtp_server.messages) == 1


def test_a_late_outcome_never_overwrites_a_newer_claim(queue, monkeypatch):
    """The worker's claim was reclaimed while it sent: its outcome must not touch the new claim."""
    newer = timezone.now() + timedelta(minutes=6)

    def slow_send(self, notification):
        Notification.objects.filter(pk=notification.pk).update(claimed_at=newer, attempts=2)
        return "late-id"

    monkeypatch.setattr(EmailTransport, "send", slow_send)
    notification = queue()

    notification_send(notification_id=notification.pk)

    notification.refresh_from_db()
    assert (notification.status, notification.claimed_at) == (Status.SENDING, newer)
    assert notification.provider_id == ""


def test_due_ids_leave_fresh_rows_to_their_after_commit_task(queue):
    notification = queue()
    now = timezone.now()

    assert notification_due_ids(now=now) == []
    assert notification_due_ids(now=now + FRESH_GRACE) == [notification.pk]


def test_after_a_refusal_the_sweep_hands_out_the_rows_it_left_at_once(
    queue, monkeypatch, django_capture_on_commit_callbacks
):
    def broker_down(notification_id):
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(tasks.send_notification, "delay", broker_down)
    with django_capture_on_commit_callbacks(execute=True):
        notification = queue()

    assert heartbeat_last(name=BROKER_REFUSED) is not None
    assert notification_due_ids(now=timezone.now()) == [notification.pk]


def test_rows_queued_before_a_refusal_are_handed_out_too(queue):
    """The broker took them, but a Redis restarted without persistence may have lost them."""
    notification = queue()
    heartbeat_mark(name=BROKER_REFUSED, at=notification.created_at + timedelta(seconds=1))

    assert notification_due_ids(now=notification.created_at + timedelta(seconds=2)) == [
        notification.pk
    ]


def test_rows_queued_after_the_pause_that_followed_a_refusal_are_left_to_their_task(queue):
    notification = queue()
    refused = notification.created_at - timedelta(seconds=PAUSE_SECONDS + 1)
    heartbeat_mark(name=BROKER_REFUSED, at=refused)

    assert notification_due_ids(now=notification.created_at + timedelta(seconds=1)) == []
    assert notification_due_ids(now=notification.created_at + FRESH_GRACE) == [notification.pk]


def test_due_ids_include_retries_whose_time_has_come(queue, twilio_server):
    notification = queue(channel=SMS)
    twilio_server.fail_next(500)
    now = timezone.now()
    notification_send(notification_id=notification.pk, now=now)

    assert notification_due_ids(now=now + BACKOFF[0] - timedelta(seconds=1)) == []
    assert notification_due_ids(now=now + BACKOFF[0]) == [notification.pk]


def test_due_ids_skip_sent_and_failed(queue, smtp_server):
    sent = queue()
    failed = queue(occasion=Notification.Occasion.REMINDER)
    notification_send(notification_id=sent.pk)
    Notification.objects.filter(pk=failed.pk).update(status=Status.FAILED)

    assert notification_due_ids(now=timezone.now() + timedelta(days=1)) == []


def test_stale_claim_goes_back_to_pending(queue):
    notification = queue()
    now = timezone.now()
    Notification.objects.filter(pk=notification.pk).update(
        status=Status.SENDING, attempts=1, claimed_at=now - STALE_CLAIM - timedelta(seconds=1)
    )

    assert notification_due_ids(now=now) == [notification.pk]

    notification.refresh_from_db()
    assert (notification.status, notification.claimed_at) == (Status.PENDING, None)
    assert "may have gone out" in notification.last_error


def test_recent_claim_is_left_to_its_worker(queue):
    notification = queue()
    now = timezone.now()
    Notification.objects.filter(pk=notification.pk).update(
        status=Status.SENDING, attempts=1, claimed_at=now - timedelta(minutes=1)
    )

    assert notification_due_ids(now=now + FRESH_GRACE) == []
    notification.refresh_from_db()
    assert notification.status == Status.SENDING


def test_stale_claim_out_of_attempts_fails(queue):
    notification = queue()
    now = timezone.now()
    Notification.objects.filter(pk=notification.pk).update(
        status=Status.SENDING, attempts=MAX_ATTEMPTS, claimed_at=now - timedelta(hours=1)
    )

    assert notification_due_ids(now=now) == []
    notification.refresh_from_db()
    assert notification.status == Status.FAILED


def test_due_ids_respect_the_limit(queue):
    for sequence in range(5):
        queue(occasion=Notification.Occasion.REMINDER, sequence=sequence)

    later = timezone.now() + FRESH_GRACE
    assert len(notification_due_ids(now=later, limit=3)) == 3

"""The Celery settings the outbox relies on: nothing lost when a worker dies, nothing far ahead."""

from __future__ import annotations

import re
from pathlib import Path

from django.conf import settings

from agenwork.celery import app
from approval_flows.notifications import STALE_CLAIM
from approval_flows.tasks import send_notification
from approval_flows.transports import TWILIO_TIMEOUT_SECONDS

ROOT = Path(settings.BASE_DIR)
APP_PACKAGES = (
    "agenwork",
    "api",
    "approval_flows",
    "audit",
    "connectors",
    "dashboard",
    "directory",
    "gateways",
    "policies",
    "requests_app",
)
DELAYED_TASK = re.compile(r"\b(countdown|eta)\s*=")


def test_a_task_is_acknowledged_only_after_it_ran():
    assert app.conf.task_acks_late is True
    assert app.conf.task_reject_on_worker_lost is True
    assert send_notification.acks_late is True


def test_a_worker_reserves_one_task_at_a_time():
    assert app.conf.worker_prefetch_multiplier == 1


def test_tasks_have_time_limits_shorter_than_a_stale_claim():
    soft, hard = app.conf.task_soft_time_limit, app.conf.task_time_limit

    assert soft and hard and soft < hard
    assert hard < STALE_CLAIM.total_seconds()
    assert soft > TWILIO_TIMEOUT_SECONDS


def test_beat_schedules_only_the_sweep():
    schedule = app.conf.beat_schedule

    assert list(schedule) == ["sweep"]
    assert schedule["sweep"]["task"] == "requests_app.tasks.sweep"


def test_send_notification_is_registered_under_its_name():
    app.loader.import_default_modules()

    assert "approval_flows.tasks.send_notification" in app.tasks


def test_no_task_is_scheduled_ahead_through_the_broker():
    """With Redis, a countdown/eta task is redelivered after the visibility timeout: use rows."""
    offenders = [
        f"{path.relative_to(ROOT)}:{number}"
        for package in APP_PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
        if "migrations" not in path.parts
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if DELAYED_TASK.search(line)
    ]

    assert offenders == []

"""`manage.py process_due [--dry-run]`: the sweep once, its counts, and a clear failure."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import OperationalError
from django.utils import timezone

from approval_flows.models import Notification
from requests_app.models import AccessRequest, RequestEvent
from tests.factories import make_request

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def overdue(requester, tools, flow, approver_user) -> AccessRequest:
    """A request whose reminder came due a minute ago (and a second one that times out)."""
    access_request = make_request(requester=requester, tools=tools[:1], flow=flow)
    AccessRequest.objects.filter(pk=access_request.pk).update(
        next_reminder_at=timezone.now() - timedelta(minutes=1)
    )
    expiring = make_request(requester=requester, tools=tools[1:2], flow=flow)
    AccessRequest.objects.filter(pk=expiring.pk).update(
        timeout_at=timezone.now() - timedelta(minutes=1)
    )
    return access_request


def process_due(*args: str) -> str:
    out = StringIO()
    call_command("process_due", *args, stdout=out)
    return out.getvalue()


def counts(output: str) -> dict[str, str]:
    """The `  kind  count …` lines of the output."""
    lines = [line.split() for line in output.splitlines() if line.startswith("  ")]
    return {words[0]: words[1] for words in lines if len(words) > 1 and words[1].isdigit()}


def test_process_due_acts_once_and_prints_a_count_per_kind(overdue):
    output = process_due()

    assert output.startswith("Swept at ")
    assert counts(output) == {
        "timeouts": "1",
        "escalations": "0",
        "reminders": "1",
        "notifications": "0",
        "webhooks": "0",
        "failed": "0",
    }
    assert overdue.events.filter(kind=RequestEvent.Kind.REMINDED).count() == 1
    assert counts(process_due())["reminders"] == "0"


def test_dry_run_lists_what_is_due_and_changes_nothing(overdue):
    rows = list(AccessRequest.objects.order_by("pk").values())
    events, notifications = RequestEvent.objects.count(), Notification.objects.count()

    output = process_due("--dry-run")

    assert output.startswith("Dry run at ")
    assert "nothing was changed or sent" in output
    assert counts(output)["reminders"] == "1"
    assert counts(output)["timeouts"] == "1"
    assert f"reminder   {overdue.public_id} due " in output
    assert list(AccessRequest.objects.order_by("pk").values()) == rows
    assert (RequestEvent.objects.count(), Notification.objects.count()) == (events, notifications)


def test_a_failing_sweep_raises_a_one_line_reason(monkeypatch):
    def broken(**_kwargs):
        raise OperationalError('connection to server at "127.0.0.1" failed\n\tIs it running?')

    monkeypatch.setattr("requests_app.management.commands.process_due.sweep_due", broken)
    with pytest.raises(CommandError) as caught:
        process_due()
    assert str(caught.value) == (
        'process_due failed: connection to server at "127.0.0.1" failed Is it running?'
    )


def test_a_bad_batch_size_is_refused(db):
    with pytest.raises(CommandError, match="--batch and --workers must be at least 1"):
        process_due("--batch", "0")


def test_process_due_exits_non_zero_with_one_line_when_the_database_is_down():
    env = {
        **os.environ,
        "DATABASE_URL": "postgres://postgres@127.0.0.1:1/agenwork_nowhere",
        "DEBUG": "false",
    }
    done = subprocess.run(
        [sys.executable, "manage.py", "process_due"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("CommandError: process_due failed: ")

"""`manage.py send_test_notification --to ADDRESS`: one message now, the outcome, an exit code."""

from __future__ import annotations

import os
import subprocess
import sys
from io import StringIO

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import connection

from approval_flows.models import Notification


def send_test(address: str) -> str:
    out = StringIO()
    call_command("send_test_notification", "--to", address, stdout=out)
    return out.getvalue()


def run_manage(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run manage.py in a child process against the test database."""
    db = connection.settings_dict
    url = f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    child_env = {**os.environ, "DATABASE_URL": url, "SECRET_KEY": settings.SECRET_KEY, **env}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=settings.BASE_DIR,
        env=child_env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_email_test_message_is_sent_now(db, smtp_server):
    output = send_test("dana@example.com")

    assert output.startswith("Email sent to dana@example.com (provider id n")
    (mail,) = smtp_server.messages
    assert mail.message["Subject"] == "agenwork test message"
    assert "Email notifications work" in mail.text
    notification = Notification.objects.get()
    assert (notification.occasion, notification.status) == ("test", "sent")


def test_each_test_message_gets_a_fresh_sequence(db, smtp_server, dana):
    send_test("dana@example.com")
    send_test("dana@example.com")

    rows = Notification.objects.order_by("pk")
    assert [row.sequence for row in rows] == [1, 2]
    assert {row.recipient for row in rows} == {dana}
    assert len(smtp_server.messages) == 2


def test_sms_test_message_goes_through_twilio(db, twilio_server):
    output = send_test("+15550100")

    assert output.startswith("SMS sent to +15550100 (provider id SM")
    (message,) = twilio_server.messages
    assert message["To"] == "+15550100"


def test_sms_test_message_without_twilio_goes_to_the_log(db, settings):
    settings.TWILIO_ACCOUNT_SID = settings.TWILIO_AUTH_TOKEN = settings.TWILIO_FROM_NUMBER = ""

    assert "agenwork.sms log" in send_test("+15550100")


def test_permanent_failure_is_an_error(db, smtp_server):
    smtp_server.refuse("nobody@example.com")

    with pytest.raises(CommandError, match="Failed: SMTP 550"):
        send_test("nobody@example.com")

    assert Notification.objects.get().status == "failed"


def test_temporary_failure_is_an_error_and_not_retried_later(db, twilio_server):
    twilio_server.fail_next(503)

    with pytest.raises(CommandError, match="Temporary failure, not retried: Twilio 503"):
        send_test("+15550100")

    assert Notification.objects.get().status == "failed"


@pytest.mark.parametrize("address", ["dana", "555-0100", "+0123", "dana@"])
def test_address_that_is_neither_email_nor_e164_is_refused(db, address):
    with pytest.raises(CommandError, match=r"neither an email address nor an E\.164"):
        send_test(address)

    assert not Notification.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_exit_codes_of_the_real_command(smtp_server):
    env = {"EMAIL_HOST": smtp_server.host, "EMAIL_PORT": str(smtp_server.port)}
    smtp_server.refuse("nobody@example.com")

    ok = run_manage("send_test_notification", "--to", "dana@example.com", **env)
    refused = run_manage("send_test_notification", "--to", "nobody@example.com", **env)
    invalid = run_manage("send_test_notification", "--to", "not-an-address", **env)

    assert (ok.returncode, ok.stdout.strip()[:13]) == (0, "Email sent to")
    assert refused.returncode == 1
    assert refused.stderr.strip().splitlines()[-1] == (
        "CommandError: Failed: SMTP 550: 5.1.1 No such user here"
    )
    assert invalid.returncode == 1
    assert "neither an email address nor an E.164" in invalid.stderr

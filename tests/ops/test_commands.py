"""Every ops command: a useful --help, a dry run where it changes data, a one-line failure."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command, get_commands, load_command_class

from approval_flows.models import Notification
from gateways.models import ApiKey
from requests_app.models import AccessRequest

OPS_COMMANDS = {
    "seed_demo": "--requests",
    "create_api_key": "--webhook-url",
    "process_due": "--dry-run",
    "send_test_notification": "--to",
    "prune_activity": "--older-than",
    "reencrypt_secrets": "--dry-run",
}
CHANGES_DATA = (
    "seed_demo",
    "create_api_key",
    "process_due",
    "send_test_notification",
    "reencrypt_secrets",
)


def help_of(name: str) -> str:
    command = load_command_class(get_commands()[name], name)
    return command.create_parser("manage.py", name).format_help()


@pytest.mark.parametrize(("name", "option"), OPS_COMMANDS.items())
def test_help_describes_the_command_and_its_options(name, option):
    text = help_of(name)

    assert option in text
    description = text.split("options:")[0]
    assert len(description.split()) > 12, f"{name} --help says too little"


@pytest.mark.parametrize("name", CHANGES_DATA)
def test_commands_that_change_data_offer_a_dry_run(name):
    assert "--dry-run" in help_of(name)


def run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_seed_demo_dry_run_adds_nothing(db):
    out = run("seed_demo", "--requests", "30", "--dry-run")

    assert "add 30 generated request(s)" in out
    assert AccessRequest.objects.count() == 0


def test_create_api_key_dry_run_checks_and_stores_nothing(db):
    out = run("create_api_key", "gateway-one", "--dry-run")

    assert "can be created" in out
    assert not ApiKey.objects.exists()


def test_create_api_key_dry_run_reports_a_bad_url_in_one_line(db):
    with pytest.raises(CommandError) as failure:
        run("create_api_key", "gateway-one", "--webhook-url", "not a url", "--dry-run")

    assert "\n" not in str(failure.value)


def test_send_test_notification_dry_run_sends_nothing(db, settings, tmp_path):
    settings.EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    settings.EMAIL_FILE_PATH = tmp_path
    out = run("send_test_notification", "--to", "ops@example.com", "--dry-run")

    assert out.strip() == (
        f"Dry run: nothing was sent. An email to ops@example.com would be written to {tmp_path}"
        " (no SMTP)."
    )
    assert not Notification.objects.exists()
    assert not list(tmp_path.iterdir())


def test_send_test_notification_refuses_a_bad_address_in_one_line(db):
    with pytest.raises(CommandError, match=r"neither an email address nor an E\.164"):
        run("send_test_notification", "--to", "nobody", "--dry-run")

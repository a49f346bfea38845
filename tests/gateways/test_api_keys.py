"""API keys: `manage.py create_api_key`, storage as a hash, revocation, webhook secrets, audit."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from io import StringIO
from uuid import uuid4

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from agenwork.crypto import decrypt
from audit.models import AuditEntry
from gateways.models import ApiKey
from gateways.services import (
    api_key_authenticate,
    api_key_create,
    api_key_revoke,
    api_key_set_webhook,
)

pytestmark = pytest.mark.django_db


def create_key(*args: str) -> tuple[str, str]:
    """Run the command; return (stdout, stderr)."""
    out, err = StringIO(), StringIO()
    call_command("create_api_key", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def status_of_some_request(raw_key: str) -> int:
    """The HTTP status of an authenticated read: 404 with a valid key, 401 without."""
    response = Client().get(f"/api/v1/requests/{uuid4()}", HTTP_AUTHORIZATION=f"Bearer {raw_key}")
    return response.status_code


def stored_text(api_key: ApiKey) -> str:
    """Every column of the key's row, as text."""
    row = ApiKey.objects.filter(pk=api_key.pk).values().get()
    return " ".join(str(value) for value in row.values())


def audit_text() -> str:
    return json.dumps(
        list(AuditEntry.objects.values("actor_name", "object_repr", "before", "after")),
        default=str,
    )


# --- manage.py create_api_key ------------------------------------------------------------------


def test_create_api_key_prints_the_key_on_the_last_line_and_stores_only_a_hash():
    out, err = create_key("edge-gateway-1")

    raw_key = out.strip().splitlines()[-1]
    api_key = ApiKey.objects.get(name="edge-gateway-1")
    scheme, prefix, secret = raw_key.split("_", 2)
    assert scheme == "awk"
    assert len(secret) >= 32
    assert api_key.prefix == prefix
    assert len(api_key.prefix) == 10
    assert api_key.key_hash == hashlib.sha256(raw_key.encode()).hexdigest()
    assert raw_key not in stored_text(api_key)
    assert secret not in stored_text(api_key)
    assert raw_key not in err
    assert "edge-gateway-1" in err


def test_the_printed_key_authenticates():
    out, _ = create_key("edge-gateway-1")
    raw_key = out.strip().splitlines()[-1]

    assert status_of_some_request(raw_key) == 404
    assert api_key_authenticate(raw_key) == ApiKey.objects.get(name="edge-gateway-1")


def test_each_key_is_different():
    first = create_key("one")[0].strip()
    second = create_key("two")[0].strip()

    assert first != second
    assert ApiKey.objects.get(name="one").prefix != ApiKey.objects.get(name="two").prefix


def test_a_duplicate_name_is_an_error_and_stores_nothing():
    create_key("edge-gateway-1")
    keys, entries = ApiKey.objects.count(), AuditEntry.objects.count()

    with pytest.raises(CommandError, match="exists already"):
        create_key("edge-gateway-1")

    assert ApiKey.objects.count() == keys
    assert AuditEntry.objects.count() == entries


def test_a_blank_or_too_long_name_is_an_error():
    with pytest.raises(CommandError):
        create_key("   ")
    with pytest.raises(CommandError):
        create_key("n" * 101)

    assert not ApiKey.objects.exists()


def test_a_webhook_url_makes_a_secret_shown_once_on_stderr():
    out, err = create_key("hooked", "--webhook-url", "https://gateway.example/hooks")

    api_key = ApiKey.objects.get(name="hooked")
    secret = next(line.split(": ", 1)[1] for line in err.splitlines() if "signing secret" in line)
    assert secret.startswith("whsec_")
    assert secret not in out
    assert secret not in stored_text(api_key)
    assert decrypt(api_key.webhook_secret_encrypted) == secret
    assert api_key.webhook_url == "https://gateway.example/hooks"


def test_a_webhook_url_that_is_not_http_is_an_error():
    with pytest.raises(CommandError, match="webhook"):
        create_key("hooked", "--webhook-url", "ftp://gateway.example/hooks")

    assert not ApiKey.objects.exists()


# --- authentication ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "presented",
    ["", "awk", "awk__", "awk_short_x", "xyz_abcdefghij_x", "awk_abcdefghij", "a_b_c_d"],
)
def test_a_malformed_key_does_not_authenticate(presented: str):
    api_key_create(name="gateway")

    assert api_key_authenticate(presented) is None


def test_a_key_whose_random_part_contains_underscores_authenticates(monkeypatch):
    # token_urlsafe draws from A-Z a-z 0-9 - _: about half of all keys contain a "_".
    monkeypatch.setattr("agenwork.bearer.random_token", lambda nbytes=32: "ab_cd-ef_" * 5)
    issued = api_key_create(name="gateway")
    assert issued.raw_key.count("_") > 2

    assert api_key_authenticate(issued.raw_key) == issued.api_key
    assert status_of_some_request(issued.raw_key) == 404


def test_the_right_prefix_with_a_wrong_secret_does_not_authenticate():
    issued = api_key_create(name="gateway")
    forged = f"awk_{issued.api_key.prefix}_{'x' * 43}"

    assert api_key_authenticate(forged) is None
    assert status_of_some_request(forged) == 401


def test_revoking_a_key_locks_it_out_at_once():
    issued = api_key_create(name="gateway")
    client = Client()
    url = f"/api/v1/requests/{uuid4()}"
    auth = {"HTTP_AUTHORIZATION": f"Bearer {issued.raw_key}"}
    assert client.get(url, **auth).status_code == 404

    assert api_key_revoke(api_key=issued.api_key) is True

    response = client.get(url, **auth)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert api_key_authenticate(issued.raw_key) is None


def test_revoking_twice_is_a_no_op():
    issued = api_key_create(name="gateway")
    api_key_revoke(api_key=issued.api_key)
    revoked_at = ApiKey.objects.get(pk=issued.api_key.pk).revoked_at

    assert api_key_revoke(api_key=issued.api_key) is False
    assert ApiKey.objects.get(pk=issued.api_key.pk).revoked_at == revoked_at
    assert AuditEntry.objects.filter(action=AuditEntry.Action.REVOKED).count() == 1


def test_last_used_at_is_written_at_most_once_a_minute():
    issued = api_key_create(name="gateway")
    assert issued.api_key.last_used_at is None

    api_key_authenticate(issued.raw_key)
    first = ApiKey.objects.get(pk=issued.api_key.pk).last_used_at
    with CaptureQueriesContext(connection) as queries:
        api_key_authenticate(issued.raw_key)
        api_key_authenticate(issued.raw_key)

    assert first is not None
    assert abs(first - timezone.now()) < timedelta(seconds=30)
    assert ApiKey.objects.get(pk=issued.api_key.pk).last_used_at == first
    assert not [q for q in queries.captured_queries if q["sql"].startswith("UPDATE")]
    assert len(queries.captured_queries) == 2, "one read per authentication, no write"


def test_last_used_at_moves_on_once_a_minute_has_passed():
    issued = api_key_create(name="gateway")
    a_while_ago = timezone.now() - timedelta(seconds=61)
    ApiKey.objects.filter(pk=issued.api_key.pk).update(last_used_at=a_while_ago)

    api_key_authenticate(issued.raw_key)

    last_used_at = ApiKey.objects.get(pk=issued.api_key.pk).last_used_at
    assert last_used_at > a_while_ago + timedelta(seconds=60)


def test_a_call_through_the_api_records_use():
    issued = api_key_create(name="gateway")

    assert status_of_some_request(issued.raw_key) == 404

    assert ApiKey.objects.get(pk=issued.api_key.pk).last_used_at is not None


# --- webhook secrets ---------------------------------------------------------------------------


def test_setting_a_webhook_returns_a_new_secret_once_and_stores_only_ciphertext():
    issued = api_key_create(name="gateway")
    assert issued.webhook_secret is None
    assert issued.api_key.webhook_secret_encrypted == ""

    secret = api_key_set_webhook(api_key=issued.api_key, webhook_url="https://gw.example/hook")

    assert secret and secret.startswith("whsec_")
    row = ApiKey.objects.get(pk=issued.api_key.pk)
    assert row.webhook_url == "https://gw.example/hook"
    assert secret not in stored_text(row)
    assert decrypt(row.webhook_secret_encrypted) == secret


def test_setting_the_webhook_again_rotates_the_secret():
    issued = api_key_create(name="gateway", webhook_url="https://gw.example/hook")

    rotated = api_key_set_webhook(api_key=issued.api_key, webhook_url="https://gw.example/v2")

    assert rotated != issued.webhook_secret
    row = ApiKey.objects.get(pk=issued.api_key.pk)
    assert decrypt(row.webhook_secret_encrypted) == rotated


def test_clearing_the_webhook_drops_the_secret():
    issued = api_key_create(name="gateway", webhook_url="https://gw.example/hook")

    assert api_key_set_webhook(api_key=issued.api_key, webhook_url="") is None

    row = ApiKey.objects.get(pk=issued.api_key.pk)
    assert (row.webhook_url, row.webhook_secret_encrypted) == ("", "")


def test_an_invalid_webhook_url_changes_nothing():
    issued = api_key_create(name="gateway", webhook_url="https://gw.example/hook")
    entries = AuditEntry.objects.count()

    with pytest.raises(ValidationError):
        api_key_set_webhook(api_key=issued.api_key, webhook_url="javascript:alert(1)")

    row = ApiKey.objects.get(pk=issued.api_key.pk)
    assert row.webhook_url == "https://gw.example/hook"
    assert decrypt(row.webhook_secret_encrypted) == issued.webhook_secret
    assert AuditEntry.objects.count() == entries


# --- audit -------------------------------------------------------------------------------------


def test_create_webhook_change_and_revoke_are_audited_without_key_or_secret(admin_user):
    issued = api_key_create(name="gateway", webhook_url="https://gw.example/hook")
    rotated = api_key_set_webhook(
        api_key=issued.api_key, webhook_url="https://gw.example/v2", actor=admin_user
    )
    api_key_revoke(api_key=issued.api_key, actor=admin_user)

    entries = list(
        AuditEntry.objects.filter(object_type="api_key", object_id=str(issued.api_key.pk))
        .order_by("created_at", "id")
        .values("action", "actor_id", "actor_name", "channel", "before", "after")
    )

    assert [e["action"] for e in entries] == ["created", "updated", "revoked"]
    assert (entries[0]["actor_id"], entries[0]["channel"]) == (None, "cli")
    assert entries[0]["before"] is None
    assert entries[0]["after"]["webhook_url"] == "https://gw.example/hook"
    assert (entries[1]["actor_id"], entries[1]["channel"]) == (admin_user.pk, "web")
    assert entries[1]["before"]["webhook_url"] == "https://gw.example/hook"
    assert entries[1]["after"]["webhook_url"] == "https://gw.example/v2"
    assert entries[2]["before"]["revoked"] is False
    assert entries[2]["after"]["revoked"] is True
    text = audit_text()
    for secret in (issued.raw_key, issued.webhook_secret, rotated, issued.api_key.key_hash):
        assert secret not in text
    assert issued.api_key.webhook_secret_encrypted not in text


def test_the_command_is_audited_as_cli():
    out, _ = create_key("edge-gateway-1")

    entry = AuditEntry.objects.get(object_type="api_key")
    assert (entry.action, entry.channel, entry.actor_name) == ("created", "cli", "manage.py")
    assert out.strip() not in audit_text()

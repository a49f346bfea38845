"""Rotating ENCRYPTION_KEY: old keys still decrypt, `reencrypt_secrets` moves every stored secret.

- A connector's client secret and an API key's webhook secret, stored through their services
  under key A; then B is the key and A an old one; then A is gone.
"""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from agenwork.crypto import decrypt, encrypt
from connectors.models import Connector
from connectors.services import connector_set_credentials
from gateways.models import ApiKey
from gateways.services import api_key_create
from ops.reencrypt import encrypted_fields
from tests.factories import ConnectorFactory

KEY_A = "key-a-" + "a" * 44
KEY_B = "key-b-" + "b" * 44
KEY_C = "key-c-" + "c" * 44
CLIENT_SECRET = "client-secret-of-the-company"


@pytest.fixture
def stored_under_a(db, settings) -> tuple[Connector, ApiKey, str]:
    """A connector's client secret and a webhook secret, encrypted with key A."""
    settings.ENCRYPTION_KEY, settings.ENCRYPTION_OLD_KEYS = KEY_A, []
    connector = connector_set_credentials(
        connector=ConnectorFactory(),
        mode=Connector.CredentialMode.BYO,
        actor=None,
        client_id="client-id",
        client_secret=CLIENT_SECRET,
    )
    issued = api_key_create(name="gateway", webhook_url="https://gw.example.com/hook")
    return connector, issued.api_key, issued.webhook_secret


def reencrypt(*args: str) -> str:
    out = StringIO()
    call_command("reencrypt_secrets", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def stored(connector: Connector, api_key: ApiKey) -> tuple[str, str]:
    connector.refresh_from_db()
    api_key.refresh_from_db()
    return connector.client_secret_encrypted, api_key.webhook_secret_encrypted


def readable(connector: Connector, api_key: ApiKey) -> tuple[str, str]:
    return tuple(decrypt(value) for value in stored(connector, api_key))


def test_every_encrypted_field_is_found():
    found = {f"{model._meta.label}.{name}" for model, name in encrypted_fields()}

    assert found == {
        "connectors.Connector.client_secret_encrypted",
        "connectors.Connector.upstream_auth_header_encrypted",
        "gateways.ApiKey.webhook_secret_encrypted",
    }


def test_an_old_key_still_decrypts_and_only_the_current_key_encrypts(settings):
    settings.ENCRYPTION_KEY, settings.ENCRYPTION_OLD_KEYS = KEY_A, []
    under_a = encrypt("hello")
    settings.ENCRYPTION_KEY, settings.ENCRYPTION_OLD_KEYS = KEY_B, [KEY_A]
    under_b = encrypt("hello")

    settings.ENCRYPTION_OLD_KEYS = []

    assert decrypt(under_b) == "hello"
    with pytest.raises(ValueError, match="ENCRYPTION_OLD_KEYS"):
        decrypt(under_a)


def test_rotation_keeps_secrets_readable_before_during_and_after(settings, stored_under_a):
    connector, api_key, webhook_secret = stored_under_a
    settings.ENCRYPTION_KEY, settings.ENCRYPTION_OLD_KEYS = KEY_B, [KEY_A]
    assert readable(connector, api_key) == (CLIENT_SECRET, webhook_secret)

    out = reencrypt()
    settings.ENCRYPTION_OLD_KEYS = []

    assert readable(connector, api_key) == (CLIENT_SECRET, webhook_secret)
    assert "connectors.Connector.client_secret_encrypted: 1 re-encrypted, 0 already" in out
    assert "gateways.ApiKey.webhook_secret_encrypted: 1 re-encrypted, 0 already" in out
    assert "ENCRYPTION_OLD_KEYS may be emptied" in out


def test_a_second_run_writes_nothing(settings, stored_under_a):
    connector, api_key, _ = stored_under_a
    settings.ENCRYPTION_KEY, settings.ENCRYPTION_OLD_KEYS = KEY_B, [KEY_A]
    reencrypt()
    after_first = stored(connector, api_key)

    out = reencrypt()

    assert stored(connector, api_key) == after_first
    assert out.count("0 re-encrypted, 1 already under the current key") == 2


def test_a_dry_run_counts_and_changes_nothing(settings, stored_under_a):
    connector, api_key, _ = stored_under_a
    before = stored(connector, api_key)
    settings.ENCRYPTION_KEY, settings.ENCRYPTION_OLD_KEYS = KEY_B, [KEY_A]

    out = reencrypt("--dry-run")

    assert stored(connector, api_key) == before
    assert out.startswith("Dry run: nothing was changed.")
    assert out.count("1 to re-encrypt, 0 already under the current key") == 2


def test_a_value_no_key_decrypts_fails_naming_it_and_the_others_move_on(settings, stored_under_a):
    connector, api_key, _ = stored_under_a
    settings.ENCRYPTION_KEY = KEY_C
    ApiKey.objects.filter(pk=api_key.pk).update(webhook_secret_encrypted=encrypt("lost"))
    settings.ENCRYPTION_KEY, settings.ENCRYPTION_OLD_KEYS = KEY_B, [KEY_A]

    with pytest.raises(CommandError) as failed:
        reencrypt()

    message = str(failed.value)
    assert failed.value.returncode == 1  # manage.py's exit code
    assert message.startswith("1 stored secret(s) cannot be decrypted")
    assert f"gateways.ApiKey.webhook_secret_encrypted pk={api_key.pk}" in message
    settings.ENCRYPTION_OLD_KEYS = []
    assert decrypt(stored(connector, api_key)[0]) == CLIENT_SECRET

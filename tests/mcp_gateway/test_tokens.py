"""Personal gateway tokens: `manage.py create_gateway_token`, hashed storage, expiry, revocation."""

from __future__ import annotations

import json
from datetime import timedelta
from io import StringIO

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.utils import timezone

from audit.models import AuditEntry
from directory.services import scim_token_create
from gateways.services import api_key_create
from mcp_gateway.models import GatewayToken
from mcp_gateway.tokens import (
    gateway_token_authenticate,
    gateway_token_create,
    gateway_token_revoke,
)
from policies.snapshot import bump_snapshot_version, stored_snapshot_version
from tests.factories import PersonFactory

pytestmark = pytest.mark.django_db


def create_token(*args: str) -> tuple[str, str]:
    """Run the command; return (stdout, stderr)."""
    out, err = StringIO(), StringIO()
    call_command("create_gateway_token", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_the_command_prints_the_token_once_on_the_last_line_and_stores_only_its_hash():
    ben = PersonFactory(email="ben@example.com")
    out, err = create_token("BEN@example.com", "--expires-in", "30")
    raw = out.strip().splitlines()[-1]
    token = GatewayToken.objects.get()
    assert raw.startswith(f"agw_{token.prefix}_") and token.person == ben
    row = " ".join(str(v) for v in GatewayToken.objects.filter(pk=token.pk).values().get().values())
    assert raw not in row and raw not in err
    assert timedelta(days=29, hours=23) < token.expires_at - timezone.now() <= timedelta(days=30)
    assert gateway_token_authenticate(raw) == token


def test_the_command_refuses_an_unknown_person_and_a_bad_expiry():
    PersonFactory(email="ben@example.com")
    with pytest.raises(CommandError, match="No person"):
        create_token("nobody@example.com")
    with pytest.raises(CommandError, match="1 to 3650 days"):
        create_token("ben@example.com", "--expires-in", "0")
    assert not GatewayToken.objects.exists()


def test_a_token_authenticates_its_person_and_records_its_use():
    issued = gateway_token_create(person=PersonFactory())
    found = gateway_token_authenticate(issued.raw_token)
    assert found.person == issued.token.person
    assert GatewayToken.objects.get().last_used_at is not None


def test_the_compiled_lookup_reads_what_the_orm_reads_with_the_email_and_snapshot_version():
    gateway_token_create(person=PersonFactory())
    issued = gateway_token_create(person=PersonFactory(email="ben@example.com"), expires_in_days=9)
    bump_snapshot_version()
    bump_snapshot_version()
    found = gateway_token_authenticate(issued.raw_token)
    orm = GatewayToken.objects.get(prefix=issued.token.prefix)
    fields = [f.attname for f in GatewayToken._meta.concrete_fields]
    assert [getattr(found, f) for f in fields] == [getattr(orm, f) for f in fields]
    assert found.person_email == "ben@example.com"
    assert found.snapshot_version == stored_snapshot_version() >= 2


@pytest.mark.parametrize(
    "mangle",
    [
        lambda raw: raw[:-1] + ("A" if raw[-1] != "A" else "B"),  # right prefix, wrong secret
        lambda raw: "awk" + raw[3:],  # another scheme
        lambda raw: "",
        lambda raw: "agw_short_x",
        lambda raw: "Bearer " + raw,
    ],
)
def test_a_wrong_token_authenticates_nobody(mangle):
    issued = gateway_token_create(person=PersonFactory())
    assert gateway_token_authenticate(mangle(issued.raw_token)) is None


def test_an_expired_token_authenticates_nobody():
    issued = gateway_token_create(person=PersonFactory(), expires_in_days=1)
    GatewayToken.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert gateway_token_authenticate(issued.raw_token) is None


def test_a_revoked_token_authenticates_nobody_and_revoking_twice_says_so():
    issued = gateway_token_create(person=PersonFactory())
    assert gateway_token_revoke(token=issued.token) is True
    assert gateway_token_revoke(token=issued.token) is False
    assert gateway_token_authenticate(issued.raw_token) is None


def test_the_revoke_command_revokes_by_prefix():
    issued = gateway_token_create(person=PersonFactory())
    out = StringIO()
    call_command("revoke_gateway_token", issued.token.prefix, stdout=out)
    assert "Revoked" in out.getvalue()
    assert gateway_token_authenticate(issued.raw_token) is None
    with pytest.raises(CommandError, match="No gateway token"):
        call_command("revoke_gateway_token", "nosuchpref")


def test_api_keys_and_scim_tokens_are_not_gateway_tokens_nor_the_other_way():
    api_key = api_key_create(name="gw").raw_key
    scim = scim_token_create(name="okta").raw_token
    assert gateway_token_authenticate(api_key) is None
    assert gateway_token_authenticate(scim) is None


def test_creation_and_revocation_are_in_the_activity_trail_without_the_token():
    person = PersonFactory(email="ana@example.com")
    issued = gateway_token_create(person=person, expires_in_days=7)
    gateway_token_revoke(token=issued.token)
    entries = list(AuditEntry.objects.filter(object_type="gateway_token").order_by("id"))
    assert [e.action for e in entries] == ["created", "revoked"]
    assert entries[0].after["person"] == "ana@example.com"
    assert entries[1].before["revoked"] is False and entries[1].after["revoked"] is True
    assert issued.raw_token not in json.dumps([e.after for e in entries])
    assert {e.channel for e in entries} == {"cli"}


def test_the_service_refuses_an_expiry_out_of_range():
    with pytest.raises(ValidationError):
        gateway_token_create(person=PersonFactory(), expires_in_days=100_000)

"""The API's compiled key lookup reads what the plain ORM reads."""

from __future__ import annotations

from django.utils import timezone

from api.auth import key_and_snapshot_version
from gateways.models import ApiKey
from gateways.services import api_key_create
from policies.snapshot import bump_snapshot_version, stored_snapshot_version


def concrete_values(instance) -> list:
    return [getattr(instance, field.attname) for field in type(instance)._meta.concrete_fields]


def test_the_key_and_snapshot_version_are_what_the_orm_reads(db):
    api_key_create(name="Other gateway", webhook_url="https://hooks.example.com/agenwork")
    issued = api_key_create(name="Gateway", webhook_url="https://gw.example.com/hook")
    bump_snapshot_version()
    bump_snapshot_version()
    prefix = issued.api_key.prefix
    found = key_and_snapshot_version(prefix)
    orm = ApiKey.objects.filter(prefix=prefix, revoked_at__isnull=True).first()
    assert concrete_values(found) == concrete_values(orm)
    assert found.snapshot_version == stored_snapshot_version() >= 2


def test_a_revoked_or_unknown_prefix_finds_nothing(db):
    issued = api_key_create(name="Gateway")
    ApiKey.objects.filter(pk=issued.api_key.pk).update(revoked_at=timezone.now())
    assert key_and_snapshot_version(issued.api_key.prefix) is None
    assert key_and_snapshot_version("0123456789") is None

"""Every write to API keys, and how a presented key is checked."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.utils import timezone

from agenwork.bearer import credential_issue, credential_prefix, credential_touch
from agenwork.crypto import encrypt, random_token, same_hash
from audit.models import AuditEntry
from audit.services import audit_record
from gateways.models import ApiKey

KEY_SCHEME = "awk"


@dataclass(frozen=True)
class IssuedKey:
    """A key as created: the raw key and webhook secret exist only here, shown once."""

    api_key: ApiKey
    raw_key: str
    webhook_secret: str | None


def _validate(name: str, webhook_url: str) -> None:
    errors = {}
    if not name.strip() or len(name) > 100:
        errors["name"] = "Give the key a name of 1 to 100 characters."
    elif ApiKey.objects.filter(name=name.strip()).exists():
        errors["name"] = f"A key named “{name.strip()}” exists already."
    if webhook_url:
        try:
            URLValidator(schemes=["http", "https"])(webhook_url)
        except ValidationError:
            errors["webhook_url"] = "Enter an http(s) URL for the webhook, or leave it empty."
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def api_key_create(*, name: str, webhook_url: str = "", actor: Any = None) -> IssuedKey:
    """Create a key; the raw key (and webhook secret, if any) are returned once, never stored."""
    _validate(name, webhook_url)
    credential = credential_issue(KEY_SCHEME)
    secret = f"whsec_{random_token(32)}" if webhook_url else None
    api_key = ApiKey.objects.create(
        name=name.strip(),
        prefix=credential.prefix,
        key_hash=credential.hash,
        webhook_url=webhook_url,
        webhook_secret_encrypted=encrypt(secret) if secret else "",
    )
    _audit(api_key, AuditEntry.Action.CREATED, actor, before=None)
    return IssuedKey(api_key=api_key, raw_key=credential.raw, webhook_secret=secret)


@transaction.atomic
def api_key_set_webhook(*, api_key: ApiKey, webhook_url: str, actor: Any = None) -> str | None:
    """Set or clear the webhook URL; a new signing secret is returned once when one is set."""
    if webhook_url:
        try:
            URLValidator(schemes=["http", "https"])(webhook_url)
        except ValidationError as exc:
            raise ValidationError({"webhook_url": "Enter an http(s) URL."}) from exc
    secret = f"whsec_{random_token(32)}" if webhook_url else None
    before = _state(api_key)
    api_key.webhook_url = webhook_url
    api_key.webhook_secret_encrypted = encrypt(secret) if secret else ""
    api_key.save(update_fields=["webhook_url", "webhook_secret_encrypted"])
    _audit(api_key, AuditEntry.Action.UPDATED, actor, before=before)
    return secret


@transaction.atomic
def api_key_revoke(*, api_key: ApiKey, actor: Any = None) -> bool:
    """Revoke a key at once; False if it was revoked already."""
    now = timezone.now()
    before = _state(api_key)
    revoked = ApiKey.objects.filter(pk=api_key.pk, revoked_at__isnull=True).update(revoked_at=now)
    if revoked:
        api_key.revoked_at = now
        _audit(api_key, AuditEntry.Action.REVOKED, actor, before=before)
    return bool(revoked)


def _state(api_key: ApiKey) -> dict[str, Any]:
    """What the audit trail shows of a key: never the key or the secret."""
    return {
        "name": api_key.name,
        "prefix": api_key.prefix,
        "webhook_url": api_key.webhook_url,
        "revoked": api_key.revoked_at is not None,
    }


def _audit(api_key: ApiKey, action: str, actor: Any, *, before: dict[str, Any] | None) -> None:
    audit_record(
        actor=actor or "manage.py",
        action=action,
        object_type="api_key",
        object_id=api_key.pk,
        object_repr=str(api_key),
        before=before,
        after=_state(api_key),
        channel="web" if getattr(actor, "pk", None) else "cli",
    )


def active_key(prefix: str) -> ApiKey | None:
    """The unrevoked key with this prefix, or None."""
    return ApiKey.objects.filter(prefix=prefix, revoked_at__isnull=True).first()


def api_key_authenticate(
    raw_key: str, *, lookup: Callable[[str], ApiKey | None] = active_key
) -> ApiKey | None:
    """The active key matching a presented bearer key, or None. One query.

    - `lookup` finds the unrevoked key by prefix; a caller that needs one more value per call
      (the API: the policy snapshot's version) passes one that reads it in the same round trip.
    """
    prefix = credential_prefix(raw_key, KEY_SCHEME)
    api_key = lookup(prefix) if prefix else None
    if api_key is None or not same_hash(raw_key, api_key.key_hash):
        return None
    credential_touch(api_key)
    return api_key

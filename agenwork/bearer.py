"""Bearer credentials stored as a hash and a short prefix: API keys, SCIM and gateway tokens.

- A credential reads `<scheme>_<prefix>_<random>`: the scheme tells the kinds apart (an API key
  is never a SCIM or gateway token), the prefix finds the row, and only a SHA-256 hash of the
  whole credential is stored.
- Last use is written at most once a minute per credential, so the hot path rarely writes.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.db import models
from django.utils import timezone

from agenwork.crypto import hash_token, random_token

LAST_USED_RESOLUTION = timedelta(minutes=1)
PREFIX_LENGTH = 10
_PREFIX_ALPHABET = "abcdefghijkmnopqrstuvwxyz23456789"


@dataclass(frozen=True)
class NewCredential:
    """A credential as issued: `raw` is shown once and never stored."""

    prefix: str
    raw: str
    hash: str


def credential_issue(scheme: str) -> NewCredential:
    """A fresh credential of this scheme, with the prefix and hash to store."""
    prefix = "".join(secrets.choice(_PREFIX_ALPHABET) for _ in range(PREFIX_LENGTH))
    raw = f"{scheme}_{prefix}_{random_token(32)}"
    return NewCredential(prefix=prefix, raw=raw, hash=hash_token(raw))


def credential_prefix(raw: str, scheme: str) -> str | None:
    """The prefix of a presented credential of this scheme, or None if it is not one."""
    parts = raw.split("_", 2)  # the random part may itself contain "_"
    if len(parts) != 3 or parts[0] != scheme or len(parts[1]) != PREFIX_LENGTH:
        return None
    return parts[1]


def credential_touch(row: models.Model) -> None:
    """Record that `row` (a model with `last_used_at`) was used now, at most once a minute."""
    now = timezone.now()
    last = row.last_used_at
    if last is not None and now - last < LAST_USED_RESOLUTION:
        return
    type(row).objects.filter(pk=row.pk).update(last_used_at=now)
    row.last_used_at = now

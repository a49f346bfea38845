"""Move every stored secret to the current ENCRYPTION_KEY (`manage.py reencrypt_secrets`).

- The stored secrets are the model fields named `*_encrypted` (agenwork/crypto.py), found in
  every installed app, so a secret added later is never left behind.
- Each value is written back by a conditional UPDATE on the value read: a secret an admin set
  meanwhile (encrypted with the current key already) is left alone.
- Safe to run twice: a value already under the current key is not written again.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.apps import apps
from django.db import models

from agenwork.crypto import reencrypt


@dataclass
class FieldResult:
    """What a run did, or would do, to one encrypted field of one model."""

    label: str
    reencrypted: int = 0
    current: int = 0
    changed_meanwhile: int = 0
    unreadable: list[object] = field(default_factory=list)  # primary keys


def encrypted_fields() -> list[tuple[type[models.Model], str]]:
    """Every concrete model field named `*_encrypted`, in app order."""
    return [
        (model, model_field.name)
        for model in apps.get_models()
        for model_field in model._meta.concrete_fields
        if model_field.name.endswith("_encrypted")
    ]


def reencrypt_field(model: type[models.Model], name: str, *, dry_run: bool) -> FieldResult:
    """Re-encrypt one field's stored values with the current key; list those no key decrypts."""
    result = FieldResult(f"{model._meta.label}.{name}")
    rows = model._default_manager.exclude(**{name: ""}).order_by("pk").values_list("pk", name)
    for pk, stored in rows.iterator():
        try:
            fresh = reencrypt(stored)
        except ValueError:
            result.unreadable.append(pk)
            continue
        if fresh == stored:
            result.current += 1
        elif dry_run or _replace(model, pk, name, stored=stored, fresh=fresh):
            result.reencrypted += 1
        else:
            result.changed_meanwhile += 1
    return result


def _replace(model: type[models.Model], pk: object, name: str, *, stored: str, fresh: str) -> bool:
    """Write the fresh value only where the stored one is still there (False: it changed)."""
    return bool(model._default_manager.filter(pk=pk, **{name: stored}).update(**{name: fresh}))


def reencrypt_secrets(*, dry_run: bool = False) -> list[FieldResult]:
    """Every stored secret under the current key (with `dry_run`, only counted)."""
    return [reencrypt_field(model, name, dry_run=dry_run) for model, name in encrypted_fields()]

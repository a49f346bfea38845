"""Every write to gateway tokens, and how a presented token is checked.

- Every request to the gateway checks its token, so that lookup is compiled once
  (agenwork.db.CompiledQuery) and reads the person's email and the policy snapshot's version in
  the same query, as the API's key lookup does: compiling the queryset and loading the person
  cost a tenth of the gateway's CPU for an allowed call (bench/bench_mcp_gateway.py, py-spy).
  tests/mcp_gateway/test_tokens.py checks it against the ORM.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Subquery
from django.utils import timezone

from agenwork.bearer import credential_issue, credential_prefix, credential_touch
from agenwork.crypto import same_hash
from agenwork.db import CompiledQuery
from audit.models import AuditEntry
from audit.services import audit_record
from directory.models import Person
from mcp_gateway.models import GatewayToken
from policies.models import PolicySnapshotVersion

TOKEN_SCHEME = "agw"  # noqa: S105 - the scheme, not a secret
MAX_EXPIRY_DAYS = 3650


@dataclass(frozen=True)
class IssuedGatewayToken:
    """A token as created: the raw token exists only here, shown once."""

    token: GatewayToken
    raw_token: str


@transaction.atomic
def gateway_token_create(
    *, person: Person, expires_in_days: int | None = None, actor: Any = None
) -> IssuedGatewayToken:
    """Create a person's gateway token; only its hash and prefix are stored."""
    if expires_in_days is not None and not 1 <= expires_in_days <= MAX_EXPIRY_DAYS:
        raise ValidationError(
            {"expires_in": f"Give an expiry of 1 to {MAX_EXPIRY_DAYS} days, or none."}
        )
    credential = credential_issue(TOKEN_SCHEME)
    expires_at = timezone.now() + timedelta(days=expires_in_days) if expires_in_days else None
    token = GatewayToken.objects.create(
        person=person, prefix=credential.prefix, token_hash=credential.hash, expires_at=expires_at
    )
    _audit(token, AuditEntry.Action.CREATED, actor, before=None)
    return IssuedGatewayToken(token=token, raw_token=credential.raw)


@transaction.atomic
def gateway_token_revoke(*, token: GatewayToken, actor: Any = None) -> bool:
    """Revoke a token at once; False if it was revoked already."""
    now = timezone.now()
    before = _state(token)
    revoked = GatewayToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(
        revoked_at=now
    )
    if revoked:
        token.revoked_at = now
        _audit(token, AuditEntry.Action.REVOKED, actor, before=before)
    return bool(revoked)


TOKEN_AND_SNAPSHOT_VERSION = CompiledQuery(
    lambda prefix: (
        GatewayToken.objects.filter(prefix=prefix)
        .annotate(
            person_email=F("person__email"),
            snapshot_version=Subquery(PolicySnapshotVersion.objects.filter(pk=1).values("version")),
        )
        .order_by()
    )  # prefixes are unique
)


def gateway_token_authenticate(raw: str) -> GatewayToken | None:
    """The usable token matching a presented bearer token, or None.

    - The token comes with `person_email` and the policy `snapshot_version` (None when the
      version row is missing) set, read in the same query.
    """
    prefix = credential_prefix(raw, TOKEN_SCHEME)
    token = TOKEN_AND_SNAPSHOT_VERSION.first(prefix=prefix) if prefix else None
    if token is None or not token.usable_at(timezone.now()):
        return None
    if not same_hash(raw, token.token_hash):
        return None
    credential_touch(token)
    return token


def _state(token: GatewayToken) -> dict[str, Any]:
    """What the audit trail shows of a token: never the token itself."""
    return {
        "person": token.person.email,
        "prefix": token.prefix,
        "expires_at": token.expires_at.isoformat() if token.expires_at else None,
        "revoked": token.revoked_at is not None,
    }


def _audit(token: GatewayToken, action: str, actor: Any, *, before: dict[str, Any] | None) -> None:
    audit_record(
        actor=actor or "manage.py",
        action=action,
        object_type="gateway_token",
        object_id=token.pk,
        object_repr=str(token),
        before=before,
        after=_state(token),
        channel="web" if getattr(actor, "pk", None) else "cli",
    )

"""The API's key lookup: the key and the policy snapshot's version in one query.

Every gateway call runs it, so it is compiled once (agenwork.db.CompiledQuery): compiling the
queryset on each call cost more CPU than PostgreSQL spends answering it (the "Decisions API under
load" benchmark, bench/bench_decisions_api.py). tests/api/test_auth.py checks it against the ORM.
"""

from __future__ import annotations

from django.db.models import Subquery

from agenwork.db import CompiledQuery
from gateways.models import ApiKey
from policies.models import PolicySnapshotVersion

KEY_AND_SNAPSHOT_VERSION = CompiledQuery(
    lambda prefix: (
        ApiKey.objects.filter(prefix=prefix, revoked_at__isnull=True)
        .annotate(
            snapshot_version=Subquery(PolicySnapshotVersion.objects.filter(pk=1).values("version"))
        )
        .order_by()
    )  # prefixes are unique
)


def key_and_snapshot_version(prefix: str) -> ApiKey | None:
    """The unrevoked key with this prefix (prefixes are unique), its `snapshot_version` set."""
    return KEY_AND_SNAPSHOT_VERSION.first(prefix=prefix)

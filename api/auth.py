"""The API's key lookup: the key and the policy snapshot's version in one hand-written query.

Every gateway call runs it; the ORM would compile the same query anew each time, which costs more
CPU than PostgreSQL spends answering it.
"""

from __future__ import annotations

from functools import cache

from gateways.models import ApiKey
from policies.models import PolicySnapshotVersion


@cache
def _sql() -> str:
    keys, versions = ApiKey._meta.db_table, PolicySnapshotVersion._meta.db_table
    # Table names come from the models; the prefix is a parameter.
    return (
        f"SELECT k.*, (SELECT v.version FROM {versions} v WHERE v.id = 1) AS snapshot_version "  # noqa: S608
        f"FROM {keys} k WHERE k.prefix = %s AND k.revoked_at IS NULL"
    )


def key_and_snapshot_version(prefix: str) -> ApiKey | None:
    """The unrevoked key with this prefix (prefixes are unique), its `snapshot_version` set."""
    return next(iter(ApiKey.objects.raw(_sql(), [prefix])), None)

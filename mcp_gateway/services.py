"""Console actions on a connector's upstream: Sync tools, audited."""

from __future__ import annotations

from typing import Any

from audit.services import audit_record
from connectors.models import Connector
from mcp_gateway.sync import SyncResult, sync_connector_tools
from mcp_gateway.upstreams import Upstream


def connector_tools_sync(*, connector: Connector, upstream: Upstream, actor: Any) -> SyncResult:
    """Read the upstream's tools now, as an admin asked; audited when anything changed.

    - The tools are upserted and the connector's state recorded by `sync_connector_tools`;
      this adds the audit entry (tools added, updated, missing; the state before and after).
    """
    status_before = connector.status
    result = sync_connector_tools(connector, upstream)
    if result.added or result.updated or result.missing or connector.status != status_before:
        audit_record(
            actor=actor,
            action="updated",
            object_type="connector",
            object_id=connector.pk,
            object_repr=connector.name,
            before={"status": status_before},
            after={
                "status": connector.status,
                "tools_added": list(result.added),
                "tools_updated": list(result.updated),
                "tools_missing": list(result.missing),
                **({"upstream_error": result.error} if result.error else {}),
            },
        )
    return result


def sync_summary(result: SyncResult) -> str:
    """ "2 added, 0 updated, 1 missing": what a sync did, as the connector page says it."""
    return (
        f"{len(result.added)} added, {len(result.updated)} updated, {len(result.missing)} missing"
    )

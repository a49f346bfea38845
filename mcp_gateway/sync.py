"""Tools from the upstream: `tools/list` of a connector's MCP server upserted into `Tool` rows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from connectors.classification import classify_tool
from connectors.models import Connector, Tool
from mcp_gateway.upstreams import Upstream, fault_text, run_blocking, upstream_tools


@dataclass(frozen=True)
class SyncResult:
    """What a sync did: tools added, updated, newly missing; or the upstream's error."""

    added: tuple[str, ...] = ()
    updated: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()
    error: str = ""


def access_from_annotations(key: str, annotations: Any) -> str:
    """The access MCP's annotations declare (read, delete, write); else the verb's, as today."""
    read_only = getattr(annotations, "read_only_hint", None)
    destructive = getattr(annotations, "destructive_hint", None)
    if read_only:
        return Tool.Access.READ
    if destructive:
        return Tool.Access.DELETE
    if read_only is False and destructive is False:
        return Tool.Access.WRITE
    return classify_tool(key)


def sync_connector_tools(connector: Connector, upstream: Upstream) -> SyncResult:
    """Read the upstream's tools and upsert them; the connector's state says how it went."""
    try:
        listed = run_blocking(upstream_tools, upstream)
    except Exception as exc:  # any upstream fault: down, slow, garbage
        error = fault_text(exc)
        _set_state(connector, Connector.Status.ERROR, error)
        return SyncResult(error=error)
    with transaction.atomic():
        result = _upsert(connector, listed)
        _set_state(connector, Connector.Status.CONNECTED, "")
    return result


def _upsert(connector: Connector, listed: list[Any]) -> SyncResult:
    existing = {tool.key: tool for tool in connector.tools.all()}
    added, updated, seen = [], [], set()
    for upstream_tool in listed:
        key = f"{connector.slug}_{upstream_tool.name}"
        seen.add(key)
        tool = existing.get(key) or Tool(connector=connector, key=key)
        fields = {
            "description": upstream_tool.description or "",
            "input_schema": upstream_tool.input_schema or {},
            "missing_since": None,
        }
        if not tool.access_overridden:
            fields["access"] = access_from_annotations(key, upstream_tool.annotations)
        if tool.pk and all(getattr(tool, name) == value for name, value in fields.items()):
            continue
        for name, value in fields.items():
            setattr(tool, name, value)
        (updated if tool.pk else added).append(key)
        tool.save()  # through save(): the policy snapshot is rebuilt after commit
    missing = []
    for key, tool in existing.items():
        if key not in seen and tool.missing_since is None:
            tool.missing_since = timezone.now()
            tool.save(update_fields=["missing_since"])
            missing.append(key)
    return SyncResult(added=tuple(added), updated=tuple(updated), missing=tuple(missing))


def _set_state(connector: Connector, status: str, error: str) -> None:
    connector.status = status
    connector.upstream_error = error
    connector.upstream_checked_at = timezone.now()
    connector.save(update_fields=["status", "upstream_error", "upstream_checked_at", "updated_at"])

"""Every write to connectors and tools: enable/disable, access, credentials, upstream, catalog.

- Each write goes through Model.save(), so the policy snapshot (policies/signals.py) is told
  after commit and the next decision sees the change; connectors never import policies.
- Each admin change is audited with its before and after; a client secret or an upstream's
  Authorization header never reaches the audit trail, only "… replaced" or "… removed".
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.contrib.staticfiles import finders
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.utils import timezone

from agenwork.crypto import encrypt
from audit.services import audit_record
from connectors.catalog import CatalogConnector
from connectors.classification import classify_tool
from connectors.models import Connector, Tool

BASE_URL = URLValidator(schemes=["https", "http"])
SECRET_REPLACED = "secret replaced"  # noqa: S105 (audit wording, not a secret)
SECRET_REMOVED = "secret removed"  # noqa: S105
HEADER_REPLACED = "header replaced"
HEADER_REMOVED = "header removed"
UPSTREAM_URL_MAX = Connector._meta.get_field("upstream_url").max_length


def _enabled_word(enabled: bool) -> str:
    return "enabled" if enabled else "disabled"


def connector_set_enabled(*, connector: Connector, enabled: bool, actor: Any) -> Connector:
    """Enable or disable a whole connector; a disabled connector denies every call at once."""
    with transaction.atomic():
        locked = Connector.objects.select_for_update().get(pk=connector.pk)
        before = locked.enabled
        if before != enabled:
            locked.enabled = enabled
            locked.save(update_fields=["enabled", "updated_at"])
            audit_record(
                actor=actor,
                action="updated",
                object_type="connector",
                object_id=locked.pk,
                object_repr=locked.name,
                before={"enabled": before},
                after={"enabled": enabled},
            )
    return locked


def tool_set_enabled(*, tool: Tool, enabled: bool, actor: Any) -> Tool:
    """Enable or disable one tool; a disabled tool is denied whatever the policies say."""
    with transaction.atomic():
        locked = Tool.objects.select_for_update().select_related("connector").get(pk=tool.pk)
        before = locked.enabled
        if before != enabled:
            locked.enabled = enabled
            locked.save(update_fields=["enabled"])
            _audit_tool(actor, locked, {"enabled": before}, {"enabled": enabled})
    return locked


def tool_set_access(*, tool: Tool, access: str, actor: Any) -> Tool:
    """Set a tool's access kind by hand; the catalog never changes it back afterwards."""
    if access not in Tool.Access.values:
        raise ValueError(f"Unknown access kind: {access!r}")
    with transaction.atomic():
        locked = Tool.objects.select_for_update().select_related("connector").get(pk=tool.pk)
        before = {"access": locked.access, "access_overridden": locked.access_overridden}
        if locked.access != access or not locked.access_overridden:
            locked.access = access
            locked.access_overridden = True
            locked.save(update_fields=["access", "access_overridden"])
            after = {"access": access, "access_overridden": True}
            _audit_tool(actor, locked, before, after)
    return locked


def _audit_tool(actor: Any, tool: Tool, before: dict[str, Any], after: dict[str, Any]) -> None:
    audit_record(
        actor=actor,
        action="updated",
        object_type="tool",
        object_id=tool.pk,
        object_repr=f"{tool.connector.name}: {tool.key}",
        before=before,
        after=after,
    )


def _credentials(connector: Connector) -> dict[str, Any]:
    """What the audit trail shows of a connector's credentials: never the secret itself."""
    return {
        "credential_mode": connector.credential_mode,
        "client_id": connector.client_id,
        "base_url": connector.base_url,
        "client_secret": "set" if connector.client_secret_encrypted else "not set",
    }


def connector_set_credentials(
    *,
    connector: Connector,
    mode: str,
    actor: Any,
    client_id: str = "",
    client_secret: str = "",
    base_url: str = "",
) -> Connector:
    """Use the managed app, or the company's own OAuth client (id, secret, optional base URL).

    - A blank client_secret keeps the stored one; the new one is stored encrypted.
    - Managed mode forgets the company's client: a secret nobody uses is not kept around.
    - A bring-your-own client needs an ID and a secret (new or stored): ValueError otherwise,
      like an unknown mode or a base URL that is not http(s); nothing is stored then.
    """
    if mode not in Connector.CredentialMode.values:
        raise ValueError(f"Unknown credential mode: {mode!r}")
    _check_base_url(base_url.strip())
    with transaction.atomic():
        locked = Connector.objects.select_for_update().get(pk=connector.pk)
        before = _credentials(locked)
        secret_note = _apply_credentials(locked, mode, client_id, client_secret, base_url)
        if mode == Connector.CredentialMode.BYO and not (
            locked.client_id and locked.client_secret_encrypted
        ):
            raise ValueError("Bring your own credentials need a client ID and a client secret.")
        after = _credentials(locked)
        if after == before and not secret_note:
            return locked
        locked.save()
        if secret_note:
            after["client_secret"] = secret_note
        audit_record(
            actor=actor,
            action="updated",
            object_type="connector",
            object_id=locked.pk,
            object_repr=locked.name,
            before=before,
            after=after,
        )
    return locked


def _check_base_url(base_url: str) -> None:
    if not base_url:
        return
    try:
        BASE_URL(base_url)
    except ValidationError:
        raise ValueError(f"Not an http(s) URL: {base_url[:100]!r}") from None


def _apply_credentials(
    connector: Connector, mode: str, client_id: str, client_secret: str, base_url: str
) -> str:
    """Set the fields on the unsaved row; the note on the secret for the audit trail, or ""."""
    connector.credential_mode = mode
    if mode == Connector.CredentialMode.MANAGED:
        had_secret = bool(connector.client_secret_encrypted)
        connector.client_id = connector.base_url = connector.client_secret_encrypted = ""
        connector.client_secret_set_at = None
        return SECRET_REMOVED if had_secret else ""
    connector.client_id = client_id.strip()
    connector.base_url = base_url.strip()
    if not client_secret:
        return ""
    connector.client_secret_encrypted = encrypt(client_secret)
    connector.client_secret_set_at = timezone.now()
    return SECRET_REPLACED


def _upstream(connector: Connector) -> dict[str, Any]:
    """What the audit trail shows of a connector's upstream: never the header itself."""
    return {
        "upstream_url": connector.upstream_url,
        "upstream_auth_header": "set" if connector.upstream_auth_header_encrypted else "not set",
    }


def connector_set_upstream(
    *,
    connector: Connector,
    url: str,
    actor: Any,
    auth_header: str = "",
    clear_auth_header: bool = False,
) -> Connector:
    """Point the connector at an upstream MCP server over Streamable HTTP, or at none.

    - The URL is http(s) only (ValueError otherwise, nothing stored); a blank URL removes the
      upstream and its header: a secret nobody uses is not kept around.
    - The header is write-only: stored encrypted; a blank one keeps the stored one unless
      `clear_auth_header`. The audit trail records "header replaced" or "header removed".
    - A new URL or header has not been checked yet: the connector's state is reset until the
      next Sync tools (the gateway's calls set it too).
    - A local command is never set here: ops configure those (MCP_UPSTREAMS).
    """
    url = url.strip()
    _check_upstream(url, auth_header)
    with transaction.atomic():
        locked = Connector.objects.select_for_update().get(pk=connector.pk)
        before = _upstream(locked)
        header_note = _apply_upstream(locked, url, auth_header, clear_auth_header)
        if locked.upstream_url == before["upstream_url"] and not header_note:
            return locked
        locked.status = Connector.Status.DISCONNECTED
        locked.upstream_error = ""
        locked.upstream_checked_at = None
        locked.save()
        after = _upstream(locked)
        if header_note:
            after["upstream_auth_header"] = header_note
        audit_record(
            actor=actor,
            action="updated",
            object_type="connector",
            object_id=locked.pk,
            object_repr=locked.name,
            before=before,
            after=after,
        )
    return locked


def _check_upstream(url: str, auth_header: str) -> None:
    if url:
        if len(url) > UPSTREAM_URL_MAX:
            raise ValueError(f"An upstream URL has at most {UPSTREAM_URL_MAX} characters.")
        try:
            BASE_URL(url)
        except ValidationError:
            raise ValueError(f"Not an http(s) URL: {url[:100]!r}") from None
    if auth_header and not is_header_line(auth_header):
        raise ValueError("The Authorization header is one line of text, not only spaces.")


def is_header_line(value: str) -> bool:
    """Whether a header value can be sent as is: one line, not only spaces."""
    return bool(value.strip()) and not any(c in value for c in "\r\n\0")


def _apply_upstream(connector: Connector, url: str, auth_header: str, clear: bool) -> str:
    """Set the fields on the unsaved row; the note on the header for the audit trail, or ""."""
    had_header = bool(connector.upstream_auth_header_encrypted)
    connector.upstream_url = url
    if not url or (clear and not auth_header):
        connector.upstream_auth_header_encrypted = ""
        connector.upstream_auth_set_at = None
        return HEADER_REMOVED if had_header else ""
    if not auth_header:
        return ""
    connector.upstream_auth_header_encrypted = encrypt(auth_header.strip())
    connector.upstream_auth_set_at = timezone.now()
    return HEADER_REPLACED


@dataclass
class CatalogReport:
    """What a catalog load did (or, dry, would do)."""

    connectors_created: list[str] = field(default_factory=list)
    connectors_updated: list[str] = field(default_factory=list)
    tools_created: list[str] = field(default_factory=list)
    tools_updated: list[str] = field(default_factory=list)
    tools_not_in_catalog: list[str] = field(default_factory=list)
    icons_missing: list[str] = field(default_factory=list)
    dry_run: bool = False

    @property
    def changed(self) -> bool:
        return bool(
            self.connectors_created
            or self.connectors_updated
            or self.tools_created
            or self.tools_updated
        )


class _DryRun(Exception):
    """Raised to roll a dry run back after it has done everything."""


def catalog_load(
    *, catalog: Iterable[CatalogConnector], dry_run: bool = False, actor: Any = None
) -> CatalogReport:
    """Install or update the catalog's connectors and tools; safe to run again and again.

    - Creates what is missing; updates names, icons, descriptions, and the access of tools whose
      access no admin set by hand.
    - Never touches status, enabled switches or credentials; never deletes a tool (policies and
      past requests name tools): tools the catalog no longer lists are only reported.
    - A dry run does all of it in a transaction, then rolls it back.
    """
    report = CatalogReport(dry_run=dry_run)
    try:
        with transaction.atomic():
            for entry in catalog:
                _load_connector(entry, report)
            if report.changed:
                _audit_catalog(report, actor)
            if dry_run:
                raise _DryRun
    except _DryRun:
        pass
    return report


def _load_connector(entry: CatalogConnector, report: CatalogReport) -> None:
    """One catalog connector and its tools, created or brought up to date."""
    icon = entry.icon if icon_exists(entry.icon) else ""
    if not icon:
        report.icons_missing.append(entry.icon)
    connector = Connector.objects.select_for_update().filter(slug=entry.slug).first()
    if connector is None:
        connector = Connector.objects.create(slug=entry.slug, name=entry.name, icon=icon)
        report.connectors_created.append(entry.slug)
    elif (connector.name, connector.icon) != (entry.name, icon):
        connector.name, connector.icon = entry.name, icon
        connector.save(update_fields=["name", "icon", "updated_at"])
        report.connectors_updated.append(entry.slug)
    existing = {tool.key: tool for tool in connector.tools.select_for_update()}
    for spec in entry.tools:
        access = classify_tool(spec.key)
        tool = existing.pop(spec.key, None)
        if tool is None:
            Tool.objects.create(
                connector=connector, key=spec.key, description=spec.description, access=access
            )
            report.tools_created.append(spec.key)
            continue
        changed = _refresh_tool(tool, spec.description, access)
        if changed:
            tool.save(update_fields=changed)
            report.tools_updated.append(spec.key)
    report.tools_not_in_catalog.extend(sorted(existing))


def icon_exists(name: str) -> bool:
    """Whether static/icons/connectors/<name>.svg exists (else pages show the generic icon)."""
    return finders.find(f"icons/connectors/{name}.svg") is not None


def _refresh_tool(tool: Tool, description: str, access: str) -> list[str]:
    """Bring the catalog's fields of one tool up to date; the names of the fields changed."""
    changed = []
    if tool.description != description:
        tool.description = description
        changed.append("description")
    if not tool.access_overridden and tool.access != access:
        tool.access = access
        changed.append("access")
    return changed


def _audit_catalog(report: CatalogReport, actor: Any) -> None:
    audit_record(
        actor=actor or "load_connector_catalog",
        action="updated",
        object_type="connector_catalog",
        object_id="catalog",
        object_repr="Connector catalog",
        after={
            "connectors_created": report.connectors_created,
            "connectors_updated": report.connectors_updated,
            "tools_created": len(report.tools_created),
            "tools_updated": len(report.tools_updated),
        },
        channel="command",
    )

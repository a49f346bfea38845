"""manage.py sync_connector_tools [SLUG…]: read each upstream's tools/list into Tool rows."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from connectors.models import Connector
from mcp_gateway.sync import sync_connector_tools
from mcp_gateway.upstreams import stdio_upstreams, upstream_of


class Command(BaseCommand):
    help = (
        "Read the tools of connectors backed by an upstream MCP server (every such connector, or "
        "those named) and add or update their Tool rows; tools gone upstream are marked missing."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("slugs", nargs="*", metavar="SLUG")

    def handle(self, *args, slugs: list[str], **options) -> None:
        commands = stdio_upstreams()
        connectors = Connector.objects.order_by("slug")
        if slugs:
            connectors = connectors.filter(slug__in=slugs)
            unknown = set(slugs) - {c.slug for c in connectors}
            if unknown:
                raise CommandError(f"No connector with the slug: {', '.join(sorted(unknown))}.")
        failed = 0
        for connector in connectors:
            upstream = upstream_of(connector, commands)
            if upstream is None:
                if slugs:
                    self.stderr.write(f"{connector.slug}: no upstream MCP server configured.")
                    failed += 1
                continue
            result = sync_connector_tools(connector, upstream)
            if result.error:
                self.stderr.write(f"{connector.slug}: {upstream.described}: {result.error}")
                failed += 1
                continue
            self.stdout.write(
                f"{connector.slug}: {len(result.added)} added, {len(result.updated)} updated, "
                f"{len(result.missing)} newly missing."
            )
        if failed:
            raise CommandError(f"{failed} connector(s) not synced.")

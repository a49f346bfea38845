"""manage.py load_connector_catalog [--dry-run] [--only SLUG ...] [--file PATH]."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from connectors.catalog import CATALOG_PATH, CatalogError, read_catalog
from connectors.services import CatalogReport, catalog_load


class Command(BaseCommand):
    help = (
        "Install or update the connector catalog (connectors and their tools, with each tool's "
        "access guessed from its verb). Safe to run again: a second run changes nothing. Never "
        "deletes tools, and never changes a connector's status, enabled switches, credentials, "
        "or an access kind an admin set by hand."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--dry-run", action="store_true", help="report what would change; store nothing"
        )
        parser.add_argument(
            "--only",
            nargs="+",
            metavar="SLUG",
            default=None,
            help="load only these connectors, e.g. --only github slack",
        )
        parser.add_argument(
            "--file",
            type=Path,
            default=CATALOG_PATH,
            help="a catalog file in the same JSON format (default: the one shipped)",
        )

    def handle(self, *args, dry_run: bool, only: list[str] | None, file: Path, **options) -> None:
        try:
            catalog = read_catalog(file)
        except CatalogError as exc:
            raise CommandError(f"Bad catalog: {exc}") from exc
        if only:
            unknown = sorted(set(only) - {entry.slug for entry in catalog})
            if unknown:
                raise CommandError(f"Not in the catalog: {', '.join(unknown)}")
            catalog = tuple(entry for entry in catalog if entry.slug in only)
        report = catalog_load(catalog=catalog, dry_run=dry_run)
        self._print(report)

    def _print(self, report: CatalogReport) -> None:
        verb = "would be" if report.dry_run else ""
        rows = (
            ("Connectors created", report.connectors_created),
            ("Connectors updated", report.connectors_updated),
            ("Tools created", report.tools_created),
            ("Tools updated", report.tools_updated),
            ("Tools not in the catalog (kept)", report.tools_not_in_catalog),
        )
        for label, names in rows:
            label = label.replace(" ", f" {verb} ", 1) if verb and "kept" not in label else label
            shown = f" ({', '.join(names)})" if names and len(names) <= 12 else ""
            self.stdout.write(f"{label}: {len(names)}{shown}")
        if report.icons_missing:
            missing = ", ".join(report.icons_missing)
            self.stdout.write(f"No icon file for {missing}: the generic icon is shown.")
        if report.dry_run:
            self.stdout.write("Dry run: nothing was stored.")

"""manage.py import_directory FILE: people and groups from an identity provider's export."""

from __future__ import annotations

from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from directory.importing import CSV_COLUMNS, DirectoryFileError, read_directory_file
from directory.sync import ImportConflict, ImportReport, directory_import

PROGRESS_FROM = 1_000  # rows; smaller files finish before a bar would help


class Command(BaseCommand):
    help = (
        "Create and update people and groups from a CSV or JSON export of the identity provider. "
        f"CSV columns: {','.join(CSV_COLUMNS)} (groups separated by ';'; mfa true/false). "
        'JSON: {"people": [{"name", "email", "external_id", "phone", "mfa", "groups": [...]}], '
        '"groups": [{"name", "external_id", "description"}]}. The format follows the extension '
        "(.csv, .json) or the content. Safe to run again: unchanged rows are not written. "
        "Any invalid row stores nothing and exits with status 1. Changes are audited (channel "
        "import)."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("file", type=Path, help="the export: a .csv or .json file")
        parser.add_argument(
            "--dry-run", action="store_true", help="report what would change; store nothing"
        )
        parser.add_argument(
            "--deactivate-missing",
            action="store_true",
            help="deactivate people the file does not list (their agents are then denied)",
        )

    def handle(self, *args, file: Path, dry_run: bool, deactivate_missing: bool, **options) -> None:
        try:
            data = read_directory_file(file)
        except DirectoryFileError as exc:
            raise CommandError(f"{file.name}: {exc}; nothing stored.") from exc
        if data.errors:
            self._fail(file, data.errors)
        bar = len(data.people) < PROGRESS_FROM or options.get("verbosity", 1) == 0

        def progress(rows):
            return tqdm(rows, desc="people", unit="row", disable=bar, file=self.stderr._out)

        try:
            report = directory_import(
                data=data,
                deactivate_missing=deactivate_missing,
                dry_run=dry_run,
                progress=progress,
            )
        except ImportConflict as exc:
            self._fail(file, exc.errors)
        except ValidationError as exc:
            raise CommandError(f"{file.name}: {' '.join(exc.messages)}; nothing stored.") from exc
        self._report(report, dry_run)

    def _fail(self, file: Path, errors: list[str]) -> None:
        for error in errors:
            self.stderr.write(f"{file.name} {error}")
        raise CommandError(f"{file.name}: {len(errors)} invalid row(s); nothing stored.")

    def _report(self, report: ImportReport, dry_run: bool) -> None:
        prefix = "Dry run, nothing stored. Would have: " if dry_run else ""
        people = report.people
        groups = report.groups
        self.stdout.write(
            f"{prefix}people: {people['created']} created, {people['updated']} updated, "
            f"{people['deactivated']} deactivated, {people['unchanged']} unchanged; "
            f"groups: {groups['created']} created, {groups['updated']} updated, "
            f"{groups['unchanged']} unchanged."
        )

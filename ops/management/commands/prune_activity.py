"""`manage.py prune_activity --older-than DAYS`: export, then delete, old activity rows."""

from __future__ import annotations

from argparse import RawDescriptionHelpFormatter
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection
from tqdm import tqdm

from ops.prune import (
    PruneRefused,
    cutoff_for,
    open_export,
    prune_counts,
    prune_kind,
    prune_kinds,
    prune_record,
)

HELP = """Delete activity older than DAYS days, after writing every deleted row to an export file:
API decision logs, sent or failed notifications, delivered or failed webhook deliveries.

The audit trail (audit entries and request events) is append-only and is never pruned unless
--include-audit is given; then the prune itself is recorded as a new audit entry.

The export is JSON lines, one object per row ({"table": ..., "row": {...}}), gzip-compressed
when FILE ends in .gz; it is appended to, never overwritten, and flushed before each batch is
deleted. Without --export the command refuses, unless --dry-run (which only counts). Safe to
re-run: an interrupted run is continued by the next one. Exits 1 with a one-line reason."""


class _ProgressStream:
    """tqdm draws with carriage returns; OutputWrapper would add a newline to each write."""

    def __init__(self, wrapper: Any) -> None:
        self.wrapper = wrapper

    def write(self, text: str) -> None:
        self.wrapper.write(text, ending="")

    def flush(self) -> None:
        self.wrapper.flush()


class Command(BaseCommand):
    help = HELP

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        kwargs.setdefault("formatter_class", RawDescriptionHelpFormatter)
        return super().create_parser(prog_name, subcommand, **kwargs)

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--older-than", type=int, required=True, metavar="DAYS", help="age in days (1 or more)"
        )
        parser.add_argument(
            "--export", metavar="FILE", help="where deleted rows are written first (.jsonl[.gz])"
        )
        parser.add_argument("--dry-run", action="store_true", help="count only; change nothing")
        parser.add_argument(
            "--include-audit",
            action="store_true",
            help="also prune audit entries and request events (recorded as an audit entry)",
        )
        parser.add_argument("--batch", type=int, default=1000, help="rows per transaction (1000)")

    def handle(self, *args: Any, **options: Any) -> None:
        days, include_audit = options["older_than"], options["include_audit"]
        if days < 1 or options["batch"] < 1:
            raise CommandError("--older-than and --batch must be at least 1")
        if include_audit and connection.vendor != "postgresql":
            raise CommandError("--include-audit needs PostgreSQL (its trigger guards the rows)")
        cutoff = cutoff_for(days)
        counts = prune_counts(cutoff=cutoff, include_audit=include_audit)
        if options["dry_run"]:
            self._report("Dry run: nothing was changed. Older than", cutoff, counts, "would go")
            return
        if not options["export"]:
            raise CommandError("--export FILE is required (rows are written there first)")
        export = Path(options["export"])
        if not export.parent.is_dir():
            raise CommandError(f"cannot write the export: {export.parent} is not a folder")
        deleted = self._prune(cutoff, counts, export, include_audit, options)
        if include_audit:
            prune_record(days=days, cutoff=cutoff, deleted=deleted, export_path=str(export))
        self._report(f"Exported to {export} and deleted; older than", cutoff, deleted, "deleted")

    def _prune(
        self,
        cutoff: Any,
        counts: dict[str, int],
        export: Path,
        include_audit: bool,
        options: dict[str, Any],
    ) -> dict[str, int]:
        """Each kind in turn behind one progress bar on stderr."""
        deleted: dict[str, int] = {}
        bar = tqdm(
            total=sum(counts.values()),
            unit="row",
            desc="Pruning",
            file=_ProgressStream(self.stderr),
            disable=options["verbosity"] == 0,
        )
        try:
            with bar, open_export(export) as stream:
                for kind in prune_kinds(include_audit=include_audit):
                    deleted[kind.name] = prune_kind(
                        kind=kind,
                        cutoff=cutoff,
                        export=stream,
                        batch=options["batch"],
                        progress=bar.update,
                    )
        except (PruneRefused, OSError) as exc:
            raise CommandError(f"prune_activity: {exc}") from exc
        return deleted

    def _report(self, title: str, cutoff: Any, counts: dict[str, int], verb: str) -> None:
        self.stdout.write(f"{title} {cutoff.isoformat(timespec='seconds')}:")
        for name, count in counts.items():
            self.stdout.write(f"  {name:<20}{count:>10} {verb}")

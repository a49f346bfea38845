"""`manage.py process_due [--dry-run]`: run the sweep once, as beat does every few seconds."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from requests_app.sweep import DEADLINES, SweepReport, sweep_due

HELP = """Act once on every deadline due now: time out requests (the flow's outcome: auto-approve,
deny or expire), escalate to the next level of approvers, send reminders; then hand due
notifications and webhook deliveries to the workers. Prints a count per kind.

Safe to run while beat's sweep runs, and twice at once: each due deadline is claimed by one
sweep only (SELECT … FOR UPDATE SKIP LOCKED); --workers N forks helpers that claim alongside
for a large backlog. With --dry-run it lists what is due and changes nothing. Exits 1 with a
one-line reason when the sweep fails."""


KIND_SINGULAR = {"timeouts": "timeout", "escalations": "escalation", "reminders": "reminder"}


class Command(BaseCommand):
    help = HELP

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dry-run", action="store_true", help="list what is due; change and send nothing"
        )
        parser.add_argument(
            "--batch", type=int, default=500, help="requests claimed per transaction (500)"
        )
        parser.add_argument(
            "--workers",
            type=int,
            default=1,
            help="processes claiming side by side, for a large backlog (1; one per core at most)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["batch"] < 1 or options["workers"] < 1:
            raise CommandError("--batch and --workers must be at least 1")
        try:
            report = sweep_due(
                batch=options["batch"], dry_run=options["dry_run"], workers=options["workers"]
            )
        except Exception as exc:
            reason = " ".join(str(exc).split()) or type(exc).__name__
            raise CommandError(f"process_due failed: {reason}"[:300]) from exc
        self._print(report)
        if report.errors:
            first = " ".join(report.errors[0].split())
            raise CommandError(f"process_due: {len(report.errors)} problem(s), first: {first}")

    def _print(self, report: SweepReport) -> None:
        """A count per kind; in a dry run, then the first requests due of each kind."""
        stamp = report.now.isoformat(timespec="seconds")
        if report.dry_run:
            self.stdout.write(f"Dry run at {stamp}: nothing was changed or sent.")
        else:
            self.stdout.write(f"Swept at {stamp}:")
        for kind, count in report.counts().items():
            if not (report.dry_run and kind == "failed"):
                self.stdout.write(f"  {kind:<14}{count:>8} {self._verb(kind, report.dry_run)}")
        for kind, _column in DEADLINES if report.dry_run else ():
            for line in report.due.get(kind, []):
                self.stdout.write(f"  {KIND_SINGULAR[kind]:<11}{line}")

    @staticmethod
    def _verb(kind: str, dry_run: bool) -> str:
        if dry_run:
            return "due"
        return "handed to workers" if kind in ("notifications", "webhooks") else ""

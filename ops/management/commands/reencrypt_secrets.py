"""`manage.py reencrypt_secrets`: every stored secret re-encrypted with the current key."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ops.reencrypt import FieldResult, reencrypt_secrets

HELP = """Re-encrypt every stored secret (connector client secrets, API key webhook secrets: each
model field named *_encrypted) with ENCRYPTION_KEY, reading it with ENCRYPTION_KEY or one of
ENCRYPTION_OLD_KEYS. Run it after a rotation (the new key in ENCRYPTION_KEY, the old one in
ENCRYPTION_OLD_KEYS); once it reports every secret under the current key, ENCRYPTION_OLD_KEYS
can be emptied.

Safe to run twice: a value already under the current key is left as it is, and a secret changed
meanwhile is not overwritten. Prints counts per field. Exits 1, naming the rows, when a stored
value cannot be decrypted with any key (its key is missing from ENCRYPTION_OLD_KEYS, or the
value was altered); every other value is still re-encrypted."""

SHOWN_ROWS = 10


class Command(BaseCommand):
    help = HELP

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="count only; change nothing")

    def handle(self, *args: Any, **options: Any) -> None:
        dry_run = options["dry_run"]
        results = reencrypt_secrets(dry_run=dry_run)
        if dry_run:
            self.stdout.write("Dry run: nothing was changed.")
        for result in results:
            self.stdout.write(_line(result, dry_run=dry_run))
        unreadable = [(r.label, pk) for r in results for pk in r.unreadable]
        if unreadable:
            raise CommandError(_unreadable_message(unreadable))
        if not dry_run:
            self.stdout.write(
                "Every stored secret is under ENCRYPTION_KEY: ENCRYPTION_OLD_KEYS may be emptied."
            )


def _line(result: FieldResult, *, dry_run: bool) -> str:
    verb = "to re-encrypt" if dry_run else "re-encrypted"
    parts = [f"{result.reencrypted} {verb}", f"{result.current} already under the current key"]
    if result.changed_meanwhile:
        parts.append(f"{result.changed_meanwhile} changed meanwhile (left as set)")
    if result.unreadable:
        parts.append(f"{len(result.unreadable)} unreadable")
    return f"  {result.label}: {', '.join(parts)}"


def _unreadable_message(unreadable: list[tuple[str, object]]) -> str:
    shown = ", ".join(f"{label} pk={pk}" for label, pk in unreadable[:SHOWN_ROWS])
    more = f" and {len(unreadable) - SHOWN_ROWS} more" if len(unreadable) > SHOWN_ROWS else ""
    return (
        f"{len(unreadable)} stored secret(s) cannot be decrypted with ENCRYPTION_KEY or "
        f"ENCRYPTION_OLD_KEYS: {shown}{more}. Add the key they were encrypted with to "
        "ENCRYPTION_OLD_KEYS, or enter these secrets again."
    )

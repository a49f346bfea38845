"""manage.py create_scim_token NAME: the bearer token an identity provider's SCIM client sends."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from directory.services import scim_token_create


class Command(BaseCommand):
    help = (
        "Create a SCIM 2.0 bearer token for an identity provider (Okta, Entra ID) to provision "
        "people and groups at /scim/v2/. The token is printed once, on the last line; only a "
        "hash is stored. Gateway API keys do not work on SCIM, nor SCIM tokens on /api/v1/."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("name", help="a unique name, e.g. okta or entra")
        parser.add_argument("--dry-run", action="store_true", help="check the name; create nothing")

    def handle(self, *args, name: str, **options) -> None:
        try:
            with transaction.atomic():
                issued = scim_token_create(name=name)
                if options.get("dry_run"):
                    transaction.set_rollback(True)
        except ValidationError as exc:
            raise CommandError(" ".join(m for ms in exc.message_dict.values() for m in ms)) from exc
        if options.get("dry_run"):
            self.stdout.write(
                f"Dry run: the SCIM token “{name}” can be created; nothing was stored."
            )
            return
        self.stderr.write(f"Created SCIM token “{issued.token.name}” ({issued.token.prefix}…).")
        self.stderr.write("The token is shown once, on the next line. Store it now.")
        self.stdout.write(issued.raw_token)

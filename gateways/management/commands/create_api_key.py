"""manage.py create_api_key NAME: a gateway's API key, printed once on the last line."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from gateways.services import api_key_create


class Command(BaseCommand):
    help = (
        "Create an API key for a gateway. The key is printed once, on the last line; only a hash "
        "is stored. With --webhook-url, a webhook signing secret is printed once too."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("name", help="a unique name, e.g. the gateway's host")
        parser.add_argument("--webhook-url", default="", help="where resolutions are POSTed")
        parser.add_argument(
            "--dry-run", action="store_true", help="check the name and URL; create nothing"
        )

    def handle(self, *args, name: str, webhook_url: str, **options) -> None:
        try:
            with transaction.atomic():
                issued = api_key_create(name=name, webhook_url=webhook_url)
                if options.get("dry_run"):
                    transaction.set_rollback(True)
        except ValidationError as exc:
            raise CommandError(" ".join(m for ms in exc.message_dict.values() for m in ms)) from exc
        if options.get("dry_run"):
            self.stdout.write(f"Dry run: the key “{name}” can be created; nothing was stored.")
            return
        self.stderr.write(f"Created API key “{issued.api_key.name}” ({issued.api_key.prefix}…).")
        if issued.webhook_secret:
            self.stderr.write(f"Webhook signing secret (shown once): {issued.webhook_secret}")
        self.stderr.write("The key is shown once, on the next line. Store it now.")
        self.stdout.write(issued.raw_key)

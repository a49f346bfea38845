"""manage.py create_gateway_token EMAIL: a person's gateway token, printed once on the last line."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from directory.models import Person
from mcp_gateway.tokens import gateway_token_create


class Command(BaseCommand):
    help = (
        "Create a personal token for the MCP gateway: the person's agents call as them. The token "
        "is printed once, on the last line; only a hash is stored."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("email", help="the person's email, as in the directory")
        parser.add_argument(
            "--expires-in", type=int, default=None, metavar="DAYS", help="days until it expires"
        )

    def handle(self, *args, email: str, expires_in: int | None, **options) -> None:
        person = Person.objects.filter(email__iexact=email.strip()).first()
        if person is None:
            raise CommandError(f"No person with the email {email} in the directory.")
        try:
            issued = gateway_token_create(person=person, expires_in_days=expires_in)
        except ValidationError as exc:
            raise CommandError(" ".join(m for ms in exc.message_dict.values() for m in ms)) from exc
        token = issued.token
        until = f", expires {token.expires_at:%Y-%m-%d %H:%M} UTC" if token.expires_at else ""
        self.stderr.write(f"Created a gateway token for {person.email} ({token.prefix}…{until}).")
        self.stderr.write("The token is shown once, on the next line. Store it now.")
        self.stdout.write(issued.raw_token)

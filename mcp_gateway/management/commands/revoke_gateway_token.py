"""manage.py revoke_gateway_token PREFIX: stop a gateway token at once."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from mcp_gateway.models import GatewayToken
from mcp_gateway.tokens import gateway_token_revoke


class Command(BaseCommand):
    help = "Revoke a gateway token by its prefix (the part after agw_, as create printed it)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("prefix")

    def handle(self, *args, prefix: str, **options) -> None:
        token = GatewayToken.objects.select_related("person").filter(prefix=prefix).first()
        if token is None:
            raise CommandError(f"No gateway token with the prefix {prefix}.")
        if gateway_token_revoke(token=token):
            self.stdout.write(f"Revoked the gateway token {token}.")
        else:
            self.stdout.write(f"The gateway token {token} was revoked already.")

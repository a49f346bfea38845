"""What the security tests check against: the roles, a digest of the database, the World.

- `db_fingerprint()` is what "nothing changed" is checked against: one digest per table.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.apps import apps
from django.db import connection

from approval_flows.models import ApprovalFlow
from connectors.models import Connector, Tool
from directory.models import Group, Person
from directory.services import IssuedScimToken
from gateways.services import IssuedKey
from mcp_gateway.tokens import IssuedGatewayToken
from policies.models import Policy
from requests_app.models import AccessRequest

ROLES = ("anonymous", "outsider", "approver", "other_approver", "admin")

# Columns that a GET may touch by design: when a key or a login was last used.
TOUCHED_ON_READ = ("last_used_at", "last_login")
# Tables no request of the console may change by itself: sessions change with every login.
NOT_FINGERPRINTED = {"django_session"}


def db_fingerprint() -> dict[str, str]:
    """A digest of every row of every table of the project's models, by table (one query)."""
    tables = sorted(
        {model._meta.db_table for model in apps.get_models(include_auto_created=True)}
        - NOT_FINGERPRINTED
    )
    row = "(to_jsonb(t)" + "".join(f" - '{column}'" for column in TOUCHED_ON_READ) + ")::text"
    parts = [
        f"SELECT '{table}', count(*), coalesce(md5(string_agg({row}, ',' ORDER BY {row})), '') "
        f'FROM "{table}" t'
        for table in tables
    ]
    with connection.cursor() as cursor:
        cursor.execute(" UNION ALL ".join(parts))
        rows = cursor.fetchall()
    return {table: f"{count}:{digest}" for table, count, digest in rows}


def changed_tables(before: dict[str, str], after: dict[str, str]) -> list[str]:
    """The tables whose rows differ between two fingerprints."""
    return sorted(table for table in before if before[table] != after.get(table))


@dataclass
class World:
    """The objects the URL table builds concrete URLs from."""

    access_request: AccessRequest
    other_request: AccessRequest
    api_request: AccessRequest
    policy: Policy
    flow: ApprovalFlow
    issued: IssuedKey
    revoked: IssuedKey
    token: str
    connector: Connector
    tool: Tool
    person: Person  # unlocked: Lock locks them, Unlock is told they are unlocked already
    group: Group
    scim: IssuedScimToken
    revoked_scim: IssuedScimToken
    gateway_token: IssuedGatewayToken  # the person's, active: Revoke revokes it
    step_up: str  # the link of a step-up the gateway asked the outsider (Olivia) for

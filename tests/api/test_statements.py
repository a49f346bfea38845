"""SQL statements per decision: few, and the same whatever the number of policies.

Transactional tests: the snapshot version moves on commit, as in production.

The issue's budget is four statements per decision. The API reads the key and the policy
snapshot's version in one query, so allow and deny cost two (that query and the log line), step up
three (plus the grants), and a call whose request is already pending three: its request and
whether any grant could change the decision come in one statement.
"""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from connectors.models import Connector, Tool
from directory.models import Group
from policies.models import Policy
from tests.api.conftest import ANA, BEN, CALENDAR, DELETE, LIST, REPOS_DELETE, UPDATE, Gateway

CALLS = {
    "allow": ((ANA, CALENDAR, [LIST]), 2),
    "deny by policy": ((ANA, CALENDAR, [DELETE]), 2),
    "deny, no policy": ((BEN, CALENDAR, [UPDATE]), 2),
    "deny, unknown user": (("nobody@example.com", CALENDAR, [LIST]), 2),
    "step up": ((BEN, "github", [REPOS_DELETE]), 3),
    "approval, already pending": ((ANA, CALENDAR, [UPDATE]), 3),
}


def statements(gateway: Gateway, user: str, connector: str, tools: list[str]) -> list[str]:
    gateway.decide(user, connector, tools)  # warm: the snapshot, and the pending request
    with CaptureQueriesContext(connection) as captured:
        response = gateway.decide(user, connector, tools)
    assert response.status_code == 200, response.content
    return [q["sql"] for q in captured.captured_queries]


def add_policies(count: int) -> None:
    connector = Connector.objects.create(slug="load", name="Load", status="connected")
    tools = Tool.objects.bulk_create(
        Tool(connector=connector, key=f"load_op_{n}_list") for n in range(10)
    )
    group = Group.objects.first()
    for n in range(count):
        policy = Policy.objects.create(name=f"Load {n}", connector=connector, action="allow")
        policy.tools.set([tools[n % len(tools)]])
        policy.groups.set([group])


@pytest.mark.parametrize("kind", CALLS)
def test_each_kind_of_decision_runs_its_budget_of_statements(
    transactional_db, demo, gateway: Gateway, kind
):
    call, budget = CALLS[kind]
    queries = statements(gateway, *call)
    assert len(queries) == budget, "\n".join(queries)


def test_the_statements_do_not_grow_with_the_number_of_policies(
    transactional_db, demo, gateway: Gateway
):
    before = {kind: len(statements(gateway, *call)) for kind, (call, _) in CALLS.items()}
    add_policies(200)
    after = {kind: len(statements(gateway, *call)) for kind, (call, _) in CALLS.items()}
    assert after == before

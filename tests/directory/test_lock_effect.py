"""Lock, unlock and IdP deactivation take effect on the very next API decision."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.test import Client

from directory.models import Person
from directory.services import scim_token_create
from gateways.services import api_key_create
from policies.evaluation import (
    ALLOW,
    DENY,
    USER_DEACTIVATED,
    USER_LOCKED,
    Call,
    ConnectorInfo,
    PersonInfo,
    PolicyRule,
    Snapshot,
    ToolInfo,
    evaluate,
)
from tests.api.conftest import ANA, CALENDAR, LIST, Gateway
from tests.directory.conftest import Scim, commit_snapshot_changes


@pytest.fixture
def gateway(db) -> Gateway:
    return Gateway(api_key_create(name="test gateway").raw_key)


def test_lock_from_the_users_page_denies_the_next_decision_and_unlock_allows(
    demo,
    gateway: Gateway,
    admin_user,
):
    console = Client()
    console.force_login(admin_user)
    ana = demo[ANA]
    assert gateway.decide(ANA, CALENDAR, [LIST]).json()["decision"] == "allow"
    assert console.post(f"/users/{ana.pk}/lock/").status_code == 302
    commit_snapshot_changes()
    locked = gateway.decide(ANA, CALENDAR, [LIST]).json()
    assert (locked["decision"], locked["reason_code"]) == ("deny", USER_LOCKED)
    console.post(f"/users/{ana.pk}/unlock/")
    commit_snapshot_changes()
    assert gateway.decide(ANA, CALENDAR, [LIST]).json()["decision"] == "allow"


def test_scim_deactivation_denies_with_user_deactivated(demo, gateway: Gateway):
    ana = demo[ANA]
    scim = Scim(scim_token_create(name="entra").raw_token)
    body = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "Replace", "path": "active", "value": "False"}],
    }
    assert scim.patch(f"Users/{ana.pk}", body).status_code == 200
    commit_snapshot_changes()
    denied = gateway.decide(ANA, CALENDAR, [LIST]).json()
    assert (denied["decision"], denied["reason_code"]) == ("deny", USER_DEACTIVATED)
    assert Person.objects.get(pk=ana.pk).status == Person.Status.ACTIVE


def test_a_person_provisioned_over_scim_gets_decisions_at_once(demo, gateway: Gateway):
    newcomer = "nora.quinn@example.com"
    assert gateway.decide(newcomer, CALENDAR, [LIST]).json()["reason_code"] == "unknown_user"
    scim = Scim(scim_token_create(name="okta").raw_token)
    user = {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": newcomer,
        "name": {"givenName": "Nora", "familyName": "Quinn"},
        "emails": [{"primary": True, "value": newcomer, "type": "work"}],
        "active": True,
    }
    created = scim.post("Users", user)
    assert created.status_code == 201, created.content
    sales = Person.objects.get(email=ANA).groups.get(name="Sales")
    membership = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [
            {"op": "add", "path": "members", "value": [{"value": created.json()["id"]}]}
        ],
    }
    assert scim.patch(f"Groups/{sales.pk}", membership).status_code in (200, 204)
    commit_snapshot_changes()

    listed = gateway.decide(newcomer, CALENDAR, [LIST]).json()
    creating = gateway.decide(newcomer, CALENDAR, ["google-calendar_events_create"]).json()

    assert (listed["decision"], listed["reason_code"]) == ("allow", "allowed")
    assert creating["decision"] == "approval_required"  # the Sales policy now covers her


def _snapshot(person: PersonInfo) -> Snapshot:
    tool = ToolInfo(1, "t", True, "read")
    connector = ConnectorInfo(1, "c", "C", True, {"t": tool})
    rule = PolicyRule(1, "all", 1, frozenset(), True, frozenset(), frozenset(), ALLOW)
    return Snapshot(1, {person.email: person}, {}, {"c": connector}, {1: (rule,)})


def test_engine_denies_deactivated_before_locked_and_allows_active():
    now = datetime(2026, 3, 5, tzinfo=UTC)
    call = Call("a@example.com", "c", ("t",))
    base = PersonInfo(1, "a@example.com", None, False, frozenset())
    assert evaluate(_snapshot(base), call, now=now).decision == ALLOW
    both = PersonInfo(1, "a@example.com", None, True, frozenset(), deactivated=True)
    decision = evaluate(_snapshot(both), call, now=now)
    assert (decision.decision, decision.reason_code) == (DENY, USER_DEACTIVATED)
    assert decision.tools[0].reason_code == USER_DEACTIVATED
    locked = PersonInfo(1, "a@example.com", None, True, frozenset())
    assert evaluate(_snapshot(locked), call, now=now).reason_code == USER_LOCKED

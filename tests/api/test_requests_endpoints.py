"""GET /api/v1/requests/<id>, …/consume and …/cancel, and time-bound grants seen by decisions."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from django.utils import timezone

from connectors.models import Tool
from directory.models import Person
from policies.models import Policy
from policies.services import PolicyData, policy_create
from requests_app.models import AccessRequest, RequestEvent
from requests_app.services import (
    Actor,
    request_approve,
    request_create,
    request_deny,
    request_resolve_with_policy,
)
from tests.api.conftest import (
    ANA,
    CALENDAR,
    CREATE,
    DELETE,
    UPDATE,
    Gateway,
    assert_error,
    row_counts,
)

pytestmark = pytest.mark.django_db

REQUEST_KEYS = {
    "id",
    "status",
    "tools",
    "decided_at",
    "decided_by",
    "decided_via",
    "comment",
    "grant_expires_at",
    "consumed_at",
}
DANA = Actor(name="Dana Levi", channel="web")


def iso(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    assert parsed.tzinfo is not None
    return parsed


def payload(response) -> dict[str, Any]:
    """A 200 request payload, checked against the DESIGN §6 shape."""
    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == REQUEST_KEYS
    for tool in body["tools"]:
        assert set(tool) == {"tool", "status"}
    return body


def new_request(gateway: Gateway, tools: list[str], **fields: Any) -> AccessRequest:
    response = gateway.decide(ANA, CALENDAR, tools, **fields)
    assert response.status_code == 200, response.content
    assert response.json()["decision"] == "approval_required"
    return AccessRequest.objects.get(public_id=response.json()["request"]["id"])


def tool_id(key: str) -> int:
    return Tool.objects.get(key=key).pk


def test_a_pending_request_reads_as_pending_with_nothing_decided(demo, gateway: Gateway):
    access_request = new_request(gateway, [CREATE, UPDATE])

    body = payload(gateway.status(access_request.public_id))

    assert body == {
        "id": str(access_request.public_id),
        "status": "pending",
        "tools": [{"tool": CREATE, "status": "pending"}, {"tool": UPDATE, "status": "pending"}],
        "decided_at": None,
        "decided_by": None,
        "decided_via": None,
        "comment": "",
        "grant_expires_at": None,
        "consumed_at": None,
    }


def test_the_id_is_accepted_in_upper_case(demo, gateway: Gateway):
    access_request = new_request(gateway, [CREATE])

    body = payload(gateway.status(str(access_request.public_id).upper()))

    assert body["id"] == str(access_request.public_id)


def test_reading_a_request_writes_nothing(demo, gateway: Gateway):
    access_request = new_request(gateway, [CREATE])
    before = row_counts()

    payload(gateway.status(access_request.public_id))

    assert row_counts() == before


def test_a_partial_one_hour_approval_shows_per_tool_statuses_and_who_decided(
    demo, gateway: Gateway
):
    access_request = new_request(gateway, [CREATE, UPDATE])
    request_approve(
        access_request=access_request,
        actor=DANA,
        tool_ids=[tool_id(CREATE)],
        duration=timedelta(hours=1),
        comment="Only the new event",
    )

    body = payload(gateway.status(access_request.public_id))

    assert body["status"] == "approved"
    assert body["tools"] == [
        {"tool": CREATE, "status": "approved"},
        {"tool": UPDATE, "status": "denied"},
    ]
    assert body["decided_by"] == "Dana Levi"
    assert body["decided_via"] == "web"
    assert body["comment"] == "Only the new event"
    decided_at = iso(body["decided_at"])
    assert abs(decided_at - timezone.now()) < timedelta(minutes=1)
    assert iso(body["grant_expires_at"]) - decided_at == timedelta(hours=1)
    assert body["consumed_at"] is None


def test_a_denied_request_reads_as_denied_for_every_tool(demo, gateway: Gateway):
    access_request = new_request(gateway, [CREATE, UPDATE])
    request_deny(access_request=access_request, actor=DANA, comment="Not this week")

    body = payload(gateway.status(access_request.public_id))

    assert body["status"] == "denied"
    assert {t["status"] for t in body["tools"]} == {"denied"}
    assert (body["decided_by"], body["decided_via"], body["comment"]) == (
        "Dana Levi",
        "web",
        "Not this week",
    )
    assert body["grant_expires_at"] is None


# --- consume ----------------------------------------------------------------------------------


def test_an_approved_request_is_consumed_once_then_conflicts(demo, gateway: Gateway):
    access_request = new_request(gateway, [CREATE])
    request_approve(access_request=access_request, actor=DANA)

    first = gateway.consume(access_request.public_id)
    before_second = row_counts()
    second = gateway.consume(access_request.public_id)

    body = payload(first)
    assert body["status"] == "approved"
    assert abs(iso(body["consumed_at"]) - timezone.now()) < timedelta(minutes=1)
    error = assert_error(second, 409, "conflict")
    assert error["details"] == {"status": "approved"}
    assert "consumed already" in error["message"]
    assert row_counts() == before_second
    assert payload(gateway.status(access_request.public_id))["consumed_at"] == body["consumed_at"]
    consumed = RequestEvent.objects.filter(request=access_request, kind="consumed")
    assert list(consumed.values_list("channel", "actor_name")) == [("api", "Gateway test gateway")]


def test_a_time_bound_approval_can_be_consumed_once_too(demo, gateway: Gateway):
    access_request = new_request(gateway, [CREATE])
    request_approve(access_request=access_request, actor=DANA, duration=timedelta(hours=8))

    assert gateway.consume(access_request.public_id).status_code == 200
    assert_error(gateway.consume(access_request.public_id), 409, "conflict")


def test_a_request_resolved_by_a_new_policy_reads_as_the_policy_s_approval(demo, gateway: Gateway):
    access_request = new_request(gateway, [CREATE, UPDATE])
    data = PolicyData(
        name="Ana books her own meetings",
        connector=access_request.connector,
        action=Policy.Action.ALLOW,
        users=[Person.objects.get(email=ANA)],
        tools=list(Tool.objects.filter(key__in=[CREATE, UPDATE])),
    )
    request_resolve_with_policy(
        access_request=access_request, data=data, actor=Actor(name="Demo Admin", channel="web")
    )

    body = payload(gateway.status(access_request.public_id))

    assert (body["status"], body["decided_via"], body["decided_by"]) == (
        "approved",
        "policy",
        "Demo Admin",
    )
    assert body["comment"] == "Resolved by the new policy: Ana books her own meetings"
    assert {t["status"] for t in body["tools"]} == {"approved"}
    # No time-bound grant: this call's approval, which the gateway consumes once.
    assert body["grant_expires_at"] is None and body["consumed_at"] is None
    assert gateway.consume(access_request.public_id).status_code == 200
    assert_error(gateway.consume(access_request.public_id), 409, "conflict")


# --- cancel -----------------------------------------------------------------------------------


def test_cancelling_a_pending_request_cancels_it(demo, gateway: Gateway):
    access_request = new_request(gateway, [CREATE, UPDATE])

    body = payload(gateway.cancel(access_request.public_id))

    assert body["status"] == "cancelled"
    assert {t["status"] for t in body["tools"]} == {"denied"}
    assert body["decided_via"] == "api"
    assert body["decided_by"] == "Gateway test gateway"
    assert payload(gateway.status(access_request.public_id))["status"] == "cancelled"
    access_request.refresh_from_db()
    assert access_request.status == AccessRequest.Status.CANCELLED
    last = access_request.events.order_by("created_at", "id").values_list("kind", "channel").last()
    assert last == ("cancelled", "api")


def test_cancelling_a_decided_request_conflicts_and_says_who_decided(demo, gateway: Gateway):
    access_request = new_request(gateway, [CREATE])
    request_approve(access_request=access_request, actor=DANA)
    before = row_counts()

    error = assert_error(gateway.cancel(access_request.public_id), 409, "conflict")

    assert error["details"] == {"status": "approved"}
    assert "Dana Levi" in error["message"]
    assert row_counts() == before
    assert payload(gateway.status(access_request.public_id))["status"] == "approved"


# --- time-bound grants as decisions see them --------------------------------------------------


def approve_for_an_hour(gateway: Gateway, tools: list[str]) -> AccessRequest:
    access_request = new_request(gateway, tools)
    return request_approve(access_request=access_request, actor=DANA, duration=timedelta(hours=1))


def test_an_unexpired_grant_allows_the_same_call_without_a_new_request(demo, gateway: Gateway):
    approve_for_an_hour(gateway, [CREATE])
    before = AccessRequest.objects.count()

    response = gateway.decide(ANA, CALENDAR, [CREATE])

    body = response.json()
    assert body["decision"] == "allow"
    assert body["tools"][0]["decision"] == "allow"
    assert body["tools"][0]["reason_code"] == "grant"
    assert body["request"] is None
    assert AccessRequest.objects.count() == before


def test_a_grant_covers_other_arguments_for_the_same_tool(demo, gateway: Gateway):
    approve_for_an_hour(gateway, [CREATE])

    body = gateway.decide(ANA, CALENDAR, [CREATE], arguments={"summary": "another"}).json()

    assert body["decision"] == "allow"


def test_a_grant_given_while_the_same_call_waits_allows_that_call(demo, gateway: Gateway):
    """A call pending with other arguments: once a grant covers its tool, its repeat runs."""
    waiting = gateway.decide(ANA, CALENDAR, [CREATE], arguments={"summary": "waiting"}).json()
    assert waiting["decision"] == "approval_required"
    approve_for_an_hour(gateway, [CREATE])

    again = gateway.decide(ANA, CALENDAR, [CREATE], arguments={"summary": "waiting"}).json()

    assert again["decision"] == "allow" and again["tools"][0]["reason_code"] == "grant"
    assert again["request"] is None


def test_a_grant_covers_only_the_approved_tools(demo, gateway: Gateway):
    access_request = new_request(gateway, [CREATE, UPDATE])
    request_approve(
        access_request=access_request,
        actor=DANA,
        tool_ids=[tool_id(CREATE)],
        duration=timedelta(hours=1),
    )

    create = gateway.decide(ANA, CALENDAR, [CREATE]).json()
    update = gateway.decide(ANA, CALENDAR, [UPDATE]).json()

    assert create["decision"] == "allow"
    assert update["decision"] == "approval_required"
    assert update["request"]["id"] != str(access_request.public_id)


def test_a_one_time_approval_is_no_grant(demo, gateway: Gateway):
    access_request = new_request(gateway, [CREATE])
    request_approve(access_request=access_request, actor=DANA)

    body = gateway.decide(ANA, CALENDAR, [CREATE]).json()

    assert body["decision"] == "approval_required"
    assert body["request"]["id"] != str(access_request.public_id)


def test_a_grant_is_only_for_the_person_it_was_given_to(demo, gateway: Gateway):
    approve_for_an_hour(gateway, [CREATE])
    sales = Person.objects.get(email=ANA).groups.get()
    colleague = Person.objects.create(name="Sam Sales", email="sam@example.com")
    colleague.groups.add(sales)

    body = gateway.decide("sam@example.com", CALENDAR, [CREATE]).json()

    assert body["decision"] == "approval_required"


def test_an_expired_grant_asks_for_approval_again(demo, gateway: Gateway):
    granted = approve_for_an_hour(gateway, [CREATE])
    AccessRequest.objects.filter(pk=granted.pk).update(
        grant_expires_at=timezone.now() - timedelta(seconds=1)
    )
    before = AccessRequest.objects.count()

    body = gateway.decide(ANA, CALENDAR, [CREATE]).json()

    assert body["decision"] == "approval_required"
    assert body["request"]["status"] == "pending"
    assert body["request"]["id"] != str(granted.public_id)
    assert AccessRequest.objects.count() == before + 1


def test_a_grant_never_overrides_a_deny_policy_added_later(demo, gateway: Gateway):
    approve_for_an_hour(gateway, [CREATE])
    ana = Person.objects.get(email=ANA)
    calendar_create = Tool.objects.get(key=CREATE)
    policy_create(
        data=PolicyData(
            name="Ana may not create events",
            connector=calendar_create.connector,
            action=Policy.Action.DENY,
            tools=[calendar_create],
            users=[ana],
        )
    )

    body = gateway.decide(ANA, CALENDAR, [CREATE]).json()

    assert body["decision"] == "deny"
    assert body["reason_code"] == "policy_deny"


def test_a_grant_on_a_denied_tool_does_not_allow_it(demo, gateway: Gateway):
    ana = Person.objects.get(email=ANA)
    tools = list(Tool.objects.filter(key__in=[CREATE, DELETE]).order_by("key"))
    granted = request_create(
        requester=ana, connector=tools[0].connector, tools=tools, policy=None, flow=None
    )
    request_approve(access_request=granted, actor=DANA, duration=timedelta(hours=1))

    body = gateway.decide(ANA, CALENDAR, [CREATE, DELETE]).json()

    assert body["decision"] == "deny"
    by_tool = {t["tool"]: (t["decision"], t["reason_code"]) for t in body["tools"]}
    assert by_tool == {CREATE: ("allow", "grant"), DELETE: ("deny", "policy_deny")}
    assert body["request"] is None

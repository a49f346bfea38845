"""POST /api/v1/decisions over HTTP on the DESIGN §9 demo: every outcome, its shape, and dedupe."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import UUID

import pytest
from django.utils import timezone

from directory.models import Person
from policies.models import DecisionLog, Policy
from requests_app.models import AccessRequest, RequestTool
from requests_app.services import Actor, request_approve, request_deny
from tests.api.conftest import (
    ANA,
    BEN,
    CALENDAR,
    CREATE,
    DELETE,
    GET,
    LEE,
    LIST,
    REPOS_DELETE,
    UPDATE,
    Gateway,
    assert_error,
    row_counts,
)

pytestmark = pytest.mark.django_db

DECISION_KEYS = {"decision", "reason_code", "reason", "tools", "request"}
# DESIGN §6 names tool, decision and policy_id; the API adds each tool's reason_code (documented
# as required in the OpenAPI document).
TOOL_KEYS = {"tool", "decision", "policy_id", "reason_code"}
REQUEST_REF_KEYS = {"id", "status", "status_url", "review_url"}


def decided(response) -> dict[str, Any]:
    """The body of a 200 decision, checked against the DESIGN §6 shape."""
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert set(body) == DECISION_KEYS
    assert isinstance(body["reason"], str) and body["reason"]
    assert body["tools"], "every decision lists its tools"
    for tool in body["tools"]:
        assert set(tool) == TOOL_KEYS
    if body["request"] is not None:
        assert set(body["request"]) == REQUEST_REF_KEYS
    return body


def policy_id(name: str) -> int:
    return Policy.objects.get(name=name).pk


def ana_requests() -> int:
    """Ana's requests that the API created (the demo's hand-written ones have no key)."""
    return AccessRequest.objects.filter(requester__email=ANA, api_key__isnull=False).count()


def test_ana_listing_calendar_events_is_allowed_without_a_request(demo, gateway: Gateway):
    body = decided(gateway.decide(ANA, CALENDAR, [LIST]))

    assert body["decision"] == "allow"
    assert body["request"] is None
    assert body["tools"] == [
        {
            "tool": LIST,
            "decision": "allow",
            "policy_id": policy_id("Everyone may read calendars"),
            "reason_code": "policy_allow",
        }
    ]
    assert ana_requests() == 0


def test_ana_creating_an_event_needs_approval_and_gets_a_pending_request(demo, gateway: Gateway):
    before = AccessRequest.objects.count()

    body = decided(
        gateway.decide(
            ANA, CALENDAR, [CREATE], note="Book the QBR", agent="Claude", arguments={"a": 1}
        )
    )

    assert body["decision"] == "approval_required"
    assert body["reason_code"] == "approval_required"
    assert body["tools"] == [
        {
            "tool": CREATE,
            "decision": "approval_required",
            "policy_id": policy_id("Sales calendar changes need approval"),
            "reason_code": "approval_required",
        }
    ]
    ref = body["request"]
    public_id = UUID(ref["id"])
    assert ref["status"] == "pending"
    assert ref["status_url"] == f"http://127.0.0.1:8000/api/v1/requests/{public_id}"
    assert ref["review_url"] == f"http://127.0.0.1:8000/requests/{public_id}/"
    assert AccessRequest.objects.count() == before + 1
    created = AccessRequest.objects.get(public_id=public_id)
    assert created.requester.email == ANA
    assert created.status == AccessRequest.Status.PENDING
    assert created.flow.name == "Sales approvals"
    assert created.policy.name == "Sales calendar changes need approval"
    assert (created.note, created.agent, created.arguments) == ("Book the QBR", "Claude", {"a": 1})
    assert created.api_key.name == "test gateway"
    assert [rt.tool.key for rt in created.tools.all()] == [CREATE]
    assert created.events.values_list("kind", "channel").first() == ("created", "api")


def test_the_status_url_of_a_new_request_answers_with_its_status(demo, gateway: Gateway):
    ref = decided(gateway.decide(ANA, CALENDAR, [CREATE]))["request"]

    response = gateway.get(ref["status_url"].removeprefix("http://127.0.0.1:8000"))

    assert response.status_code == 200
    assert response.json()["id"] == ref["id"]
    assert response.json()["status"] == "pending"


def test_ana_deleting_an_event_is_denied_by_the_deny_policy(demo, gateway: Gateway):
    body = decided(gateway.decide(ANA, CALENDAR, [DELETE]))

    assert body["decision"] == "deny"
    assert body["reason_code"] == "policy_deny"
    assert body["request"] is None
    assert body["tools"][0]["policy_id"] == policy_id("No agent deletes calendar events")
    assert ana_requests() == 0


def test_one_denied_tool_denies_the_whole_call_and_creates_no_request(demo, gateway: Gateway):
    body = decided(gateway.decide(ANA, CALENDAR, [LIST, CREATE, DELETE]))

    assert body["decision"] == "deny"
    assert [t["decision"] for t in body["tools"]] == ["allow", "approval_required", "deny"]
    assert body["request"] is None
    assert ana_requests() == 0


def test_ben_creating_a_calendar_event_is_denied_for_want_of_a_policy(demo, gateway: Gateway):
    body = decided(gateway.decide(BEN, CALENDAR, [CREATE]))

    assert body["decision"] == "deny"
    assert body["reason_code"] == "no_policy"
    assert body["tools"] == [
        {"tool": CREATE, "decision": "deny", "policy_id": None, "reason_code": "no_policy"}
    ]
    assert body["request"] is None


def test_ben_deleting_a_repository_must_step_up(demo, gateway: Gateway):
    body = decided(gateway.decide(BEN, "github", [REPOS_DELETE]))

    assert body["decision"] == "step_up"
    assert body["reason_code"] == "step_up_required"
    assert body["tools"][0]["policy_id"] == policy_id("Step up to delete a repository")
    assert body["request"] is None
    assert not AccessRequest.objects.filter(requester__email=BEN).exists()


def test_ben_deleting_a_repository_after_a_fresh_step_up_is_allowed(demo, gateway: Gateway):
    fresh = (timezone.now() - timedelta(minutes=2)).isoformat()

    body = decided(
        gateway.decide(BEN, "github", [REPOS_DELETE], step_up={"authenticated_at": fresh})
    )

    assert body["decision"] == "allow"
    assert body["tools"][0]["reason_code"] == "step_up_verified"
    assert body["request"] is None


def test_a_step_up_in_z_notation_counts_as_fresh(demo, gateway: Gateway):
    fresh = timezone.now().strftime("%Y-%m-%dT%H:%M:%SZ")

    body = decided(
        gateway.decide(BEN, "github", [REPOS_DELETE], step_up={"authenticated_at": fresh})
    )

    assert body["decision"] == "allow"


def test_a_stale_step_up_still_asks_to_step_up(demo, gateway: Gateway):
    stale = (timezone.now() - timedelta(hours=2)).isoformat()

    body = decided(
        gateway.decide(BEN, "github", [REPOS_DELETE], step_up={"authenticated_at": stale})
    )

    assert body["decision"] == "step_up"


def test_a_step_up_never_softens_an_approval_policy(demo, gateway: Gateway):
    fresh = timezone.now().isoformat()

    body = decided(gateway.decide(ANA, CALENDAR, [CREATE], step_up={"authenticated_at": fresh}))

    assert body["decision"] == "approval_required"


def test_a_locked_user_is_denied_everything(demo, gateway: Gateway):
    body = decided(gateway.decide(LEE, CALENDAR, [LIST, GET]))

    assert body["decision"] == "deny"
    assert body["reason_code"] == "user_locked"
    assert {t["reason_code"] for t in body["tools"]} == {"user_locked"}
    assert body["request"] is None


def test_an_unknown_email_is_denied_as_unknown_user(demo, gateway: Gateway):
    body = decided(gateway.decide("nobody@example.com", CALENDAR, [LIST]))

    assert body["decision"] == "deny"
    assert body["reason_code"] == "unknown_user"
    assert body["tools"][0]["policy_id"] is None


def test_the_user_is_found_by_email_in_any_case_and_by_external_id(demo, gateway: Gateway):
    Person.objects.filter(email=BEN).update(external_id="okta|ben")

    by_email = decided(gateway.decide("ANA@Example.com", CALENDAR, [LIST]))
    by_external_id = decided(gateway.decide("okta|ben", "github", ["github_repos_list"]))

    assert by_email["decision"] == "allow"
    assert by_external_id["decision"] == "allow"


def test_every_decision_is_logged_once_with_its_request(demo, gateway: Gateway):
    decided(gateway.decide(ANA, CALENDAR, [LIST]))
    ref = decided(gateway.decide(ANA, CALENDAR, [CREATE], agent="Claude"))["request"]

    logs = list(DecisionLog.objects.order_by("id"))
    assert [(log.decision, log.user_ref, log.api_key_name) for log in logs] == [
        ("allow", ANA, "test gateway"),
        ("approval_required", ANA, "test gateway"),
    ]
    assert logs[0].request_public_id is None
    assert str(logs[1].request_public_id) == ref["id"]
    assert logs[1].agent == "Claude"
    assert logs[1].tools == [CREATE]


# --- Dedupe: the same call while its request is pending is the same request --------------------


def test_the_same_call_while_pending_returns_the_same_request(demo, gateway: Gateway):
    args = {"calendarId": "primary", "summary": "QBR"}
    first = decided(gateway.decide(ANA, CALENDAR, [CREATE, UPDATE], arguments=args))["request"]
    counts = row_counts()

    again = decided(gateway.decide(ANA, CALENDAR, [UPDATE, CREATE], arguments=args))["request"]

    assert again["id"] == first["id"]
    assert again["status"] == "pending"
    after = row_counts()
    assert after["AccessRequest"] == counts["AccessRequest"]
    assert after["RequestTool"] == counts["RequestTool"]
    assert after["RequestEvent"] == counts["RequestEvent"]
    assert after["DecisionLog"] == counts["DecisionLog"] + 1


def test_dedupe_ignores_the_note_agent_and_the_order_of_argument_keys(demo, gateway: Gateway):
    first = decided(
        gateway.decide(
            ANA, CALENDAR, [CREATE], note="one", agent="Claude", arguments={"a": 1, "b": 2}
        )
    )["request"]

    again = decided(
        gateway.decide(ANA, CALENDAR, [CREATE], note="two", agent="GPT", arguments={"b": 2, "a": 1})
    )["request"]

    assert again["id"] == first["id"]


def test_a_repeated_tool_in_the_call_is_the_same_call(demo, gateway: Gateway):
    first = decided(gateway.decide(ANA, CALENDAR, [CREATE]))["request"]

    again = decided(gateway.decide(ANA, CALENDAR, [CREATE, CREATE]))["request"]

    assert again["id"] == first["id"]
    assert AccessRequest.objects.get(public_id=first["id"]).tools.count() == 1


@pytest.mark.parametrize(
    "other_arguments",
    [{"summary": "Other"}, None, {"summary": "QBR", "extra": True}],
    ids=["different-values", "no-arguments", "extra-key"],
)
def test_different_arguments_are_a_different_request(demo, gateway: Gateway, other_arguments):
    first = decided(gateway.decide(ANA, CALENDAR, [CREATE], arguments={"summary": "QBR"}))

    body = {} if other_arguments is None else {"arguments": other_arguments}
    second = decided(gateway.decide(ANA, CALENDAR, [CREATE], **body))

    assert second["request"]["id"] != first["request"]["id"]
    assert ana_requests() == 2


def test_a_different_set_of_tools_is_a_different_request(demo, gateway: Gateway):
    first = decided(gateway.decide(ANA, CALENDAR, [CREATE]))["request"]

    second = decided(gateway.decide(ANA, CALENDAR, [CREATE, UPDATE]))["request"]

    assert second["id"] != first["id"]


def test_the_request_holds_only_the_tools_that_need_approval(demo, gateway: Gateway):
    ref = decided(gateway.decide(ANA, CALENDAR, [LIST, CREATE]))["request"]

    keys = list(
        RequestTool.objects.filter(request__public_id=ref["id"]).values_list("tool__key", flat=True)
    )
    assert keys == [CREATE]
    # The allowed tool does not make it another call: asking for create alone is the same one.
    again = decided(gateway.decide(ANA, CALENDAR, [CREATE]))["request"]
    assert again["id"] == ref["id"]


@pytest.mark.parametrize("decide", ["approve", "deny", "cancel"])
def test_after_the_request_is_decided_the_same_call_creates_a_new_one(
    demo, gateway: Gateway, decide: str
):
    first = decided(gateway.decide(ANA, CALENDAR, [CREATE], arguments={"n": 1}))["request"]
    access_request = AccessRequest.objects.get(public_id=first["id"])
    actor = Actor(name="Dana Levi", channel="web")
    if decide == "approve":
        request_approve(access_request=access_request, actor=actor)
    elif decide == "deny":
        request_deny(access_request=access_request, actor=actor)
    else:
        assert gateway.cancel(first["id"]).status_code == 200

    second = decided(gateway.decide(ANA, CALENDAR, [CREATE], arguments={"n": 1}))

    assert second["decision"] == "approval_required"
    assert second["request"]["id"] != first["id"]
    assert second["request"]["status"] == "pending"
    assert ana_requests() == 2


def test_a_second_gateway_making_the_same_call_gets_a_request_it_can_poll(
    demo, gateway: Gateway, other_gateway: Gateway
):
    first = decided(gateway.decide(ANA, CALENDAR, [CREATE]))["request"]

    second = decided(other_gateway.decide(ANA, CALENDAR, [CREATE]))["request"]

    # Each gateway polls, consumes or cancels only its own requests (another key's id is 404),
    # so sharing the first gateway's request would hand the second an id it cannot use.
    assert second["id"] != first["id"]
    assert other_gateway.status(second["id"]).status_code == 200
    assert other_gateway.status(first["id"]).status_code == 404
    # And the second gateway's repeated call is deduplicated against its own request.
    again = decided(other_gateway.decide(ANA, CALENDAR, [CREATE]))["request"]
    assert again["id"] == second["id"]


def test_an_unparseable_naive_step_up_is_refused_not_taken_as_fresh(demo, gateway: Gateway):
    naive = timezone.now().replace(tzinfo=None).isoformat()

    response = gateway.decide(BEN, "github", [REPOS_DELETE], step_up={"authenticated_at": naive})

    error = assert_error(response, 400, "invalid_request")
    assert set(error["details"]) == {"step_up"}

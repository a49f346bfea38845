"""Deciding several requests at once: a confirmation first, then one transition per request."""

from __future__ import annotations

import re
import threading
import uuid

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from approval_flows.models import Notification
from gateways.services import api_key_create
from requests_app.deciding import BULK_LIMIT, requests_decide_bulk
from requests_app.models import AccessRequest, RequestApproval, RequestEvent
from requests_app.services import Actor, request_deny
from tests.factories import (
    ApprovalFlowFactory,
    ApprovalLevelFactory,
    ConnectorFactory,
    ToolFactory,
    make_request,
)

URL = "/requests/bulk/"
HTMX = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "panel"}
Status = AccessRequest.Status


@pytest.fixture
def five(requester, tools, flow):
    """Five pending requests of the Security flow, oldest first."""
    return [make_request(requester=requester, tools=tools[:2], flow=flow) for _ in range(5)]


def ids(requests) -> list[str]:
    return [str(r.public_id) for r in requests]


def html(response) -> str:
    return response.content.decode()


def statuses(requests) -> list[str]:
    return [AccessRequest.objects.get(pk=r.pk).status for r in requests]


def world() -> tuple[int, int, int, int]:
    """Everything a decision writes; a confirmation or a refusal must leave it unchanged."""
    return (
        AccessRequest.objects.exclude(status=Status.PENDING).count(),
        RequestEvent.objects.count(),
        Notification.objects.count(),
        RequestApproval.objects.count(),
    )


# --- the confirmation changes nothing ---------------------------------------------------------


def test_confirmation_lists_the_chosen_requests_and_changes_nothing(admin_client, five):
    before = world()
    response = admin_client.post(URL, {"action": "approve", "ids": ids(five[:3])}, **HTMX)
    assert response.status_code == 200
    body = html(response)
    assert "Approve several requests" in body
    assert re.findall(r'name="ids" value="([^"]+)"', body) == ids(five[:3])
    assert ">Approve 3 requests</button>" in body
    assert "<html" not in body, "htmx gets the panel alone"
    assert world() == before


def test_confirmation_of_all_matching_carries_the_ids_it_shows(admin_client, five, requester):
    github = ConnectorFactory(slug="github", name="GitHub")
    other = make_request(
        requester=requester, tools=[ToolFactory(connector=github)], flow=five[0].flow
    )
    body = html(
        admin_client.post(URL, {"action": "deny", "scope": "matching", "connector": "github"})
    )
    assert re.findall(r'name="ids" value="([^"]+)"', body) == [str(other.public_id)]
    everything = html(admin_client.post(URL, {"action": "deny", "scope": "matching"}))
    assert len(re.findall(r'name="ids" value=', everything)) == 6
    assert "Reason (optional, returned to each agent)" in everything


def test_a_request_that_arrives_after_the_confirmation_is_not_decided(
    admin_client, five, requester, tools, flow
):
    body = html(admin_client.post(URL, {"action": "approve", "scope": "matching"}))
    shown = re.findall(r'name="ids" value="([^"]+)"', body)
    late = make_request(requester=requester, tools=tools[:1], flow=flow)
    response = admin_client.post(URL, {"action": "approve", "ids": shown, "confirm": "on"})
    assert "Approved 5 requests." in html(response)
    assert statuses(five) == [Status.APPROVED] * 5
    late.refresh_from_db()
    assert late.status == Status.PENDING


# --- deciding ---------------------------------------------------------------------------------


def test_bulk_approve_gives_each_request_its_own_transition_event_and_messages(admin_client, five):
    response = admin_client.post(
        URL, {"action": "approve", "ids": ids(five[:3]), "confirm": "on"}, **HTMX
    )
    assert response.status_code == 200
    assert "Approved 3 requests." in html(response)
    assert "requests-changed" in response["HX-Trigger"]
    assert statuses(five) == [Status.APPROVED] * 3 + [Status.PENDING] * 2
    for request in five[:3]:
        request.refresh_from_db()
        assert request.decided_by_name == "admin" and request.decided_via == "web"
        assert request.consumed_at is None and request.grant_expires_at is None
        assert RequestEvent.objects.filter(request=request, kind="approved").count() == 1
        outcome = Notification.objects.filter(
            request_public_id=request.public_id, occasion=Notification.Occasion.OUTCOME
        )
        assert outcome.count() == 1, "the requester is told of each outcome"


def test_bulk_approve_for_eight_hours(admin_client, five):
    admin_client.post(
        URL, {"action": "approve", "ids": ids(five[:2]), "duration": "8h", "confirm": "on"}
    )
    for request in five[:2]:
        request.refresh_from_db()
        hours = (request.grant_expires_at - request.decided_at).total_seconds() / 3600
        assert hours == pytest.approx(8)


def test_bulk_deny_with_a_reason_returns_it_to_each_agent(admin_client, requester, tools, flow):
    issued = api_key_create(name="gateway")
    made = [
        make_request(requester=requester, tools=tools[:1], flow=flow, api_key=issued.api_key)
        for _ in range(2)
    ]
    body = {
        "action": "deny",
        "ids": ids(made),
        "comment": "Use the team calendar.",
        "confirm": "on",
    }
    assert "Denied 2 requests." in html(admin_client.post(URL, body))
    for request in made:
        answer = (
            Client()
            .get(
                f"/api/v1/requests/{request.public_id}",
                HTTP_AUTHORIZATION=f"Bearer {issued.raw_key}",
            )
            .json()
        )
        assert answer["status"] == "denied"
        assert answer["comment"] == "Use the team calendar."


def test_a_request_decided_meanwhile_is_reported_with_who_decided(
    admin_client, five, approver_user
):
    request_deny(access_request=five[1], actor=Actor.for_user(approver_user))
    response = admin_client.post(URL, {"action": "approve", "ids": ids(five[:3]), "confirm": "on"})
    body = html(response)
    assert "Approved 2 requests." in body
    assert re.search(
        r"Already decided by someone else \(1\).*Denied by Dana Levi via Web", body, re.S
    )
    assert statuses(five[:3]) == [Status.APPROVED, Status.DENIED, Status.APPROVED]
    assert RequestEvent.objects.filter(request=five[1], kind="approved").count() == 0


def test_an_approver_cannot_decide_their_own_request_in_a_batch(approver_client, five, tools, flow):
    dana = approver_client.get("/requests/").wsgi_request.user.person
    own = make_request(requester=dana, tools=tools[:1], flow=flow)
    body = html(
        approver_client.post(
            URL, {"action": "approve", "ids": ids([five[0], own]), "confirm": "on"}
        )
    )
    assert "Approved 1 request." in body
    assert "Nobody decides their own request." in body
    own.refresh_from_db()
    assert own.status == Status.PENDING


def test_an_approvers_batch_is_one_vote_each_where_the_flow_needs_two(
    approver_client, approver_user, requester, tools, security_group
):
    two = ApprovalFlowFactory(name="Two approvals", min_approvals=2)
    ApprovalLevelFactory(flow=two, position=1).groups.add(security_group)
    made = [make_request(requester=requester, tools=tools[:1], flow=two) for _ in range(2)]
    body = html(approver_client.post(URL, {"action": "approve", "ids": ids(made), "confirm": "on"}))
    assert "Approved 0 requests." in body
    assert "Your approval is recorded on 2 more" in body
    assert statuses(made) == [Status.PENDING] * 2
    assert RequestApproval.objects.filter(request__in=made, vote="approve").count() == 2


def test_another_flows_request_stays_out_of_an_approvers_batch(
    approver_client, five, requester, tools
):
    elsewhere = make_request(
        requester=requester, tools=tools[:1], flow=ApprovalFlowFactory(name="Elsewhere")
    )
    body = html(
        approver_client.post(
            URL, {"action": "deny", "ids": ids([five[0], elsewhere]), "confirm": "on"}
        )
    )
    assert "Denied 1 request." in body
    assert "1 of the chosen requests no longer exist or are not yours to see" in body
    elsewhere.refresh_from_db()
    assert elsewhere.status == Status.PENDING


# --- bad input: a clear answer, nothing stored --------------------------------------------------

BAD = [
    ({"action": "approve"}, "Choose at least one request."),
    ({"action": "approve", "ids": ["not-a-uuid"]}, "Some chosen requests are not request ids."),
    ({"action": "launch", "ids": [str(uuid.uuid4())]}, "Select a valid choice."),
    ({"ids": [str(uuid.uuid4())]}, "This field is required."),
    (
        {"action": "approve", "ids": [str(uuid.uuid4())], "duration": "forever"},
        "Select a valid choice.",
    ),
    (
        {"action": "deny", "ids": [str(uuid.uuid4())], "comment": "x" * 2001},
        "at most 2000 characters",
    ),
    ({"action": "approve", "scope": "galaxy"}, "Select a valid choice."),
]


@pytest.mark.parametrize(("data", "message"), BAD)
def test_bad_input_is_refused_clearly_and_stores_nothing(admin_client, five, data, message):
    before = world()
    response = admin_client.post(URL, {**data, "confirm": "on"})
    assert response.status_code == 400
    assert message in html(response)
    assert "Nothing was decided." in html(response)
    assert world() == before


def test_more_than_the_limit_is_refused(admin_client, five):
    many = [str(uuid.uuid4()) for _ in range(BULK_LIMIT + 1)]
    response = admin_client.post(URL, {"action": "approve", "ids": many, "confirm": "on"})
    assert response.status_code == 400
    assert f"Choose at most {BULK_LIMIT} requests at once." in html(response)


def test_unknown_ids_decide_nothing(admin_client, five):
    before = world()
    body = html(
        admin_client.post(URL, {"action": "approve", "ids": [str(uuid.uuid4())], "confirm": "on"})
    )
    assert "Approved 0 requests." in body
    assert world() == before


def test_anonymous_is_sent_to_log_in(client, five):
    response = client.post(URL, {"action": "approve", "ids": ids(five), "confirm": "on"})
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    assert statuses(five) == [Status.PENDING] * 5


def test_an_outsider_is_refused(outsider_client, five):
    response = outsider_client.post(URL, {"action": "approve", "ids": ids(five), "confirm": "on"})
    assert response.status_code == 403
    assert statuses(five) == [Status.PENDING] * 5


def test_get_is_not_allowed(admin_client, five):
    assert admin_client.get(URL).status_code == 405


# --- queries and races ------------------------------------------------------------------------


def count_queries(client, data) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.post(URL, data, **HTMX).status_code == 200
    return len(ctx.captured_queries)


@pytest.mark.parametrize("persona_client", ["admin", "approver"], indirect=True)
def test_confirmation_runs_as_many_queries_for_five_requests_as_for_one(persona_client, five):
    one = count_queries(persona_client, {"action": "approve", "ids": ids(five[:1])})
    all_five = count_queries(persona_client, {"action": "approve", "ids": ids(five)})
    assert one == all_five <= 5


@pytest.mark.django_db(transaction=True)
def test_two_admins_deciding_overlapping_batches_decide_each_request_once(
    admin_user, requester, tools, flow
):
    """One admin approves requests 0-5, another denies 3-8, at the same moment."""
    made = [make_request(requester=requester, tools=tools[:1], flow=flow) for _ in range(9)]
    batches = {"approve": made[:6], "deny": made[3:]}
    barrier = threading.Barrier(2)
    outcomes = {}

    def run(action: str) -> None:
        try:
            chosen = list(
                AccessRequest.objects.filter(pk__in=[r.pk for r in batches[action]]).order_by("pk")
            )
            barrier.wait(timeout=30)
            outcomes[action] = requests_decide_bulk(
                requests=chosen, user=admin_user, approve=action == "approve", flow_ids=None
            )
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(action,)) for action in batches]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    approve, deny = outcomes["approve"], outcomes["deny"]
    # Every request of both batches was decided by exactly one of them.
    assert len(approve.decided) + len(deny.decided) == 9
    assert len(approve.already_decided) + len(deny.already_decided) == 3
    for request in made:
        events = RequestEvent.objects.filter(request=request, kind__in=["approved", "denied"])
        assert events.count() == 1
    won_by_deny = {r.pk for r in deny.decided}
    for request, winner in approve.already_decided:
        assert request.pk in won_by_deny and winner.startswith("Denied by admin")

"""The Review request panel, its Approve / Deny actions and Create policy, for every persona."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from approval_flows.models import Notification
from approval_flows.notifications import MAX_ATTEMPTS, notification_due_ids, notification_queue
from directory.models import Person
from policies.models import Policy
from requests_app.models import AccessRequest, Channel, RequestEvent, RequestTool
from requests_app.services import Actor, request_approve, request_deny
from tests.factories import (
    ApprovalFlowFactory,
    ApprovalLevelFactory,
    ConnectorFactory,
    GroupFactory,
    make_request,
)

Status = AccessRequest.Status
HTMX = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "panel"}
DECISION_KINDS = (
    RequestEvent.Kind.APPROVED,
    RequestEvent.Kind.DENIED,
    RequestEvent.Kind.AUTO_APPROVED,
    RequestEvent.Kind.EXPIRED,
    RequestEvent.Kind.CANCELLED,
)


def url(access_request: AccessRequest, action: str = "") -> str:
    return f"/requests/{access_request.public_id}/" + (f"{action}/" if action else "")


def html(response) -> str:
    return response.content.decode()


def decision_events(access_request: AccessRequest) -> list[RequestEvent]:
    return list(access_request.events.filter(kind__in=DECISION_KINDS))


def snapshot(access_request: AccessRequest) -> tuple:
    """Everything an action could change about a request (and the policies)."""
    row = AccessRequest.objects.filter(pk=access_request.pk).values().get()
    tools = sorted(RequestTool.objects.filter(request=access_request).values_list("id", "status"))
    events = list(access_request.events.values_list("id", flat=True))
    return row, tools, events, Policy.objects.count()


def tool_ids(access_request: AccessRequest) -> list[int]:
    return [rt.tool_id for rt in access_request.tools.order_by("position")]


@pytest.fixture
def other_flow_request(requester, tools):
    other = ApprovalFlowFactory(name="Finance approvals")
    ApprovalLevelFactory(flow=other, position=1).groups.add(GroupFactory(name="Finance"))
    return make_request(requester=requester, tools=tools[2:], flow=other)


@pytest.fixture
def danas_own_request(approver_user, tools, flow):
    return make_request(requester=approver_user.person, tools=tools[:1], flow=flow)


# --- the panel ------------------------------------------------------------------------------------


@pytest.mark.parametrize("persona_client", ["admin", "approver"], indirect=True)
def test_panel_opened_directly_is_a_full_page(persona_client, access_request):
    response = persona_client.get(url(access_request))
    assert response.status_code == 200
    body = html(response)
    assert "<html" in body
    assert "Review request" in body
    assert "Ana Lopez" in body
    assert "All requests" in body


@pytest.mark.parametrize("persona_client", ["admin", "approver"], indirect=True)
def test_panel_for_htmx_is_a_partial(persona_client, access_request):
    response = persona_client.get(url(access_request), **HTMX)
    assert response.status_code == 200
    body = html(response)
    assert "<html" not in body
    assert body.lstrip().startswith('<div class="panel-body"')
    assert "Review request" in body


def test_panel_for_a_boosted_or_history_request_is_a_full_page(admin_client, access_request):
    boosted = admin_client.get(url(access_request), HTTP_HX_REQUEST="true", HTTP_HX_BOOSTED="true")
    assert "<html" in html(boosted)
    restore = admin_client.get(
        url(access_request), HTTP_HX_REQUEST="true", HTTP_HX_HISTORY_RESTORE_REQUEST="true"
    )
    assert "<html" in html(restore)


@pytest.mark.parametrize("persona_client", ["admin", "approver"], indirect=True)
def test_panel_shows_the_full_context_of_the_request(persona_client, requester, tools, flow):
    access_request = make_request(
        requester=requester,
        tools=tools,
        flow=flow,
        note="Need to book the QBR.\nSecond line.",
        arguments={"calendarId": "primary", "summary": "QBR"},
    )
    when = timezone.now() - timedelta(days=3, hours=2)
    AccessRequest.objects.filter(pk=access_request.pk).update(requested_at=when)
    body = html(persona_client.get(url(access_request), **HTMX))
    assert "Ana Lopez" in body
    assert "ana@example.com" in body
    assert "Requested 3 days ago" in body
    assert timezone.localtime(when).strftime("%d %b %Y") in body
    assert re.search(r'<span class="badge[^"]*">Sales</span>', body)
    assert '<blockquote class="note-highlight mb-0">Need to book the QBR.<br>Second line.' in body
    assert "Google Calendar" in body
    assert '<span class="badge status-connected">Connected</span>' in body
    for key, access in (
        ("google-calendar_events_create", "Write"),
        ("google-calendar_events_update", "Write"),
        ("google-calendar_events_delete", "Delete"),
    ):
        mark = rf"<code>{key}</code></label>\s*<span class=\"badge access-{access.lower()}\""
        assert re.search(mark, body), f"{key} shown with its {access} mark"
    assert "Requested tools (3)" in body
    assert "&quot;calendarId&quot;: &quot;primary&quot;" in body
    assert "History" in body
    assert re.search(r"Created</span> by Ana Lopez <span[^>]*>API</span>", body)


def test_panel_without_arguments_or_note_omits_those_sections(admin_client, requester, tools):
    access_request = make_request(requester=requester, tools=tools[:1], flow=None)
    body = html(admin_client.get(url(access_request), **HTMX))
    assert "Arguments" not in body
    assert "Note from the requester" not in body


def test_panel_shows_a_disconnected_connector_as_such(admin_client, access_request):
    connector = access_request.connector
    connector.status = "disconnected"
    connector.save()
    body = html(admin_client.get(url(access_request), **HTMX))
    assert '<span class="badge status-disconnected">Disconnected</span>' in body


def test_panel_offers_the_decision_buttons_to_an_admin(admin_client, access_request):
    body = html(admin_client.get(url(access_request), **HTMX))
    assert ">Deny…</a>" in body
    assert ">Approve for user</button>" in body
    assert ">Create policy</a>" in body
    assert body.count('name="tools"') == 2
    assert body.count("checked") == 2


def test_panel_offers_approve_and_deny_but_not_create_policy_to_an_approver(
    approver_client, access_request
):
    body = html(approver_client.get(url(access_request), **HTMX))
    assert ">Deny…</a>" in body
    assert ">Approve for user</button>" in body
    assert "Create policy" not in body


def test_panel_of_your_own_request_offers_no_decision(approver_client, danas_own_request):
    response = approver_client.get(url(danas_own_request), **HTMX)
    assert response.status_code == 200
    body = html(response)
    assert "Nobody decides their own request." in body
    assert "Approve for user" not in body
    assert 'name="tools"' not in body


def test_panel_redirects_anonymous_to_login(client, access_request):
    response = client.get(url(access_request))
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=/requests/")


def test_panel_forbids_outsider(outsider_client, access_request):
    response = outsider_client.get(url(access_request))
    assert response.status_code == 403
    assert "Ana Lopez" not in html(response)


def test_panel_of_another_flow_is_not_found_for_an_approver(
    approver_client, flow, other_flow_request
):
    response = approver_client.get(url(other_flow_request))
    assert response.status_code == 404
    assert "Ana Lopez" not in html(response)


def test_panel_of_another_flow_is_shown_to_an_admin(admin_client, other_flow_request):
    assert admin_client.get(url(other_flow_request)).status_code == 200


@pytest.mark.parametrize("persona_client", ["admin", "approver"], indirect=True)
def test_panel_of_a_malformed_id_is_not_found(persona_client, access_request):
    assert persona_client.get("/requests/not-a-uuid/").status_code == 404
    assert persona_client.get("/requests/123/").status_code == 404


@pytest.mark.parametrize("persona_client", ["admin", "approver"], indirect=True)
def test_panel_of_an_unknown_id_is_not_found(persona_client, access_request):
    response = persona_client.get(f"/requests/{uuid.uuid4()}/")
    assert response.status_code == 404
    assert "No such request" in html(response)


def test_panel_of_a_decided_request_says_who_decided_when_and_how(
    approver_client, approver_user, access_request
):
    request_approve(
        access_request=access_request,
        actor=Actor.for_user(approver_user),
        tool_ids=tool_ids(access_request)[:1],
        duration=timedelta(hours=8),
        comment="Only the create call, for today.",
    )
    access_request.refresh_from_db()
    body = html(approver_client.get(url(access_request), **HTMX))
    stamp = timezone.localtime(access_request.decided_at).strftime("%d %b %Y %H:%M")
    assert re.search(rf"Approved by Dana Levi via Web at {stamp}", body)
    assert "Grant valid until" in body
    assert "“Only the create call, for today.”" in body
    assert '<span class="ms-auto small tool-status-approved">Approved</span>' in body
    assert '<span class="ms-auto small tool-status-denied">Denied</span>' in body
    assert re.search(r"Approved</span> by Dana Levi <span[^>]*>Web</span>", body)
    assert "Approve for user" not in body
    assert ">Deny…</a>" not in body


def test_panel_of_a_denied_request_by_email_link(admin_client, access_request):
    request_deny(access_request=access_request, actor=Actor(name="Ben Kim", channel=Channel.EMAIL))
    body = html(admin_client.get(url(access_request)))
    assert "Denied by Ben Kim via Email at" in body
    assert "alert-danger" in body


# --- Approve and Deny -----------------------------------------------------------------------------


@pytest.mark.parametrize(("persona", "actor_name"), [("admin", "admin"), ("approver", "Dana Levi")])
def test_approve_all_tools(request, persona, actor_name, access_request):
    client = request.getfixturevalue(f"{persona}_client")
    data = {"tools": tool_ids(access_request), "duration": "once", "comment": ""}
    response = client.post(url(access_request, "approve"), data, **HTMX)
    assert response.status_code == 200
    access_request.refresh_from_db()
    assert access_request.status == Status.APPROVED
    assert access_request.grant_expires_at is None
    assert access_request.decided_by_name == actor_name
    assert access_request.decided_via == Channel.WEB
    assert set(access_request.tools.values_list("status", flat=True)) == {"approved"}
    [event] = decision_events(access_request)
    assert (event.kind, event.actor_name, event.channel) == ("approved", actor_name, "web")
    body = html(response)
    assert "<html" not in body
    assert f"Approved by {actor_name} via Web" in body
    assert "Approved the request of Ana Lopez." in body
    assert "requests-changed" in response["HX-Trigger"]


def test_approve_some_tools_denies_the_others(approver_client, access_request):
    first, second = tool_ids(access_request)
    response = approver_client.post(
        url(access_request, "approve"), {"tools": [first], "duration": "once"}, **HTMX
    )
    assert response.status_code == 200
    assert "<html" not in html(response)
    access_request.refresh_from_db()
    assert access_request.status == Status.APPROVED
    assert dict(access_request.tools.values_list("tool_id", "status")) == {
        first: "approved",
        second: "denied",
    }
    [event] = decision_events(access_request)
    assert event.data["approved_tool_ids"] == [first]
    assert "denied the others" in event.message


@pytest.mark.parametrize(("duration", "hours"), [("1h", 1), ("8h", 8), ("24h", 24)])
def test_approve_for_a_while_sets_the_grant_expiry(
    approver_client, access_request, duration, hours
):
    data = {"tools": tool_ids(access_request), "duration": duration}
    approver_client.post(url(access_request, "approve"), data, **HTMX)
    access_request.refresh_from_db()
    assert access_request.status == Status.APPROVED
    assert access_request.grant_expires_at is not None
    lasting = access_request.grant_expires_at - access_request.decided_at
    assert abs(lasting - timedelta(hours=hours)) < timedelta(seconds=5)


def test_approve_stores_the_comment(approver_client, access_request):
    data = {"tools": tool_ids(access_request), "comment": "OK for the QBR only."}
    approver_client.post(url(access_request, "approve"), data, **HTMX)
    access_request.refresh_from_db()
    assert access_request.comment == "OK for the QBR only."
    [event] = decision_events(access_request)
    assert event.data["comment"] == "OK for the QBR only."


@pytest.mark.parametrize(("persona", "actor_name"), [("admin", "admin"), ("approver", "Dana Levi")])
def test_deny(request, persona, actor_name, access_request):
    client = request.getfixturevalue(f"{persona}_client")
    response = client.post(url(access_request, "deny"), {"comment": "Not this quarter."}, **HTMX)
    assert response.status_code == 200
    access_request.refresh_from_db()
    assert access_request.status == Status.DENIED
    assert access_request.comment == "Not this quarter."
    assert set(access_request.tools.values_list("status", flat=True)) == {"denied"}
    [event] = decision_events(access_request)
    assert (event.kind, event.actor_name, event.channel) == ("denied", actor_name, "web")
    assert f"Denied by {actor_name} via Web" in html(response)
    assert "Denied the request of Ana Lopez." in html(response)
    assert "requests-changed" in response["HX-Trigger"]


def test_deny_ignores_the_tool_choice(approver_client, access_request):
    response = approver_client.post(url(access_request, "deny"), {}, **HTMX)
    assert response.status_code == 200
    access_request.refresh_from_db()
    assert access_request.status == Status.DENIED


@pytest.mark.parametrize("action", ["approve", "deny"])
def test_post_without_htmx_redirects_to_the_panel_page(approver_client, access_request, action):
    response = approver_client.post(
        url(access_request, action), {"tools": tool_ids(access_request)}
    )
    assert response.status_code == 302
    assert response["Location"] == url(access_request)
    assert "HX-Trigger" not in response
    page = approver_client.get(response["Location"])
    assert "<html" in html(page)
    assert "the request of Ana Lopez." in html(page)


@pytest.mark.parametrize("action", ["approve", "deny"])
def test_get_on_an_action_is_not_allowed(admin_client, access_request, action):
    before = snapshot(access_request)
    assert admin_client.get(url(access_request, action)).status_code == 405
    assert snapshot(access_request) == before


@pytest.mark.parametrize("action", ["approve", "deny"])
def test_post_without_csrf_token_is_refused(admin_user, access_request, action):
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_user)
    before = snapshot(access_request)
    response = client.post(url(access_request, action), {"tools": tool_ids(access_request)})
    assert response.status_code == 403
    assert snapshot(access_request) == before


def test_post_with_the_csrf_header_htmx_sends_is_accepted(admin_user, access_request):
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_user)
    page = html(client.get(url(access_request)))
    token = re.search(r'"X-CSRFToken": "([^"]+)"', page).group(1)
    response = client.post(
        url(access_request, "approve"),
        {"tools": tool_ids(access_request)},
        HTTP_X_CSRFTOKEN=token,
        **HTMX,
    )
    assert response.status_code == 200
    access_request.refresh_from_db()
    assert access_request.status == Status.APPROVED


@pytest.mark.parametrize("action", ["approve", "deny"])
def test_deciding_a_request_already_decided_says_who_won(approver_client, access_request, action):
    request_deny(access_request=access_request, actor=Actor(name="Ben Kim", channel=Channel.SMS))
    before = snapshot(access_request)
    data = {"tools": tool_ids(access_request), "comment": "too late"}
    response = approver_client.post(url(access_request, action), data, **HTMX)
    assert response.status_code == 200
    body = html(response)
    assert "Someone else decided first: Denied by Ben Kim via SMS" in body
    assert snapshot(access_request) == before
    assert len(decision_events(access_request)) == 1


def test_deciding_a_request_already_decided_without_htmx_tells_on_the_page(
    approver_client, access_request
):
    request_approve(access_request=access_request, actor=Actor(name="Timeout", channel="timeout"))
    response = approver_client.post(url(access_request, "deny"), {"comment": "no"}, follow=True)
    assert response.status_code == 200
    assert "Someone else decided first: Approved by Timeout via Timeout" in html(response)
    access_request.refresh_from_db()
    assert access_request.status == Status.APPROVED
    assert access_request.comment == ""


@pytest.mark.parametrize("action", ["approve", "deny"])
def test_nobody_decides_their_own_request(approver_client, danas_own_request, action):
    before = snapshot(danas_own_request)
    data = {"tools": tool_ids(danas_own_request)}
    response = approver_client.post(url(danas_own_request, action), data, **HTMX)
    assert response.status_code == 403
    assert snapshot(danas_own_request) == before


@pytest.mark.parametrize("action", ["approve", "deny"])
def test_outsider_cannot_decide(outsider_client, access_request, action):
    before = snapshot(access_request)
    data = {"tools": tool_ids(access_request)}
    assert outsider_client.post(url(access_request, action), data).status_code == 403
    assert snapshot(access_request) == before


@pytest.mark.parametrize("action", ["approve", "deny"])
def test_approver_of_another_flow_cannot_decide(approver_client, flow, other_flow_request, action):
    before = snapshot(other_flow_request)
    data = {"tools": tool_ids(other_flow_request)}
    assert approver_client.post(url(other_flow_request, action), data).status_code == 404
    assert snapshot(other_flow_request) == before


@pytest.mark.parametrize("action", ["approve", "deny"])
def test_anonymous_cannot_decide(client, access_request, action):
    before = snapshot(access_request)
    response = client.post(url(access_request, action), {"tools": tool_ids(access_request)})
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    assert snapshot(access_request) == before


@pytest.mark.parametrize("action", ["approve", "deny"])
def test_deciding_a_malformed_or_unknown_id_is_not_found(admin_client, access_request, action):
    assert admin_client.post(f"/requests/not-a-uuid/{action}/").status_code == 404
    assert admin_client.post(f"/requests/{uuid.uuid4()}/{action}/").status_code == 404


def test_approve_with_no_tool_chosen_is_refused(approver_client, access_request):
    before = snapshot(access_request)
    response = approver_client.post(url(access_request, "approve"), {"duration": "once"}, **HTMX)
    assert response.status_code == 400
    assert "Choose at least one tool to approve, or deny the request." in html(response)
    assert "<html" not in html(response)
    assert snapshot(access_request) == before


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (
            {"duration": "bogus"},
            "Select a valid choice. bogus is not one of the available choices.",
        ),
        ({"duration": "1y"}, "Select a valid choice."),
        ({"comment": "x" * 2001}, "at most 2000 characters"),
        ({"tools": ["abc"]}, "Select a valid choice."),
        ({"tools": ["999999"]}, "Select a valid choice."),
    ],
)
def test_approve_with_bad_input_is_refused(approver_client, access_request, data, error):
    data = {"tools": tool_ids(access_request), **data}
    before = snapshot(access_request)
    response = approver_client.post(url(access_request, "approve"), data, **HTMX)
    assert response.status_code == 400
    assert snapshot(access_request) == before
    assert error in html(response)


def test_approve_with_a_tool_of_another_request_is_refused(approver_client, access_request, tools):
    before = snapshot(access_request)
    response = approver_client.post(
        url(access_request, "approve"), {"tools": [tools[2].pk]}, **HTMX
    )
    assert response.status_code == 400
    assert snapshot(access_request) == before


def test_deny_with_a_too_long_comment_is_refused(approver_client, access_request):
    before = snapshot(access_request)
    response = approver_client.post(url(access_request, "deny"), {"comment": "x" * 2001}, **HTMX)
    assert response.status_code == 400
    assert "at most 2000 characters" in html(response)
    assert snapshot(access_request) == before


def test_refused_approval_keeps_the_choices_made(approver_client, access_request):
    first, second = tool_ids(access_request)
    data = {"tools": [first], "duration": "8h", "comment": "x" * 2001}
    body = html(approver_client.post(url(access_request, "approve"), data, **HTMX))
    assert f'value="{first}" id="tool-{first}" checked' in body
    assert f'value="{second}" id="tool-{second}" checked' not in body
    assert '<option value="8h" selected>' in body


def test_refused_approval_without_htmx_renders_the_full_page(approver_client, access_request):
    response = approver_client.post(url(access_request, "approve"), {"duration": "once"})
    assert response.status_code == 400
    assert "<html" in html(response)
    assert "Choose at least one tool" in html(response)


def test_locked_approver_can_no_longer_decide(approver_client, approver_user, access_request):
    Person.objects.filter(user=approver_user).update(status=Person.Status.LOCKED)
    before = snapshot(access_request)
    response = approver_client.post(
        url(access_request, "approve"), {"tools": tool_ids(access_request)}
    )
    assert response.status_code == 403
    assert snapshot(access_request) == before


# --- Create policy ----------------------------------------------------------------------------


def policy_post(access_request: AccessRequest, **overrides) -> dict:
    data = {
        "name": "Ana may manage calendar events",
        "description": "From her request",
        "connector": access_request.connector_id,
        "tools": tool_ids(access_request),
        "users": [access_request.requester_id],
        "action": Policy.Action.ALLOW,
        "enabled": "on",
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


@pytest.mark.parametrize("headers", [{}, HTMX], ids=["page", "htmx"])
def test_create_policy_form_is_prefilled_from_the_request(
    admin_client, access_request, tools, headers
):
    response = admin_client.get(url(access_request, "create-policy"), **headers)
    assert response.status_code == 200
    body = html(response)
    assert ("<html" in body) == (not headers)
    assert "Create policy" in body
    connector_id = access_request.connector_id
    assert re.search(rf'<option value="{connector_id}" selected>Google Calendar</option>', body)
    for tool in tools[:2]:
        assert re.search(
            rf'<input type="checkbox" name="tools" value="{tool.pk}"[^>]* checked', body
        )
    assert not re.search(rf'name="tools" value="{tools[2].pk}"[^>]* checked', body)
    requester_id = access_request.requester_id
    assert re.search(rf'<option value="{requester_id}" selected>Ana Lopez', body)
    assert '<option value="allow" selected>Allow</option>' in body
    assert 'value="Ana Lopez · Google Calendar"' in body


def test_create_policy_is_for_admins_only(approver_client, access_request):
    assert approver_client.get(url(access_request, "create-policy")).status_code == 403
    before = snapshot(access_request)
    response = approver_client.post(
        url(access_request, "create-policy"), policy_post(access_request)
    )
    assert response.status_code == 403
    assert snapshot(access_request) == before


def test_create_policy_forbids_outsider(outsider_client, access_request):
    assert outsider_client.get(url(access_request, "create-policy")).status_code == 403
    before = snapshot(access_request)
    response = outsider_client.post(
        url(access_request, "create-policy"), policy_post(access_request)
    )
    assert response.status_code == 403
    assert snapshot(access_request) == before


def test_create_policy_redirects_anonymous_to_login(client, access_request):
    response = client.get(url(access_request, "create-policy"))
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_create_policy_of_a_malformed_id_is_not_found(admin_client, access_request):
    assert admin_client.get("/requests/not-a-uuid/create-policy/").status_code == 404
    assert admin_client.get(f"/requests/{uuid.uuid4()}/create-policy/").status_code == 404


def test_create_allow_policy_approves_the_request(admin_client, access_request, tools):
    response = admin_client.post(
        url(access_request, "create-policy"), policy_post(access_request), **HTMX
    )
    assert response.status_code == 200
    policy = Policy.objects.get()
    assert policy.name == "Ana may manage calendar events"
    assert policy.action == Policy.Action.ALLOW
    assert policy.connector_id == access_request.connector_id
    assert set(policy.tools.all()) == set(tools[:2])
    assert list(policy.users.all()) == [access_request.requester]
    access_request.refresh_from_db()
    assert access_request.status == Status.APPROVED
    assert access_request.decided_via == Channel.POLICY
    [event] = decision_events(access_request)
    assert (event.kind, event.channel, event.actor_name) == ("approved", "policy", "admin")
    body = html(response)
    assert "<html" not in body
    assert "Saved the policy “Ana may manage calendar events”; the request is approved." in body
    assert "requests-changed" in response["HX-Trigger"]


def test_create_deny_policy_denies_the_request(admin_client, access_request):
    data = policy_post(access_request, action=Policy.Action.DENY)
    response = admin_client.post(url(access_request, "create-policy"), data)
    assert response.status_code == 302
    assert response["Location"] == url(access_request)
    assert Policy.objects.get().action == Policy.Action.DENY
    access_request.refresh_from_db()
    assert access_request.status == Status.DENIED
    [event] = decision_events(access_request)
    assert (event.kind, event.channel) == ("denied", "policy")


def test_create_step_up_policy_leaves_the_request_pending(admin_client, access_request):
    data = policy_post(access_request, action=Policy.Action.STEP_UP)
    response = admin_client.post(url(access_request, "create-policy"), data, **HTMX)
    assert response.status_code == 200
    assert Policy.objects.get().action == Policy.Action.STEP_UP
    access_request.refresh_from_db()
    assert access_request.status == Status.PENDING
    assert decision_events(access_request) == []
    assert "the request is still pending" in html(response)


def test_create_approval_policy_with_a_flow_leaves_the_request_pending(
    admin_client, access_request, flow
):
    data = policy_post(access_request, action=Policy.Action.APPROVAL, approval_flow=flow.pk)
    admin_client.post(url(access_request, "create-policy"), data)
    assert Policy.objects.get().approval_flow == flow
    access_request.refresh_from_db()
    assert access_request.status == Status.PENDING


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"action": Policy.Action.APPROVAL}, "A Request approval policy needs an approval flow."),
        ({"description": "x" * 161}, "at most 160 characters"),
        ({"name": ""}, "This field is required."),
        ({"users": None}, "Choose all users, some users, or some groups."),
        ({"action": "bogus"}, "Select a valid choice."),
        ({"tools": ["999999"]}, "Select a valid choice."),
    ],
)
def test_create_policy_with_invalid_input_saves_nothing(
    admin_client, access_request, overrides, error
):
    before = snapshot(access_request)
    data = policy_post(access_request, **overrides)
    response = admin_client.post(url(access_request, "create-policy"), data, **HTMX)
    assert response.status_code == 400
    assert error in html(response)
    assert "<html" not in html(response)
    assert snapshot(access_request) == before


def test_create_policy_with_a_flow_for_a_non_approval_action_saves_nothing(
    admin_client, access_request, flow
):
    before = snapshot(access_request)
    data = policy_post(access_request, approval_flow=flow.pk)
    response = admin_client.post(url(access_request, "create-policy"), data)
    assert response.status_code == 400
    assert "Only a Request approval policy uses an approval flow." in html(response)
    assert snapshot(access_request) == before


def test_create_policy_with_another_connector_saves_nothing(admin_client, access_request):
    other = ConnectorFactory(slug="github", name="GitHub")
    before = snapshot(access_request)
    data = policy_post(access_request, connector=other.pk)
    response = admin_client.post(url(access_request, "create-policy"), data)
    assert response.status_code == 400
    assert snapshot(access_request) == before


def test_create_policy_on_a_request_decided_meanwhile_saves_nothing(admin_client, access_request):
    request_deny(access_request=access_request, actor=Actor(name="Dana Levi", channel="sms"))
    before = snapshot(access_request)
    response = admin_client.post(
        url(access_request, "create-policy"), policy_post(access_request), follow=True
    )
    assert response.status_code == 200
    assert "No policy saved: Denied by Dana Levi via SMS" in html(response)
    assert Policy.objects.count() == 0
    assert snapshot(access_request) == before


def test_create_policy_on_a_request_decided_meanwhile_via_htmx(admin_client, access_request):
    request_approve(access_request=access_request, actor=Actor(name="Dana Levi", channel="web"))
    response = admin_client.post(
        url(access_request, "create-policy"), policy_post(access_request), **HTMX
    )
    assert response.status_code == 200
    assert "No policy saved: Approved by Dana Levi via Web" in html(response)
    assert Policy.objects.count() == 0


def test_create_policy_get_with_another_method_is_not_allowed(admin_client, access_request):
    response = admin_client.put(url(access_request, "create-policy"))
    assert response.status_code == 405


def test_create_policy_without_csrf_token_is_refused(admin_user, access_request):
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_user)
    before = snapshot(access_request)
    response = client.post(url(access_request, "create-policy"), policy_post(access_request))
    assert response.status_code == 403
    assert snapshot(access_request) == before


def test_panel_shows_a_notification_out_of_attempts_as_failed(admin_client, access_request):
    """A worker died during the last attempt: the sweep fails the row, the panel says why."""
    notification = notification_queue(
        request_public_id=access_request.public_id,
        recipient=access_request.requester,
        address="ana@example.com",
        channel=Notification.Channel.EMAIL,
        occasion=Notification.Occasion.OUTCOME,
        body_text="Approved.",
        enqueue=False,
    )
    long_ago = timezone.now() - timedelta(hours=1)
    Notification.objects.filter(pk=notification.pk).update(
        status="sending", attempts=MAX_ATTEMPTS, claimed_at=long_ago
    )

    assert notification.pk not in notification_due_ids()

    body = admin_client.get(url(access_request)).content.decode()
    item = re.search(rf'data-notification="{notification.pk}">(.*?)</li>', body, re.S).group(1)
    assert ">Failed</span>" in item
    assert f"{MAX_ATTEMPTS} attempts" in item
    assert "The worker stopped while sending; the message may have gone out." in item

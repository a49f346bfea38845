"""Approver links: stored hashed; GET only shows, POST decides once, misuse changes nothing."""

from __future__ import annotations

import json
import re
import threading
import time
from datetime import datetime, timedelta

import pytest
from django.db import connection, transaction
from django.test import Client
from django.utils import timezone

from agenwork.crypto import hash_token
from approval_flows.models import ApprovalFlow, Notification
from directory.models import Person
from gateways.services import api_key_create
from requests_app.deciding import link_decide
from requests_app.links import (
    LinkSpent,
    Problem,
    link_create,
    link_resolve,
    link_spend,
    link_url,
)
from requests_app.models import AccessRequest, ApproverLink, RequestApproval, RequestTool
from requests_app.services import Actor, RequestAlreadyDecided, request_approve
from requests_app.views_links import ARGUMENT_VALUE_CHARS, ArgumentLine, argument_lines
from tests.factories import GroupFactory, PersonFactory, link_approval, make_request

Status = AccessRequest.Status
# The link with its person, request, flow, connector and requester; is the person still an
# approver; have they voted; the requester's groups; the tools.
QUERIES_TO_SHOW = 5


@pytest.fixture
def dana(approver_user) -> Person:
    return approver_user.person


@pytest.fixture
def pending(dana, access_request) -> AccessRequest:
    """Ana's pending request, created once Dana approves its flow."""
    return access_request


@pytest.fixture
def token(pending, dana) -> str:
    return link_create(access_request=pending, person=dana, channel="email")


def page(token: str) -> str:
    return f"/a/{token}/"


def text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def snapshot(access_request: AccessRequest) -> tuple:
    """Everything a link could change: the request, its tools, history, links, votes, outbox."""
    return (
        AccessRequest.objects.filter(pk=access_request.pk).values().get(),
        sorted(RequestTool.objects.filter(request=access_request).values_list("id", "status")),
        list(access_request.events.values_list("id", flat=True)),
        sorted(ApproverLink.objects.values_list("id", "used_at")),
        RequestApproval.objects.count(),
        Notification.objects.count(),
    )


# --- issuing and resolving ------------------------------------------------------------------------


def test_link_stores_only_the_hash_and_expires_with_the_request(pending, dana, token):
    link = ApproverLink.objects.get(token_hash=hash_token(token))
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", token)
    assert not ApproverLink.objects.filter(token_hash=token).exists()
    assert (link.person, link.channel, link.expires_at) == (dana, "email", pending.timeout_at)


def test_link_without_a_timeout_expires_in_seven_days(pending, dana):
    AccessRequest.objects.filter(pk=pending.pk).update(timeout_at=None)
    pending.refresh_from_db()
    token = link_create(access_request=pending, person=dana, channel="sms")
    link = ApproverLink.objects.get(token_hash=hash_token(token))
    assert abs(link.expires_at - (timezone.now() + timedelta(days=7))) < timedelta(minutes=1)


def test_link_url_is_absolute_on_the_site_url(settings):
    settings.SITE_URL = "https://agenwork.example.com"
    assert link_url("abc") == "https://agenwork.example.com/a/abc/"


def test_tokens_are_never_reused(pending, dana):
    tokens = {link_create(access_request=pending, person=dana, channel="email") for _ in range(20)}
    assert len(tokens) == 20


def test_resolve_reports_each_problem(pending, dana, token):
    assert link_resolve(token).ok
    assert link_resolve(token[:-1] + ("A" if token[-1] != "A" else "B")).problem == Problem.UNKNOWN
    assert link_resolve("x" * 5000).problem == Problem.UNKNOWN
    ApproverLink.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert link_resolve(token).problem == Problem.EXPIRED


def test_a_spent_link_cannot_be_spent_again(token):
    link = link_resolve(token).link
    assert link_spend(link) is True
    assert link_spend(link) is False


def test_deciding_through_a_spent_link_changes_nothing(pending, token):
    check = link_resolve(token)
    link_spend(ApproverLink.objects.get(pk=check.link.pk))
    before = snapshot(pending)
    with pytest.raises(LinkSpent):
        link_decide(link=check.link, approve=True)
    assert snapshot(pending) == before


def test_losing_the_race_leaves_the_link_unspent(pending, token, admin_user):
    check = link_resolve(token)
    request_approve(access_request=pending, actor=Actor.for_user(admin_user))
    with pytest.raises(RequestAlreadyDecided):
        link_decide(link=check.link, approve=False)
    assert ApproverLink.objects.get(pk=check.link.pk).used_at is None
    assert AccessRequest.objects.get(pk=pending.pk).status == Status.APPROVED


# --- GET shows, changes nothing -------------------------------------------------------------------


def test_get_shows_the_request_and_changes_nothing(client, pending, token):
    before = snapshot(pending)
    response = client.get(page(token))
    assert response.status_code == 200
    body = text(response)
    for expected in (
        "Ana Lopez",
        "ana@example.com",
        "Google Calendar",
        "google-calendar_events_create",
        "google-calendar_events_update",
        "Write",
        "Need to book the quarterly review with the customer.",
        "calendarId",
        "QBR",
        'value="approve"',
        'value="deny"',
        "csrfmiddlewaretoken",
    ):
        assert expected in body, expected
    assert snapshot(pending) == before


def test_link_pages_are_private(client, token):
    for response in (client.get(page(token)), client.get(page("nope"))):
        assert response["Cache-Control"] == "no-store"
        assert response["Referrer-Policy"] == "no-referrer"
        assert "noindex" in response["X-Robots-Tag"]


def test_a_mail_scanner_opening_the_link_twice_changes_nothing(client, pending, token):
    before = snapshot(pending)
    client.get(page(token))
    client.head(page(token))
    assert client.get(page(token)).status_code == 200
    assert snapshot(pending) == before


def test_other_methods_are_refused(client, pending, token):
    before = snapshot(pending)
    assert client.put(page(token)).status_code == 405
    assert client.delete(page(token)).status_code == 405
    assert snapshot(pending) == before


# --- POST decides once ----------------------------------------------------------------------------


def test_post_approve_decides_as_the_person_through_the_links_channel(client, pending, token):
    response = client.post(page(token), link_approval(pending, comment="ok for the QBR"))
    assert response.status_code == 200
    pending.refresh_from_db()
    assert (pending.status, pending.decided_by_name, pending.decided_via) == (
        Status.APPROVED,
        "Dana Levi",
        "email",
    )
    assert pending.decided_by is None
    assert pending.comment == "ok for the QBR"
    assert "Approved by Dana Levi via Email" in text(response)
    assert ApproverLink.objects.get(token_hash=hash_token(token)).used_at is not None
    event = pending.events.get(kind="approved")
    assert (event.actor_name, event.channel) == ("Dana Levi", "email")


def test_post_deny_denies_every_tool(client, pending, dana):
    sms_token = link_create(access_request=pending, person=dana, channel="sms")
    response = client.post(page(sms_token), {"decision": "deny"})
    assert response.status_code == 200
    pending.refresh_from_db()
    assert (pending.status, pending.decided_via) == (Status.DENIED, "sms")
    assert set(pending.tools.values_list("status", flat=True)) == {RequestTool.Status.DENIED}
    assert "Denied by Dana Levi via SMS" in text(response)


def test_deciding_spends_every_link_of_that_person(client, pending, dana, token):
    other = link_create(access_request=pending, person=dana, channel="sms")
    client.post(page(token), link_approval(pending))
    assert ApproverLink.objects.get(token_hash=hash_token(other)).used_at is not None


def test_post_without_a_choice_changes_nothing(client, pending, token):
    before = snapshot(pending)
    response = client.post(page(token), {"decision": "maybe"})
    assert response.status_code == 400
    assert "Choose Approve or Deny" in text(response)
    assert snapshot(pending) == before


def test_csrf_missing_is_refused(pending, token):
    client = Client(enforce_csrf_checks=True)
    client.get(page(token))
    before = snapshot(pending)
    assert client.post(page(token), {"decision": "approve"}).status_code == 403
    assert snapshot(pending) == before


def page_csrf(client: Client, token: str) -> str:
    body = client.get(page(token)).content.decode()
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', body)[1]


@pytest.mark.parametrize(
    "headers",
    [
        {},
        # What a browser sends for a page served with Referrer-Policy: no-referrer.
        {"HTTP_ORIGIN": "null"},
        {"HTTP_ORIGIN": "null", "secure": True},
        {"HTTP_ORIGIN": "http://testserver"},
    ],
)
def test_the_form_of_the_page_decides_with_its_csrf_token(pending, token, headers):
    client = Client(enforce_csrf_checks=True)
    csrf = page_csrf(client, token)
    data = link_approval(pending, csrfmiddlewaretoken=csrf)
    response = client.post(page(token), data, **headers)
    assert response.status_code == 200
    assert AccessRequest.objects.get(pk=pending.pk).status == Status.APPROVED


def test_a_post_from_a_foreign_origin_is_refused(pending, token):
    client = Client(enforce_csrf_checks=True)
    csrf = page_csrf(client, token)
    before = snapshot(pending)
    data = {"csrfmiddlewaretoken": csrf, "decision": "approve"}
    assert client.post(page(token), data, HTTP_ORIGIN="https://evil.example").status_code == 403
    referer = {"HTTP_REFERER": "https://evil.example/", "secure": True}
    assert client.post(page(token), data, **referer).status_code == 403
    assert snapshot(pending) == before


def test_csrf_with_a_wrong_token_is_refused(pending, token):
    client = Client(enforce_csrf_checks=True)
    page_csrf(client, token)
    before = snapshot(pending)
    data = {"csrfmiddlewaretoken": "x" * 64, "decision": "approve"}
    assert client.post(page(token), data, HTTP_ORIGIN="null").status_code == 403
    assert snapshot(pending) == before


# --- reused, expired, tampered, decided, not allowed ----------------------------------------------


def test_reused_link_changes_nothing_and_says_who_decided(client, pending, token):
    client.post(page(token), link_approval(pending))
    before = snapshot(pending)
    response = client.post(page(token), {"decision": "deny"})
    assert response.status_code == 410
    assert "This link was already used" in text(response)
    assert "Approved by Dana Levi via Email" in text(response)
    assert snapshot(pending) == before
    assert client.get(page(token)).status_code == 410


def test_expired_link_changes_nothing_and_says_so(client, pending, token):
    ApproverLink.objects.update(expires_at=timezone.now() - timedelta(minutes=1))
    before = snapshot(pending)
    assert "This link has expired" in text(client.get(page(token)))
    response = client.post(page(token), {"decision": "approve"})
    assert response.status_code == 410
    assert snapshot(pending) == before
    assert 'value="approve"' not in text(response)


@pytest.mark.parametrize(
    "bad",
    [
        "tampered",
        "x" * 43,
        "A" * 10_000,
        "%C3%A9t%C3%A9-%F0%9F%94%91",
        "..%2F..%2Fetc%2Fpasswd",
        "%00",
        "' OR 1=1 --",
    ],
)
def test_bad_tokens_get_a_friendly_404(client, pending, token, bad):
    before = snapshot(pending)
    for response in (client.get(page(bad)), client.post(page(bad), {"decision": "approve"})):
        assert response.status_code == 404
        assert "This link is not valid" in text(response)
    assert snapshot(pending) == before


def test_a_tampered_token_does_not_decide(client, pending, token):
    tampered = token[:10] + ("a" if token[10] != "a" else "b") + token[11:]
    before = snapshot(pending)
    assert client.post(page(tampered), {"decision": "approve"}).status_code == 404
    assert snapshot(pending) == before


def test_link_of_a_decided_request_says_who_decided(client, pending, token, admin_user):
    request_approve(access_request=pending, actor=Actor(name="Ops Admin", channel="web"))
    before = snapshot(pending)
    response = client.get(page(token))
    assert response.status_code == 409
    assert "This request was already decided" in text(response)
    assert "Approved by Ops Admin via Web" in text(response)
    assert client.post(page(token), {"decision": "deny"}).status_code == 409
    assert snapshot(pending) == before


def test_link_of_a_person_who_became_locked_is_refused(client, pending, dana, token):
    Person.objects.filter(pk=dana.pk).update(status=Person.Status.LOCKED)
    before = snapshot(pending)
    assert client.get(page(token)).status_code == 403
    response = client.post(page(token), {"decision": "approve"})
    assert response.status_code == 403
    assert "Your account is locked." in text(response)
    assert snapshot(pending) == before


def test_link_of_a_person_no_longer_an_approver_is_refused(
    client, pending, dana, token, security_group
):
    security_group.members.remove(dana)
    before = snapshot(pending)
    response = client.post(page(token), {"decision": "approve"})
    assert response.status_code == 403
    assert "no longer an approver" in text(response)
    assert snapshot(pending) == before


def test_link_of_the_requester_is_refused(client, pending, requester, security_group):
    security_group.members.add(requester)
    own = link_create(access_request=pending, person=requester, channel="email")
    before = snapshot(pending)
    response = client.post(page(own), {"decision": "approve"})
    assert response.status_code == 403
    assert "Nobody decides their own request." in text(response)
    assert snapshot(pending) == before


def test_link_of_a_backup_approver_decides(client, pending, flow):
    backup = PersonFactory(name="Bea Backup")
    flow.levels.get(position=1).backup_people.add(backup)
    backup_token = link_create(access_request=pending, person=backup, channel="email")
    assert client.post(page(backup_token), link_approval(pending)).status_code == 200
    assert AccessRequest.objects.get(pk=pending.pk).decided_by_name == "Bea Backup"


def test_a_locked_person_is_not_told_who_decided(client, pending, dana, token):
    request_approve(access_request=pending, actor=Actor(name="Ops Admin", channel="web"))
    Person.objects.filter(pk=dana.pk).update(status=Person.Status.LOCKED)
    response = client.get(page(token))
    assert response.status_code == 403
    assert "Ops Admin" not in text(response)


# --- what the page shows --------------------------------------------------------------------------


def test_get_shows_the_requesters_groups(client, pending, token, requester):
    requester.groups.add(GroupFactory(name="EMEA field team"))
    body = text(client.get(page(token)))
    groups = re.search(r'<div class="groups">(.*?)</div>', body)[1]
    assert re.findall(r'<span class="badge[^"]*">([^<]+)</span>', groups) == [
        "EMEA field team",
        "Sales",
    ]


NESTED = {
    "summary": "QBR",
    "allDay": False,
    "attendees": [
        {"email": "ana@example.com"},
        {"email": "cfo@acme.example", "optional": True},
        {"email": "ops@acme.example"},
    ],
    "description": "Agenda: " + "numbers, " * 30 + "next steps",
    "location": None,
}


def test_arguments_are_one_line_each_with_nested_and_long_values_whole_behind_show_all():
    lines = {line.name: line for line in argument_lines(NESTED)}
    assert [lines[name].text for name in ("summary", "allDay", "location")] == [
        "QBR",
        "false",
        "null",
    ]
    assert lines["summary"].full == ""
    attendees = lines["attendees"]
    assert attendees.text.startswith('[{"email": "ana@example.com"}, {"email": "cfo@acme')
    assert len(attendees.text) == ARGUMENT_VALUE_CHARS and attendees.text.endswith("…")
    assert attendees.full == json.dumps(NESTED["attendees"], indent=2, sort_keys=True)
    assert lines["description"].full == NESTED["description"]
    assert argument_lines({"body": "line one\nline two"})[0] == ArgumentLine(
        "body", "line one…", "line one\nline two"
    )
    assert argument_lines(None) == []
    assert argument_lines(["not", "an", "object"]) == [
        ArgumentLine("value", '["not", "an", "object"]')
    ]


def test_get_shows_nested_and_long_arguments_collapsed_with_a_way_to_expand(
    client, requester, tools, flow, dana
):
    many = {**NESTED, **{f"extra_{i}": i for i in range(6)}}
    access_request = make_request(requester=requester, tools=tools[:2], flow=flow, arguments=many)
    token = link_create(access_request=access_request, person=dana, channel="email")
    body = client.get(page(token)).content.decode()
    shown, more = body.split('<details class="more-arguments">')
    names = re.findall(r"<dt>(\w+)</dt>", body)
    assert names == sorted(many)
    assert re.findall(r"<dt>(\w+)</dt>", shown) == names[:8]
    assert '<dt>allDay</dt><dd><span class="arg-text">false</span></dd>' in shown
    assert '<dt>attendees</dt><dd><details class="arg"><summary>' in shown
    assert "&quot;cfo@acme.example&quot;,\n    &quot;optional&quot;: true" in shown
    assert "<summary>3 more arguments</summary>" in more
    assert '<dt>summary</dt><dd><span class="arg-text">QBR</span></dd>' in more


# --- partial and time-bound approval ----------------------------------------------------------


@pytest.fixture
def issued(db):
    return api_key_create(name="calendar gateway")


@pytest.fixture
def gateway_request(requester, tools, flow, issued) -> AccessRequest:
    """Ana's request as a gateway created it, so that gateway may read it through the API."""
    return make_request(requester=requester, tools=tools[:2], flow=flow, api_key=issued.api_key)


def api_status(issued, access_request: AccessRequest) -> dict:
    auth = {"HTTP_AUTHORIZATION": f"Bearer {issued.raw_key}"}
    response = Client().get(f"/api/v1/requests/{access_request.public_id}", **auth)
    assert response.status_code == 200, response.content
    return response.json()


def test_one_tool_for_8_hours_through_a_link(client, gateway_request, dana, tools, issued):
    token = link_create(access_request=gateway_request, person=dana, channel="email")
    create, update = tools[0], tools[1]
    data = link_approval(gateway_request, tools=[str(create.pk)], duration="8h")
    response = client.post(page(token), data)

    assert response.status_code == 200
    gateway_request.refresh_from_db()
    assert gateway_request.status == Status.APPROVED
    assert gateway_request.grant_expires_at == gateway_request.decided_at + timedelta(hours=8)
    statuses = dict(gateway_request.tools.values_list("tool__key", "status"))
    assert statuses == {create.key: "approved", update.key: "denied"}
    event = gateway_request.events.get(kind="approved")
    assert (event.actor_name, event.channel) == ("Dana Levi", "email")
    assert event.message == "Approved some tools, denied the others for 8 h"
    assert event.data["approved_tool_ids"] == [create.pk]
    until = timezone.localtime(gateway_request.grant_expires_at).strftime("%d %b %Y %H:%M %Z")
    assert f"Approved for 8 h, until {until}: {create.key}. Denied: {update.key}." in text(response)
    body = api_status(issued, gateway_request)
    assert body["status"] == "approved"
    assert body["tools"] == [
        {"tool": create.key, "status": "approved"},
        {"tool": update.key, "status": "denied"},
    ]
    assert (body["decided_by"], body["decided_via"]) == ("Dana Levi", "email")
    expires = datetime.fromisoformat(body["grant_expires_at"].replace("Z", "+00:00"))
    assert expires == gateway_request.grant_expires_at


@pytest.mark.parametrize(("duration", "hours"), [("1h", 1), ("24h", 24)])
def test_every_tool_for_a_while_through_a_link(client, pending, token, duration, hours):
    response = client.post(page(token), link_approval(pending, duration=duration))
    pending.refresh_from_db()
    assert pending.grant_expires_at - pending.decided_at == timedelta(hours=hours)
    assert set(pending.tools.values_list("status", flat=True)) == {"approved"}
    assert pending.events.get(kind="approved").message == f"Approved for {hours} h"
    assert f"Approved for {hours} h, until " in text(response)
    assert "Denied:" not in text(response)


def test_the_common_approval_is_every_tool_for_this_call_only(
    client, gateway_request, dana, issued
):
    token = link_create(access_request=gateway_request, person=dana, channel="sms")
    response = client.post(page(token), link_approval(gateway_request))
    body = text(response)
    assert (
        "Approved for this call only: google-calendar_events_create, google-calendar_events_update."
        in body
    )
    status = api_status(issued, gateway_request)
    assert status["grant_expires_at"] is None
    assert {tool["status"] for tool in status["tools"]} == {"approved"}
    assert gateway_request.events.get(kind="approved").message == "Approved once"


def test_deny_ignores_the_tools_and_the_duration(client, pending, token, tools):
    data = link_approval(pending, decision="deny", tools=[str(tools[0].pk)], duration="24h")
    assert client.post(page(token), data).status_code == 200
    pending.refresh_from_db()
    assert (pending.status, pending.grant_expires_at) == (Status.DENIED, None)
    assert set(pending.tools.values_list("status", flat=True)) == {"denied"}


def test_link_decide_passes_tools_and_duration_to_the_vote(pending, token, tools):
    link = link_resolve(token).link
    link_decide(link=link, approve=True, tool_ids=[tools[1].pk], duration=timedelta(hours=1))
    pending.refresh_from_db()
    assert pending.grant_expires_at - pending.decided_at == timedelta(hours=1)
    assert list(pending.tools.filter(status="approved").values_list("tool", flat=True)) == [
        tools[1].pk
    ]


def test_with_two_approvals_needed_the_second_approvals_choice_applies(
    client, pending, token, flow, security_group, tools
):
    ApprovalFlow.objects.filter(pk=flow.pk).update(min_approvals=2)
    lee = PersonFactory(name="Lee Park")
    security_group.members.add(lee)
    first = link_approval(pending, tools=[str(tools[0].pk)], duration="24h")
    body = text(client.post(page(token), first))
    assert "Your approval is recorded: 1 of 2 approvals so far" in body
    assert "The approval that completes the count chooses the tools and for how long." in body
    assert AccessRequest.objects.get(pk=pending.pk).status == Status.PENDING

    lee_token = link_create(access_request=pending, person=lee, channel="email")
    body = text(client.post(page(lee_token), link_approval(pending, duration="1h")))
    assert "Approved for 1 h, until " in body and "Denied:" not in body
    pending.refresh_from_db()
    assert pending.grant_expires_at - pending.decided_at == timedelta(hours=1)
    assert set(pending.tools.values_list("status", flat=True)) == {"approved"}


# --- tampered choices: a clear error, nothing stored --------------------------------------------


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"tools": ["999999"]},
            "Select a valid choice. 999999 is not one of the available choices.",
        ),
        (
            {"tools": ["create"]},
            "Select a valid choice. create is not one of the available choices.",
        ),
        ({"tools": ["1e9"]}, "is not one of the available choices."),
        ({"duration": "2h"}, "Select a valid choice. 2h is not one of the available choices."),
        ({"duration": "forever"}, "forever is not one of the available choices."),
        ({"comment": "x" * 2001}, "Ensure this value has at most 2000 characters"),
    ],
    ids=["unknown tool id", "tool key", "float", "2 hours", "forever", "long comment"],
)
def test_a_tampered_choice_is_a_clear_error_and_stores_nothing(
    client, pending, token, change, message
):
    before = snapshot(pending)
    for decision in ("approve", "deny"):
        response = client.post(page(token), link_approval(pending, decision=decision, **change))
        assert response.status_code == 400
        assert "Nothing was decided." in text(response)
        assert message in text(response)
        assert 'value="approve"' in text(response)
    assert snapshot(pending) == before
    assert link_resolve(token).ok


def test_a_tool_of_another_request_is_refused(client, pending, token, tools):
    delete = tools[2]  # a tool of the same connector, not in this request
    before = snapshot(pending)
    response = client.post(page(token), link_approval(pending, tools=[str(delete.pk)]))
    assert response.status_code == 400
    assert f"{delete.pk} is not one of the available choices" in text(response)
    assert snapshot(pending) == before


def test_approving_no_tool_is_refused_with_a_message_and_keeps_the_choices(client, pending, token):
    before = snapshot(pending)
    data = link_approval(pending, tools=[], duration="8h", comment="for the QBR")
    response = client.post(page(token), data)
    assert response.status_code == 400
    body = text(response)
    assert "Choose at least one tool to approve, or deny the request." in body
    assert snapshot(pending) == before
    assert re.search(r'<details class="more-options" open>', body)
    assert re.search(r'value="8h" id="duration-8h" checked>', body)
    assert ">for the QBR</textarea>" in body
    assert not re.search(r'name="tools" value="\d+" id="tool-\d+" checked', body)
    denied = client.post(page(token), {"decision": "deny", "duration": "once"})
    assert denied.status_code == 200
    assert AccessRequest.objects.get(pk=pending.pk).status == Status.DENIED


def test_the_page_as_first_shown_approves_every_tool_once(client, pending, token):
    body = text(client.get(page(token)))
    checked = re.findall(r'name="tools" value="(\d+)" id="tool-\d+" checked', body)
    assert sorted(int(pk) for pk in checked) == sorted(
        pending.tools.values_list("tool_id", flat=True)
    )
    assert re.findall(r'name="duration" value="(\w+)" id="duration-\w+" checked', body) == ["once"]
    assert '<details class="more-options">' in body  # closed


# --- two links racing ---------------------------------------------------------------------------


def waiting_on_a_lock(deadline_s: float = 10.0) -> None:
    """Return once another connection waits on a row lock; fail after the deadline."""
    deadline = time.monotonic() + deadline_s
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            # Inside a transaction PostgreSQL keeps showing its first look at the activity.
            cursor.execute("SELECT pg_stat_clear_snapshot()")
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            if cursor.fetchone()[0]:
                return
            time.sleep(0.02)
    pytest.fail("the second link never reached the request's row lock")


@pytest.mark.django_db(transaction=True)
def test_two_links_racing_one_wins_and_the_other_is_told_who(pending, dana, security_group):
    """Lee's post holds the request's lock while Dana's post, past every check, waits for it."""
    lee = PersonFactory(name="Lee Park")
    security_group.members.add(lee)
    lee_token = link_create(access_request=pending, person=lee, channel="sms")
    dana_token = link_create(access_request=pending, person=dana, channel="email")
    dana_said: list = []

    def dana_posts() -> None:
        try:
            dana_said.append(
                Client().post(page(dana_token), link_approval(pending, decision="deny"))
            )
        finally:
            connection.close()

    racer = threading.Thread(target=dana_posts)
    with transaction.atomic():
        AccessRequest.objects.select_for_update().get(pk=pending.pk)
        racer.start()
        waiting_on_a_lock()
        lee_said = Client().post(page(lee_token), link_approval(pending, duration="1h"))
    racer.join(timeout=30)

    assert lee_said.status_code == 200
    assert "Approved by Lee Park via SMS" in text(lee_said)
    [lost] = dana_said
    assert lost.status_code == 409
    assert "This request was already decided" in text(lost)
    assert "Approved by Lee Park via SMS" in text(lost)
    pending.refresh_from_db()
    assert (pending.status, pending.decided_by_name) == (Status.APPROVED, "Lee Park")
    assert pending.events.filter(kind__in=["approved", "denied"]).count() == 1
    assert ApproverLink.objects.get(token_hash=hash_token(dana_token)).used_at is None


# --- fast -----------------------------------------------------------------------------------------


def test_the_page_costs_a_fixed_number_of_queries(
    client, requester, tools, flow, dana, django_assert_num_queries
):
    for group in ("EMEA", "Field", "Enterprise"):
        requester.groups.add(GroupFactory(name=group))
    many_tools = make_request(requester=requester, tools=tools, flow=flow, arguments=NESTED)
    token = link_create(access_request=many_tools, person=dana, channel="email")
    with django_assert_num_queries(QUERIES_TO_SHOW):
        assert client.get(page(token)).status_code == 200


def test_a_refused_choice_costs_no_more_than_showing_the_page(
    client, pending, token, django_assert_num_queries
):
    refused = link_approval(pending, tools=[])
    with django_assert_num_queries(QUERIES_TO_SHOW):
        assert client.post(page(token), refused).status_code == 400

"""Approver and requester messages: who gets what, through which channel, with which link."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.db import connection

from agenwork.crypto import hash_token
from approval_flows.models import Notification
from approval_flows.transports import fits_one_segment
from directory.models import Person
from requests_app import notify
from requests_app.deciding import person_decide
from requests_app.models import AccessRequest, ApproverLink, RequestApproval
from requests_app.notify import (
    ensure_sms_code,
    notify_escalation,
    notify_new_request,
    notify_reminder,
    notify_resolution,
    sms_text,
)
from requests_app.services import Actor, request_approve, request_time_out
from tests.factories import (
    ApprovalFlowFactory,
    ApprovalLevelFactory,
    ConnectorFactory,
    GroupFactory,
    PersonFactory,
    ToolFactory,
    UserFactory,
    make_request,
)

Occasion = Notification.Occasion
LINK = re.compile(r"/a/([A-Za-z0-9_-]{43})/")


@pytest.fixture
def cast(db):
    """A two-level SMS + email flow and everyone around it.

    - Level 1: Pat by name; the Security group (Dana, Noah without a phone, Lee locked, and Ana
      the requester); Bob as a backup. Level 2: Eve.
    """
    security = GroupFactory(name="Security")
    people = {
        "ana": PersonFactory(name="Ana Lopez", email="ana@example.com", phone="+15550101"),
        "dana": PersonFactory(name="Dana Levi", email="dana@example.com", phone="+15550100"),
        "pat": PersonFactory(name="Pat Quinn", email="pat@example.com", phone="+1 555 010-2"),
        "noah": PersonFactory(name="Noah Nophone", email="noah@example.com"),
        "lee": PersonFactory(
            name="Lee Park", email="lee@example.com", phone="+15550103", status="locked"
        ),
        "bob": PersonFactory(name="Bob Backup", email="bob@example.com", phone="+15550104"),
        "eve": PersonFactory(name="Eve Second", email="eve@example.com", phone="+15550105"),
    }
    security.members.add(people["dana"], people["noah"], people["lee"], people["ana"])
    flow = ApprovalFlowFactory(name="Sales approvals", channel_email=True, channel_sms=True)
    first = ApprovalLevelFactory(flow=flow, position=1)
    first.people.add(people["pat"], people["dana"])
    first.groups.add(security)
    first.backup_people.add(people["bob"])
    ApprovalLevelFactory(flow=flow, position=2).people.add(people["eve"])
    return {"flow": flow, **people}


@pytest.fixture
def calendar_tools(db):
    calendar = ConnectorFactory(slug="google-calendar", name="Google Calendar")
    return [
        ToolFactory(connector=calendar, key="google-calendar_events_create", access="write"),
        ToolFactory(connector=calendar, key="google-calendar_events_update", access="write"),
    ]


def unnotified_request(requester: Person, tools, flow, **kwargs) -> AccessRequest:
    """A pending request routed to `flow` whose approvers have not been told yet."""
    made = make_request(requester=requester, tools=tools, flow=None, **kwargs)
    AccessRequest.objects.filter(pk=made.pk).update(
        flow=flow, timeout_at=made.requested_at + timedelta(hours=24)
    )
    made.refresh_from_db()
    return made


@pytest.fixture
def pending(cast, calendar_tools) -> AccessRequest:
    return unnotified_request(
        cast["ana"], calendar_tools, cast["flow"], note="Booking the QBR.", agent="Claude"
    )


def sent(access_request: AccessRequest, **filters) -> list[Notification]:
    return list(
        Notification.objects.filter(request_public_id=access_request.public_id, **filters)
        .select_related("recipient")
        .order_by("recipient__name", "channel")
    )


def recipients(rows: list[Notification], channel: str) -> set[str]:
    return {row.recipient.name for row in rows if row.channel == channel}


# --- a new request --------------------------------------------------------------------------------


def test_new_request_asks_every_first_level_approver_by_email_and_sms(pending):
    queued = notify_new_request(pending)
    rows = sent(pending, occasion=Occasion.NEW_REQUEST)
    assert queued == len(rows) == 5
    assert recipients(rows, "email") == {"Dana Levi", "Pat Quinn", "Noah Nophone"}
    assert recipients(rows, "sms") == {"Dana Levi", "Pat Quinn"}


def test_new_request_gives_each_message_its_own_link(pending, cast):
    notify_new_request(pending)
    links = ApproverLink.objects.filter(request=pending)
    assert sorted(links.values_list("person__name", "channel")) == [
        ("Dana Levi", "email"),
        ("Dana Levi", "sms"),
        ("Noah Nophone", "email"),
        ("Pat Quinn", "email"),
        ("Pat Quinn", "sms"),
    ]
    for row in sent(pending):
        token = LINK.search(row.body_text)[1]
        link = links.get(token_hash=hash_token(token))
        assert (link.person_id, link.channel) == (row.recipient_id, row.channel)
        if row.channel == "email":
            assert f"/a/{token}/" in row.body_html


def test_sms_goes_to_the_e164_form_of_the_phone(pending):
    notify_new_request(pending)
    pat = sent(pending, channel="sms", recipient__name="Pat Quinn")[0]
    assert pat.address == "+15550102"


def test_email_carries_the_requests_context(pending, settings):
    notify_new_request(pending)
    email = sent(pending, channel="email", recipient__name="Dana Levi")[0]
    assert email.subject == "Approve Ana Lopez's request: Google Calendar"
    for part in (email.body_text, email.body_html):
        for expected in (
            "Ana Lopez",
            "ana@example.com",
            "Google Calendar",
            "google-calendar_events_create",
            "google-calendar_events_update",
            "Booking the QBR.",
            "Claude",
            f"{settings.SITE_URL}/a/",
        ):
            assert expected in part, expected
    assert f"A {pending.sms_code}" in email.body_text
    assert "&amp;#x27;" not in email.body_html and "&#x27;" not in email.body_text


def test_sms_names_the_request_its_code_and_the_link(pending, settings):
    settings.SITE_URL = "https://a.io"
    notify_new_request(pending)
    sms = sent(pending, channel="sms", recipient__name="Dana Levi")[0]
    code = pending.sms_code
    assert re.fullmatch(r"\d{4}", code)
    token = LINK.search(sms.body_text)[1]
    assert sms.body_text == (
        "agenwork: Ana Lopez asks Google Calendar events_create (+1). "
        f"Reply A {code} or D {code}, or open https://a.io/a/{token}/"
    )
    assert fits_one_segment(sms.body_text)


def test_sms_drops_the_tool_name_before_the_people_names(pending, settings):
    settings.SITE_URL = "https://agenwork.example.com"
    notify_new_request(pending)
    sms = sent(pending, channel="sms", recipient__name="Dana Levi")[0]
    assert sms.body_text.startswith("agenwork: Ana Lopez asks Google Calendar (2 tools). Reply A ")
    assert fits_one_segment(sms.body_text)


def test_text_templates_are_not_html_escaped(cast, calendar_tools):
    cast["ana"].name = "Zoë O'Brien & Sons <x>"
    cast["ana"].save()
    made = unnotified_request(cast["ana"], calendar_tools, cast["flow"])
    notify_new_request(made)
    email = sent(made, channel="email", recipient__name="Dana Levi")[0]
    assert "Zoë O'Brien & Sons <x>" in email.subject
    assert "Zoë O'Brien & Sons <x>" in email.body_text
    assert "Zoë O&#x27;Brien &amp; Sons &lt;x&gt;" in email.body_html


def test_an_email_only_flow_sends_no_sms_and_needs_no_code(cast, calendar_tools):
    flow = ApprovalFlowFactory(channel_email=True, channel_sms=False)
    ApprovalLevelFactory(flow=flow).people.add(cast["dana"])
    made = unnotified_request(cast["ana"], calendar_tools, flow)
    assert notify_new_request(made) == 1
    made.refresh_from_db()
    assert made.sms_code == ""
    assert [row.channel for row in sent(made)] == ["email"]


def test_an_sms_only_flow_sends_no_email(cast, calendar_tools):
    flow = ApprovalFlowFactory(channel_email=False, channel_sms=True)
    ApprovalLevelFactory(flow=flow).people.add(cast["dana"], cast["noah"])
    made = unnotified_request(cast["ana"], calendar_tools, flow)
    assert notify_new_request(made) == 1
    assert [(row.recipient.name, row.channel) for row in sent(made)] == [("Dana Levi", "sms")]


def test_a_request_without_a_flow_notifies_nobody(cast, calendar_tools):
    made = make_request(requester=cast["ana"], tools=calendar_tools, flow=None)
    assert notify_new_request(made) == 0
    assert sent(made) == []


def test_creating_a_request_queues_its_messages(cast, calendar_tools):
    made = make_request(requester=cast["ana"], tools=calendar_tools, flow=cast["flow"])
    assert len(sent(made, occasion=Occasion.NEW_REQUEST)) == 5


# --- SMS codes ------------------------------------------------------------------------------------


def test_sms_codes_are_unique_among_pending_requests(cast, calendar_tools):
    codes = set()
    for _ in range(30):
        made = unnotified_request(cast["ana"], calendar_tools, cast["flow"])
        codes.add(ensure_sms_code(made))
    assert len(codes) == 30
    assert all(re.fullmatch(r"\d{4}", code) for code in codes)


def test_sms_code_collisions_retry_then_grow_to_six_digits(cast, calendar_tools, monkeypatch):
    taken = unnotified_request(cast["ana"], calendar_tools, cast["flow"])
    AccessRequest.objects.filter(pk=taken.pk).update(sms_code="4821")
    # 4-digit draws always hit 4821; 6-digit draws give 223456.
    monkeypatch.setattr(notify.secrets, "randbelow", lambda n: 3821 if n == 9000 else 123456)
    made = unnotified_request(cast["ana"], calendar_tools, cast["flow"])
    assert ensure_sms_code(made) == "223456"
    assert AccessRequest.objects.get(pk=made.pk).sms_code == "223456"
    # The collisions did not break the surrounding transaction.
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def test_a_decided_requests_code_can_be_given_again(cast, calendar_tools, monkeypatch):
    old = unnotified_request(cast["ana"], calendar_tools, cast["flow"])
    AccessRequest.objects.filter(pk=old.pk).update(sms_code="4821", status="denied")
    monkeypatch.setattr(notify.secrets, "randbelow", lambda n: 3821)
    made = unnotified_request(cast["ana"], calendar_tools, cast["flow"])
    assert ensure_sms_code(made) == "4821"


def test_an_existing_code_is_kept(pending):
    code = ensure_sms_code(pending)
    assert ensure_sms_code(pending) == code
    assert AccessRequest.objects.get(pk=pending.pk).sms_code == code


# --- SMS fit in one segment -----------------------------------------------------------------------


LONG = "Maximilian Alexander Fitzgerald-Worthington de la Cruz III"


@pytest.mark.parametrize(
    ("requester", "connector", "tool", "site"),
    [
        (LONG + "xx", "C" * 60, "google-calendar_" + "x" * 60, "https://agenwork.example.com"),
        ("Łukasz Żółć-Brzęczyszczykiewicz " * 2, "Связь 日本語 Connector", "tool_ü", "http://a.io"),
        ("Ana Lopez", "Google Calendar", "events_create", "https://approvals.internal.example.org"),
        (
            "€€€€ [brackets] {braces} ~tilde~ ^^^",
            "x" * 60,
            "y" * 60,
            "https://agenwork.example.com",
        ),
    ],
)
def test_every_sms_fits_one_segment(db, settings, requester, connector, tool, site):
    settings.SITE_URL = site
    person = PersonFactory(name="Z" * 60)
    context = {
        "requester_name": requester[:60],
        "connector_name": connector[:60],
        "first_tool": tool,
        "extra_tools": 49,
        "code": "123456",
        "decided_by": LONG,
        "person": person,
        "status": "Auto-approved",
        "req": None,
        "link": f"{site}/a/{'T' * 43}/",
    }
    for occasion in ("new_request", "reminder", "escalation"):
        text = sms_text("sms/approval_request.txt", {**context, "occasion": occasion})
        assert fits_one_segment(text), text
        assert f"A 123456 or D 123456, or open {site}/a/" in text
    text = sms_text("sms/decided_elsewhere.txt", context)
    assert fits_one_segment(text), text


def test_long_names_are_shortened_in_the_sms_not_dropped(cast, calendar_tools):
    cast["ana"].name = LONG
    cast["ana"].save()
    made = unnotified_request(cast["ana"], calendar_tools, cast["flow"])
    notify_new_request(made)
    for row in sent(made, channel="sms"):
        assert fits_one_segment(row.body_text), row.body_text
        assert "Maximilian" in row.body_text
        assert LINK.search(row.body_text)


# --- reminders and escalation ---------------------------------------------------------------------


def test_reminder_skips_approvers_who_voted_and_brings_fresh_links(pending, cast):
    notify_new_request(pending)
    RequestApproval.objects.create(
        request=pending, person=cast["dana"], vote="approve", channel="web"
    )
    links_before = ApproverLink.objects.count()
    queued = notify_reminder(pending, sequence=1)
    rows = sent(pending, occasion=Occasion.REMINDER)
    assert queued == len(rows) == 3
    assert recipients(rows, "email") == {"Pat Quinn", "Noah Nophone"}
    assert recipients(rows, "sms") == {"Pat Quinn"}
    assert ApproverLink.objects.count() == links_before + 3
    assert all(row.sequence == 1 for row in rows)
    assert rows[0].subject.startswith("Reminder: ")


def test_the_same_reminder_is_queued_once(pending):
    notify_reminder(pending, sequence=2)
    assert notify_reminder(pending, sequence=2) == 0
    assert notify_reminder(pending, sequence=3) == 5


def test_reminder_after_escalation_reaches_both_levels(pending):
    AccessRequest.objects.filter(pk=pending.pk).update(current_level=2)
    pending.refresh_from_db()
    notify_reminder(pending, sequence=1)
    rows = sent(pending, occasion=Occasion.REMINDER)
    assert recipients(rows, "email") == {"Dana Levi", "Pat Quinn", "Noah Nophone", "Eve Second"}


def test_escalation_asks_only_the_next_level(pending):
    notify_new_request(pending)
    queued = notify_escalation(pending, level=2)
    rows = sent(pending, occasion=Occasion.ESCALATION)
    assert queued == 2
    assert [(row.recipient.name, row.channel, row.sequence) for row in rows] == [
        ("Eve Second", "email", 2),
        ("Eve Second", "sms", 2),
    ]
    assert rows[0].subject.startswith("Escalated to you: ")
    assert "escalation" in rows[1].body_text


# --- resolution -----------------------------------------------------------------------------------


def test_resolution_tells_the_other_approvers_and_the_requester(pending, cast):
    notify_new_request(pending)
    person_decide(access_request=pending, person=cast["dana"], approve=True, channel="email")
    notify_resolution(pending)
    elsewhere = sent(pending, occasion=Occasion.DECIDED_ELSEWHERE)
    assert recipients(elsewhere, "email") == {"Pat Quinn", "Noah Nophone"}
    assert recipients(elsewhere, "sms") == {"Pat Quinn"}
    sms = next(row for row in elsewhere if row.channel == "sms")
    assert "approved by Dana Levi" in sms.body_text
    assert fits_one_segment(sms.body_text)
    email = next(row for row in elsewhere if row.channel == "email")
    assert email.subject == "Approved: Ana Lopez's request for Google Calendar"
    assert "approved by Dana Levi via Email" in email.body_text
    outcome = sent(pending, occasion=Occasion.OUTCOME)
    assert [(row.recipient.name, row.channel) for row in outcome] == [("Ana Lopez", "email")]
    assert outcome[0].subject == "Your request was approved: Google Calendar"
    assert "google-calendar_events_create: approved" in outcome[0].body_text


def test_resolution_by_a_console_login_skips_that_person(pending, cast):
    notify_new_request(pending)
    login = UserFactory(username="dana")
    Person.objects.filter(pk=cast["dana"].pk).update(user=login)
    login.refresh_from_db()
    request_approve(access_request=pending, actor=Actor.for_user(login))
    notify_resolution(pending)
    elsewhere = sent(pending, occasion=Occasion.DECIDED_ELSEWHERE)
    assert "Dana Levi" not in recipients(elsewhere, "email")
    assert recipients(elsewhere, "email") == {"Pat Quinn", "Noah Nophone"}


def test_timeout_tells_every_notified_approver(pending):
    notify_new_request(pending)
    request_time_out(access_request=pending)
    notify_resolution(pending)
    elsewhere = sent(pending, occasion=Occasion.DECIDED_ELSEWHERE)
    assert recipients(elsewhere, "email") == {"Dana Levi", "Pat Quinn", "Noah Nophone"}
    assert "nobody decided before the timeout" in elsewhere[0].body_text


def test_no_outcome_message_when_the_flow_says_so(pending, cast):
    cast["flow"].notify_requester = False
    cast["flow"].save()
    pending.refresh_from_db()
    person_decide(access_request=pending, person=cast["dana"], approve=False, channel="sms")
    notify_resolution(pending)
    assert sent(pending, occasion=Occasion.OUTCOME) == []


def test_resolution_of_a_pending_request_sends_nothing(pending):
    notify_new_request(pending)
    assert notify_resolution(pending) == 0
    assert sent(pending, occasion=Occasion.DECIDED_ELSEWHERE) == []


# --- the review panel's notification history ------------------------------------------------------


def test_panel_lists_the_notifications_with_their_status(pending, client):
    notify_new_request(pending)
    failed = sent(pending, channel="sms", recipient__name="Pat Quinn")[0]
    Notification.objects.filter(pk=failed.pk).update(
        status="failed", last_error="Twilio 400 (error 21211): invalid 'To' number"
    )
    Notification.objects.filter(channel="email").update(status="sent", provider_status="")
    Notification.objects.filter(channel="sms", recipient__name="Dana Levi").update(
        status="sent", provider_status="delivered"
    )
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    body = client.get(f"/requests/{pending.public_id}/").content.decode()
    panel = body[body.index("Notifications (5)") : body.index(">History<")]
    assert panel.count('class="notification ') == 5
    for expected in ("Pat Quinn", "+15550102", "noah@example.com", "New request", "SMS", "Email"):
        assert expected in panel, expected
    assert "Twilio 400 (error 21211): invalid &#x27;To&#x27; number" in panel
    assert "delivered" in panel
    assert panel.index("Dana Levi") < panel.index("Pat Quinn")  # oldest first

"""The sweep with time moved forward (`now=`): reminders, escalations, timeouts, each once.

Also: what creating and resolving a request queues, sweeps side by side, and every channel
racing the timeout for one request.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.db import connection
from kombu.exceptions import OperationalError

from agenwork.crypto import hash_token
from approval_flows.models import Notification
from requests_app import notify
from requests_app.deciding import link_decide
from requests_app.links import link_create
from requests_app.models import AccessRequest, ApproverLink, Channel, RequestEvent
from requests_app.notify_bulk import notify_reminders
from requests_app.services import (
    Actor,
    RequestAlreadyDecided,
    request_approve,
    request_cancel,
    request_deny,
)
from requests_app.sms_replies import sms_reply
from requests_app.sweep import sweep_due
from requests_app.voting import request_vote
from tests.factories import ApprovalFlowFactory, ApprovalLevelFactory, PersonFactory, make_request

Status = AccessRequest.Status
Occasion = Notification.Occasion
DECISION_KINDS = {"approved", "denied", "auto_approved", "expired", "cancelled"}
HOUR = timedelta(hours=1)


@pytest.fixture
def dana(approver_user):
    """The Security approver of the `flow` fixture (email and SMS)."""
    return approver_user.person


@pytest.fixture
def reminding(flow, dana) -> Any:
    """The conftest flow: reminders 1 h after the request, then hourly, at most 2."""
    flow.reminder_after, flow.reminder_repeat, flow.max_reminders = HOUR, HOUR, 2
    flow.save()
    return flow


@pytest.fixture
def pending(requester, tools, reminding) -> AccessRequest:
    return make_request(requester=requester, tools=tools[:2], flow=reminding)


def at(access_request: AccessRequest, after: timedelta) -> datetime:
    return access_request.requested_at + after


def events(access_request: AccessRequest, kind: str) -> list[RequestEvent]:
    return list(access_request.events.filter(kind=kind))


def messages(access_request: AccessRequest, occasion: str) -> list[Notification]:
    return list(
        Notification.objects.filter(request_public_id=access_request.public_id, occasion=occasion)
    )


def decision_events(access_request: AccessRequest) -> list[RequestEvent]:
    return list(access_request.events.filter(kind__in=DECISION_KINDS))


# --- creation and resolution queue their messages ------------------------------------------


def test_a_new_request_queues_the_approvers_messages_and_records_it(pending, dana):
    kinds = list(pending.events.values_list("kind", flat=True))
    assert kinds == ["created", "notified"]
    notified = events(pending, "notified")[0]
    assert notified.message == "2 notifications queued for the approvers"
    assert {(n.recipient, n.channel) for n in messages(pending, Occasion.NEW_REQUEST)} == {
        (dana, "email"),
        (dana, "sms"),
    }


def test_a_request_without_a_flow_notifies_nobody(requester, tools):
    access_request = make_request(requester=requester, tools=tools[:1], flow=None)
    assert list(access_request.events.values_list("kind", flat=True)) == ["created"]
    assert not Notification.objects.filter(request_public_id=access_request.public_id).exists()


@pytest.mark.parametrize(
    "resolve",
    [
        lambda r, actor: request_approve(access_request=r, actor=actor),
        lambda r, actor: request_deny(access_request=r, actor=actor),
    ],
    ids=["approve", "deny"],
)
def test_every_resolution_tells_the_requester_when_the_flow_says_so(
    pending, requester, dana, admin_user, resolve
):
    resolve(pending, Actor.for_user(admin_user))
    [outcome] = messages(pending, Occasion.OUTCOME)
    assert (outcome.recipient, outcome.channel) == (requester, "email")
    assert {n.recipient for n in messages(pending, Occasion.DECIDED_ELSEWHERE)} == {dana}


def test_the_requester_is_not_told_when_the_flow_says_not_to(pending, reminding, admin_user):
    reminding.notify_requester = False
    reminding.save()
    request_approve(access_request=pending, actor=Actor.for_user(admin_user))
    assert messages(pending, Occasion.OUTCOME) == []


def test_a_cancelled_request_tells_the_approvers_it_is_over(pending, dana):
    request_cancel(access_request=pending, actor=Actor(name="Gateway", channel=Channel.API))
    assert {n.recipient for n in messages(pending, Occasion.DECIDED_ELSEWHERE)} == {dana}


# --- reminders -----------------------------------------------------------------------------


def test_a_reminder_goes_out_once_at_its_time(pending, dana):
    assert sweep_due(now=at(pending, HOUR - timedelta(seconds=1))).reminders == 0
    assert sweep_due(now=at(pending, HOUR)).reminders == 1
    assert sweep_due(now=at(pending, HOUR)).reminders == 0

    pending.refresh_from_db()
    assert pending.reminders_sent == 1
    assert pending.next_reminder_at == at(pending, 2 * HOUR)
    [reminded] = events(pending, "reminded")
    assert (reminded.message, reminded.channel) == ("Reminder 1 sent", Channel.SYSTEM)
    assert {(n.recipient, n.channel, n.sequence) for n in messages(pending, Occasion.REMINDER)} == {
        (dana, "email", 1),
        (dana, "sms", 1),
    }


def test_reminders_repeat_up_to_the_maximum(pending):
    done = [sweep_due(now=at(pending, hours * HOUR)).reminders for hours in range(1, 6)]

    assert done == [1, 1, 0, 0, 0]
    pending.refresh_from_db()
    assert pending.reminders_sent == 2
    assert pending.next_reminder_at is None
    assert [e.message for e in events(pending, "reminded")] == [
        "Reminder 1 sent",
        "Reminder 2 sent",
    ]
    assert sorted({n.sequence for n in messages(pending, Occasion.REMINDER)}) == [1, 2]


def test_reminders_stop_once_the_request_is_decided(pending, admin_user):
    sweep_due(now=at(pending, HOUR))
    request_approve(access_request=pending, actor=Actor.for_user(admin_user))

    assert sweep_due(now=at(pending, 2 * HOUR)).reminders == 0
    assert len(events(pending, "reminded")) == 1


def test_a_flow_without_repeat_reminds_once(pending, reminding):
    reminding.reminder_repeat = None
    reminding.save()
    assert [sweep_due(now=at(pending, h * HOUR)).reminders for h in (1, 2, 3)] == [1, 0, 0]
    pending.refresh_from_db()
    assert pending.next_reminder_at is None


@pytest.mark.parametrize("level", [1, 2])
def test_the_bulk_reminder_writes_what_notify_reminder_writes(requester, tools, level):
    """Same people, channels, addresses and texts (links aside), and a link per message."""
    flow = ApprovalFlowFactory(
        name="Two levels", channel_email=True, channel_sms=True, min_approvals=2
    )
    ann, bob, cat = (
        PersonFactory(name=name, phone=phone)
        for name, phone in (("Ann", "+15550101"), ("Bob", ""), ("Cat", "+1 555 0103"))
    )
    ApprovalLevelFactory(flow=flow, position=1).people.add(ann, bob, requester)
    ApprovalLevelFactory(flow=flow, position=2).people.add(cat)
    access_request = make_request(requester=requester, tools=tools, flow=flow, note="QBR")
    AccessRequest.objects.filter(pk=access_request.pk).update(current_level=level)
    access_request = AccessRequest.objects.select_related("flow", "connector").get(
        pk=access_request.pk
    )
    if level == 2:  # Bob has voted: he is not reminded
        request_vote(
            access_request=access_request,
            person=bob,
            vote="approve",
            actor=Actor(name="Bob", channel=Channel.WEB),
        )
    links_before = access_request.links.count()

    assert access_request.is_pending
    one_by_one = notify.notify_reminder(access_request, sequence=1)
    bulk = notify_reminders([(access_request, 2)])

    def rows(sequence: int) -> list[tuple]:
        found = Notification.objects.filter(
            request_public_id=access_request.public_id,
            occasion=Occasion.REMINDER,
            sequence=sequence,
        ).order_by("recipient__name", "channel")
        return [
            (
                n.recipient.name,
                n.channel,
                n.address,
                n.subject,
                *map(unlinked, (n.body_text, n.body_html)),
            )
            for n in found
        ]

    assert rows(2) == rows(1)
    assert bulk == {access_request.pk: one_by_one}
    assert one_by_one == (4 if level == 2 else 3)
    assert access_request.links.count() - links_before == 2 * one_by_one


def unlinked(text: str) -> str:
    return re.sub(r"/a/[A-Za-z0-9_-]+/", "/a/<token>/", text)


# --- escalation ----------------------------------------------------------------------------


@pytest.fixture
def escalating(requester, dana) -> tuple[Any, list[Any]]:
    """Three levels, one named approver each (Dana first), escalating every 2 hours."""
    flow = ApprovalFlowFactory(
        name="Escalating", reminder_after=None, escalate_after=2 * HOUR, timeout_after=24 * HOUR
    )
    approvers = [dana, PersonFactory(name="Eli Second"), PersonFactory(name="Flo Third")]
    for position, person in enumerate(approvers, start=1):
        ApprovalLevelFactory(flow=flow, position=position).people.add(person)
    return flow, approvers


def test_escalation_asks_the_next_level_once_and_moves_on(escalating, requester, tools):
    flow, (_dana, eli, _flo) = escalating
    access_request = make_request(requester=requester, tools=tools[:1], flow=flow)

    assert sweep_due(now=at(access_request, 2 * HOUR - timedelta(seconds=1))).escalations == 0
    assert sweep_due(now=at(access_request, 2 * HOUR)).escalations == 1
    assert sweep_due(now=at(access_request, 2 * HOUR)).escalations == 0

    access_request.refresh_from_db()
    assert access_request.current_level == 2
    assert access_request.escalate_at == at(access_request, 4 * HOUR)
    assert [e.message for e in events(access_request, "escalated")] == ["Escalated to level 2"]
    assert {n.recipient for n in messages(access_request, Occasion.ESCALATION)} == {eli}


def test_escalation_stops_at_the_last_level(escalating, requester, tools):
    flow, (_dana, _eli, flo) = escalating
    access_request = make_request(requester=requester, tools=tools[:1], flow=flow)

    done = [sweep_due(now=at(access_request, h * HOUR)).escalations for h in (2, 4, 6, 8)]

    assert done == [1, 1, 0, 0]
    access_request.refresh_from_db()
    assert access_request.current_level == 3
    assert access_request.escalate_at is None
    assert flo in {n.recipient for n in messages(access_request, Occasion.ESCALATION)}


def test_an_escalated_level_may_vote(escalating, requester, tools):
    flow, (_dana, eli, _flo) = escalating
    access_request = make_request(requester=requester, tools=tools[:1], flow=flow)
    sweep_due(now=at(access_request, 2 * HOUR))

    request_vote(
        access_request=access_request,
        person=eli,
        vote="approve",
        actor=Actor(name=eli.name, channel=Channel.EMAIL),
    )
    access_request.refresh_from_db()
    assert access_request.status == Status.APPROVED


def test_a_single_level_flow_drops_its_escalation_deadline(requester, tools, flow):
    flow.escalate_after = HOUR
    flow.save()
    access_request = make_request(requester=requester, tools=tools[:1], flow=flow)
    assert sweep_due(now=at(access_request, HOUR)).escalations == 0
    access_request.refresh_from_db()
    assert (access_request.current_level, access_request.escalate_at) == (1, None)
    assert events(access_request, "escalated") == []


# --- timeouts ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "status", "kind"),
    [
        ("auto_approve", Status.AUTO_APPROVED, "auto_approved"),
        ("deny", Status.DENIED, "denied"),
        ("expire", Status.EXPIRED, "expired"),
    ],
)
def test_each_timeout_outcome_happens_once(pending, reminding, requester, action, status, kind):
    reminding.timeout_action = action
    reminding.save()
    timeout = pending.timeout_at - pending.requested_at

    assert sweep_due(now=at(pending, timeout - timedelta(seconds=1))).timeouts == 0
    assert sweep_due(now=at(pending, timeout)).timeouts == 1
    assert sweep_due(now=at(pending, timeout + HOUR)).timeouts == 0

    pending.refresh_from_db()
    assert pending.status == status
    assert pending.decided_via == Channel.TIMEOUT
    assert [e.kind for e in decision_events(pending)] == [kind]
    assert [n.recipient for n in messages(pending, Occasion.OUTCOME)] == [requester]


def test_a_request_timing_out_is_not_reminded_first(pending, reminding):
    reminding.timeout_after = 3 * HOUR
    reminding.save()
    AccessRequest.objects.filter(pk=pending.pk).update(timeout_at=at(pending, 3 * HOUR))

    report = sweep_due(now=at(pending, 5 * HOUR))

    assert (report.timeouts, report.reminders) == (1, 0)
    assert events(pending, "reminded") == []


# --- handing messages to the workers, and failures -----------------------------------------


def test_due_notifications_are_handed_to_the_workers_in_one_message(pending, monkeypatch):
    from requests_app.tasks import hand_out_notifications

    handed: list[list[int]] = []
    monkeypatch.setattr(hand_out_notifications, "delay", handed.append)
    queued = {n.pk for n in messages(pending, Occasion.NEW_REQUEST)}

    report = sweep_due(now=at(pending, timedelta(minutes=5)))

    assert report.notifications == len(queued) == 2
    assert [set(ids) for ids in handed] == [queued]


def test_handing_out_enqueues_one_send_per_notification(monkeypatch):
    from approval_flows.tasks import send_notification
    from requests_app.tasks import hand_out_notifications

    sent: list[int] = []
    monkeypatch.setattr(send_notification, "delay", sent.append)
    assert hand_out_notifications([3, 1, 2]) == 3
    assert sent == [3, 1, 2]


def test_a_broker_that_refuses_is_reported_and_the_deadlines_still_move(pending, monkeypatch):
    from requests_app.tasks import hand_out_notifications

    def refuse(_ids: list[int]) -> None:
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(hand_out_notifications, "delay", refuse)
    report = sweep_due(now=at(pending, HOUR))

    assert report.reminders == 1
    assert report.notifications == 0
    assert "broker refused" in report.errors[0]


def test_a_request_that_fails_does_not_hold_up_the_others(reminding, requester, tools, monkeypatch):
    from requests_app import notify

    first, broken, last = (
        make_request(requester=requester, tools=tools[:1], flow=reminding, dedupe_key=str(n))
        for n in range(3)
    )
    real = notify.email_texts

    def fragile(name: str, context: dict) -> dict:
        if context["req"].pk == broken.pk:
            raise RuntimeError("template exploded")
        return real(name, context)

    monkeypatch.setattr(notify, "email_texts", fragile)
    report = sweep_due(now=at(last, HOUR))

    assert (report.reminders, report.failed) == (2, 1)
    assert "template exploded" in report.errors[0]
    broken.refresh_from_db()
    assert broken.reminders_sent == 0
    assert broken.next_reminder_at == at(broken, HOUR)
    assert [len(events(r, "reminded")) for r in (first, broken, last)] == [1, 0, 1]


def test_a_sweep_out_of_time_leaves_the_rest_for_the_next_one(pending):
    report = sweep_due(now=at(pending, HOUR), budget=0)

    assert report.reminders == 0
    assert "time is up" in report.errors[-1]
    assert sweep_due(now=at(pending, HOUR)).reminders == 1


def test_a_dry_run_changes_nothing(pending):
    before = AccessRequest.objects.filter(pk=pending.pk).values().get()
    report = sweep_due(now=at(pending, 30 * HOUR), dry_run=True)

    assert (report.timeouts, report.reminders) == (1, 1)
    assert report.due["timeouts"] == [f"{pending.public_id} due {pending.timeout_at.isoformat()}"]
    assert AccessRequest.objects.filter(pk=pending.pk).values().get() == before
    assert list(pending.events.values_list("kind", flat=True)) == ["created", "notified"]


# --- side by side --------------------------------------------------------------------------


def together(work: list[Callable[[], Any]]) -> list[tuple[str, Any]]:
    """Run the callables in threads released at the same moment; ("ok"|"error", value)."""
    barrier = threading.Barrier(len(work))
    results: list[tuple[str, Any]] = [("missing", None)] * len(work)

    def run(i: int) -> None:
        try:
            barrier.wait(timeout=30)
            results[i] = ("ok", work[i]())
        except Exception as exc:
            results[i] = ("error", exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(work))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads)
    return results


@pytest.mark.django_db(transaction=True)
def test_two_sweeps_side_by_side_handle_each_deadline_once(reminding, requester, tools):
    many = [
        make_request(requester=requester, tools=tools[:1], flow=reminding, dedupe_key=str(n))
        for n in range(24)
    ]
    timing_out = many[:6]
    AccessRequest.objects.filter(pk__in=[r.pk for r in timing_out]).update(
        timeout_at=at(many[0], HOUR)
    )
    now = at(many[-1], HOUR)

    results = together([lambda: sweep_due(now=now, batch=3)] * 2)

    reports = [value for outcome, value in results if outcome == "ok"]
    assert len(reports) == 2, results
    assert sum(r.timeouts for r in reports) == 6
    assert sum(r.reminders for r in reports) == 18
    for access_request in many:
        timed_out = access_request in timing_out
        assert len(decision_events(access_request)) == (1 if timed_out else 0)
        assert len(events(access_request, "reminded")) == (0 if timed_out else 1)
        assert len(messages(access_request, Occasion.REMINDER)) == (0 if timed_out else 2)


@pytest.mark.django_db(transaction=True)
def test_web_link_sms_and_timeout_racing_make_one_winner(pending, dana, admin_user, settings):
    settings.TWILIO_AUTH_TOKEN = "test-token"
    token = link_create(access_request=pending, person=dana, channel=Channel.EMAIL)
    link = ApproverLink.objects.get(token_hash=hash_token(token))
    work = [
        lambda: request_deny(
            access_request=AccessRequest.objects.get(pk=pending.pk),
            actor=Actor.for_user(admin_user),
        ),
        lambda: link_decide(link=ApproverLink.objects.get(pk=link.pk), approve=True),
        lambda: sms_reply(phone=dana.phone, body=f"A {pending.sms_code}"),
        lambda: sweep_due(now=pending.timeout_at + HOUR),
    ]

    results = together(work)

    pending.refresh_from_db()
    assert pending.status != Status.PENDING
    [decision] = decision_events(pending)
    assert decision.channel == pending.decided_via
    told = [value for outcome, value in results if outcome == "error"]
    assert all(isinstance(exc, RequestAlreadyDecided) for exc in told), [
        (outcome, type(value).__name__, str(value)[:300]) for outcome, value in results
    ]
    sms_answer, sweep_report = results[2][1], results[3][1]
    if pending.decided_via != Channel.SMS:
        assert sms_answer.startswith("Already ")
    assert sweep_report.timeouts == (1 if pending.decided_via == Channel.TIMEOUT else 0)
    assert len(messages(pending, Occasion.OUTCOME)) == 1


@pytest.mark.django_db(transaction=True)
def test_a_sweep_with_helper_processes_handles_each_deadline_once(reminding, requester, tools):
    many = [make_request(requester=requester, tools=tools[:1], flow=reminding) for _ in range(12)]
    now = at(many[-1], HOUR)

    report = sweep_due(now=now, batch=2, workers=2)

    assert (report.reminders, report.failed, report.errors) == (12, 0, [])
    for access_request in many:
        assert len(events(access_request, "reminded")) == 1
        assert len(messages(access_request, Occasion.REMINDER)) == 2

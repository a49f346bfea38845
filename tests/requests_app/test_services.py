"""The request lifecycle services: creation, every transition, and the policy rules they use."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from approval_flows.models import ApprovalFlow
from policies.models import Policy
from policies.services import PolicyData, policy_create, policy_validate
from requests_app.models import AccessRequest, Channel, RequestEvent, RequestTool
from requests_app.outcomes import describe_decision
from requests_app.services import (
    GRANT_DURATIONS,
    Actor,
    RequestAlreadyDecided,
    RequestNotConsumable,
    request_approve,
    request_cancel,
    request_consume,
    request_create,
    request_deny,
    request_record_execution,
    request_release,
    request_resolve_with_policy,
    request_time_out,
)
from tests.factories import (
    ApprovalFlowFactory,
    ConnectorFactory,
    GroupFactory,
    PersonFactory,
    ToolFactory,
    make_request,
)

Status = AccessRequest.Status
DECISION_KINDS = {
    RequestEvent.Kind.APPROVED,
    RequestEvent.Kind.DENIED,
    RequestEvent.Kind.AUTO_APPROVED,
    RequestEvent.Kind.EXPIRED,
    RequestEvent.Kind.CANCELLED,
}


def decision_events(access_request: AccessRequest) -> list[RequestEvent]:
    return list(RequestEvent.objects.filter(request=access_request, kind__in=DECISION_KINDS))


def tool_statuses(access_request: AccessRequest) -> dict[int, str]:
    return dict(access_request.tools.values_list("tool_id", "status"))


def assert_decided(
    access_request: AccessRequest,
    *,
    status: str,
    kind: str,
    name: str,
    channel: str,
    user=None,
    before,
) -> RequestEvent:
    """The request left pending exactly once: decision fields set, deadlines cleared, one event."""
    access_request.refresh_from_db()
    assert access_request.status == status
    assert before <= access_request.decided_at <= timezone.now()
    assert access_request.decided_by == user
    assert access_request.decided_by_name == name
    assert access_request.decided_via == channel
    assert access_request.next_reminder_at is None
    assert access_request.escalate_at is None
    assert access_request.timeout_at is None
    [event] = decision_events(access_request)
    assert event.kind == kind
    assert event.actor == user
    assert event.actor_name == name
    assert event.channel == channel
    assert event.created_at == access_request.decided_at
    return event


@pytest.fixture
def dana(approver_user) -> Actor:
    return Actor.for_user(approver_user)


@pytest.fixture
def admin(admin_user) -> Actor:
    return Actor.for_user(admin_user)


# --- request_create -----------------------------------------------------------------------


def test_create_copies_requester_and_connector_onto_the_row(access_request, requester, tools):
    access_request.refresh_from_db()
    assert access_request.status == Status.PENDING
    assert access_request.requester == requester
    assert access_request.requester_name == "Ana Lopez"
    assert access_request.requester_identifier == "ana@example.com"
    assert access_request.connector == tools[0].connector
    assert access_request.connector_name == "Google Calendar"
    assert access_request.first_tool_key == "google-calendar_events_create"
    assert access_request.tool_count == 2
    assert access_request.extra_tool_count == 1
    assert access_request.arguments == {"calendarId": "primary", "summary": "QBR"}
    assert access_request.decided_at is None
    assert access_request.decided_via == ""


def test_create_keeps_tools_in_the_given_order_all_pending(requester, tools, flow):
    access_request = make_request(requester=requester, tools=[tools[2], tools[0]], flow=flow)
    rows = list(access_request.tools.order_by("position"))
    assert [(r.tool_id, r.position, r.status) for r in rows] == [
        (tools[2].pk, 0, RequestTool.Status.PENDING),
        (tools[0].pk, 1, RequestTool.Status.PENDING),
    ]
    assert access_request.first_tool_key == tools[2].key
    assert access_request.tool_count == 2


def test_create_writes_exactly_one_created_event_by_the_requester_via_api(access_request):
    [event] = access_request.events.filter(kind=RequestEvent.Kind.CREATED)
    assert event.kind == RequestEvent.Kind.CREATED
    assert event.actor is None
    assert event.actor_name == "Ana Lopez"
    assert event.channel == Channel.API
    assert event.created_at == access_request.requested_at


def test_create_sets_deadlines_from_the_flow(access_request, flow):
    assert flow.reminder_after == timedelta(hours=1)
    assert access_request.timeout_at == access_request.requested_at + timedelta(hours=24)
    assert access_request.next_reminder_at == access_request.requested_at + timedelta(hours=1)
    assert access_request.escalate_at is None


def test_create_sets_escalation_deadline_when_the_flow_escalates(requester, tools):
    flow = ApprovalFlowFactory(
        reminder_after=None, escalate_after=timedelta(hours=4), timeout_after=timedelta(hours=8)
    )
    access_request = make_request(requester=requester, tools=tools[:1], flow=flow)
    start = access_request.requested_at
    assert access_request.next_reminder_at is None
    assert access_request.escalate_at == start + timedelta(hours=4)
    assert access_request.timeout_at == start + timedelta(hours=8)


def test_create_without_a_flow_has_no_deadlines(requester, tools):
    access_request = make_request(requester=requester, tools=tools[:1], flow=None)
    assert access_request.next_reminder_at is None
    assert access_request.escalate_at is None
    assert access_request.timeout_at is None


def test_create_refuses_a_request_without_tools(requester, connector, flow):
    with pytest.raises(ValueError, match="at least one tool"):
        request_create(requester=requester, connector=connector, tools=[], policy=None, flow=flow)
    assert not AccessRequest.objects.exists()


# --- request_approve ----------------------------------------------------------------------


def test_approve_all_tools_once(access_request, tools, dana, approver_user):
    before = timezone.now()
    request_approve(access_request=access_request, actor=dana, comment="ok")
    event = assert_decided(
        access_request,
        status=Status.APPROVED,
        kind=RequestEvent.Kind.APPROVED,
        name="Dana Levi",
        channel=Channel.WEB,
        user=approver_user,
        before=before,
    )
    assert access_request.grant_expires_at is None
    assert access_request.comment == "ok"
    assert access_request.consumed_at is None
    assert tool_statuses(access_request) == {
        tools[0].pk: RequestTool.Status.APPROVED,
        tools[1].pk: RequestTool.Status.APPROVED,
    }
    assert event.message == "Approved once"
    assert event.data == {"approved_tool_ids": sorted([tools[0].pk, tools[1].pk]), "comment": "ok"}


def test_approve_some_tools_denies_the_others(access_request, tools, dana, approver_user):
    before = timezone.now()
    request_approve(access_request=access_request, actor=dana, tool_ids=[tools[1].pk])
    event = assert_decided(
        access_request,
        status=Status.APPROVED,
        kind=RequestEvent.Kind.APPROVED,
        name="Dana Levi",
        channel=Channel.WEB,
        user=approver_user,
        before=before,
    )
    assert tool_statuses(access_request) == {
        tools[0].pk: RequestTool.Status.DENIED,
        tools[1].pk: RequestTool.Status.APPROVED,
    }
    assert event.message.startswith("Approved some tools, denied the others")
    assert event.data["approved_tool_ids"] == [tools[1].pk]


@pytest.mark.parametrize(("choice", "label"), [("1h", "1 h"), ("8h", "8 h"), ("24h", "24 h")])
def test_approve_for_a_duration_starts_the_grant_clock_at_approval(
    access_request, dana, choice, label
):
    duration = GRANT_DURATIONS[choice]
    before = timezone.now()
    request_approve(access_request=access_request, actor=dana, duration=duration)
    access_request.refresh_from_db()
    assert before + duration <= access_request.grant_expires_at
    assert access_request.grant_expires_at <= access_request.decided_at + duration
    [event] = decision_events(access_request)
    assert event.message == f"Approved for {label}"


def test_approve_without_duration_is_one_time(access_request, dana):
    request_approve(access_request=access_request, actor=dana, duration=GRANT_DURATIONS["once"])
    access_request.refresh_from_db()
    assert access_request.status == Status.APPROVED
    assert access_request.grant_expires_at is None


def test_approve_none_of_the_tools_is_a_denial(access_request, tools, dana, approver_user):
    before = timezone.now()
    request_approve(access_request=access_request, actor=dana, tool_ids=[], duration=timedelta(1))
    assert_decided(
        access_request,
        status=Status.DENIED,
        kind=RequestEvent.Kind.DENIED,
        name="Dana Levi",
        channel=Channel.WEB,
        user=approver_user,
        before=before,
    )
    assert access_request.grant_expires_at is None
    assert set(tool_statuses(access_request).values()) == {RequestTool.Status.DENIED}


@pytest.mark.parametrize("as_iterator", [False, True], ids=["list", "iterator"])
def test_approve_tools_outside_the_request_raises_and_changes_nothing(
    access_request, tools, dana, as_iterator
):
    ids = [tools[0].pk, tools[2].pk]  # tools[2] is not part of the request
    with pytest.raises(ValueError, match="not part of this request"):
        request_approve(
            access_request=access_request, actor=dana, tool_ids=iter(ids) if as_iterator else ids
        )
    access_request.refresh_from_db()
    assert access_request.status == Status.PENDING
    assert access_request.decided_at is None
    assert access_request.timeout_at is not None
    assert set(tool_statuses(access_request).values()) == {RequestTool.Status.PENDING}
    assert list(access_request.events.values_list("kind", flat=True)) == ["created", "notified"]


# --- request_deny, request_cancel, request_time_out --------------------------------------


def test_deny_denies_every_tool(access_request, dana, approver_user):
    before = timezone.now()
    request_deny(access_request=access_request, actor=dana, comment="not this quarter")
    event = assert_decided(
        access_request,
        status=Status.DENIED,
        kind=RequestEvent.Kind.DENIED,
        name="Dana Levi",
        channel=Channel.WEB,
        user=approver_user,
        before=before,
    )
    assert access_request.comment == "not this quarter"
    assert access_request.grant_expires_at is None
    assert set(tool_statuses(access_request).values()) == {RequestTool.Status.DENIED}
    assert event.data == {"comment": "not this quarter"}


def test_deny_through_an_email_link_records_the_email_channel(access_request, approver_user):
    before = timezone.now()
    request_deny(access_request=access_request, actor=Actor.for_user(approver_user, Channel.EMAIL))
    assert_decided(
        access_request,
        status=Status.DENIED,
        kind=RequestEvent.Kind.DENIED,
        name="Dana Levi",
        channel=Channel.EMAIL,
        user=approver_user,
        before=before,
    )


@pytest.mark.parametrize(
    ("action", "status", "kind", "tool_status"),
    [
        ("auto_approve", Status.AUTO_APPROVED, "auto_approved", RequestTool.Status.APPROVED),
        ("deny", Status.DENIED, "denied", RequestTool.Status.DENIED),
        ("expire", Status.EXPIRED, "expired", RequestTool.Status.DENIED),
    ],
)
def test_time_out_applies_the_flow_timeout_action(
    access_request, flow, action, status, kind, tool_status
):
    flow.timeout_action = action
    flow.save()
    before = timezone.now()
    request_time_out(access_request=access_request)
    assert_decided(
        access_request,
        status=status,
        kind=kind,
        name="Timeout",
        channel=Channel.TIMEOUT,
        user=None,
        before=before,
    )
    assert set(tool_statuses(access_request).values()) == {tool_status}


def test_time_out_without_a_flow_expires(requester, tools):
    access_request = make_request(requester=requester, tools=tools[:1], flow=None)
    request_time_out(access_request=access_request)
    access_request.refresh_from_db()
    assert access_request.status == Status.EXPIRED
    assert access_request.decided_via == Channel.TIMEOUT


def test_cancel_by_the_gateway(access_request):
    actor = Actor(name="Gateway", channel=Channel.API)
    before = timezone.now()
    request_cancel(access_request=access_request, actor=actor)
    assert_decided(
        access_request,
        status=Status.CANCELLED,
        kind=RequestEvent.Kind.CANCELLED,
        name="Gateway",
        channel=Channel.API,
        user=None,
        before=before,
    )
    assert set(tool_statuses(access_request).values()) == {RequestTool.Status.DENIED}


# --- request_consume ----------------------------------------------------------------------


@pytest.fixture
def gateway() -> Actor:
    return Actor(name="Gateway", channel=Channel.API)


def test_consume_an_approval_once(access_request, dana, gateway):
    request_approve(access_request=access_request, actor=dana)
    before = timezone.now()
    request_consume(access_request=access_request, actor=gateway)
    access_request.refresh_from_db()
    assert before <= access_request.consumed_at <= timezone.now()
    [event] = access_request.events.filter(kind=RequestEvent.Kind.CONSUMED)
    assert event.channel == Channel.API
    assert event.created_at == access_request.consumed_at


def test_consume_twice_raises_on_the_second_call(access_request, dana, gateway):
    request_approve(access_request=access_request, actor=dana)
    request_consume(access_request=access_request, actor=gateway)
    consumed_at = AccessRequest.objects.get(pk=access_request.pk).consumed_at
    with pytest.raises(RequestNotConsumable):
        request_consume(access_request=access_request, actor=gateway)
    assert AccessRequest.objects.get(pk=access_request.pk).consumed_at == consumed_at
    assert access_request.events.filter(kind=RequestEvent.Kind.CONSUMED).count() == 1


def test_consume_an_auto_approval(access_request, gateway):
    request_time_out(access_request=access_request)  # the flow auto-approves
    request_consume(access_request=access_request, actor=gateway)
    access_request.refresh_from_db()
    assert access_request.status == Status.AUTO_APPROVED
    assert access_request.consumed_at is not None


def test_release_gives_a_consumed_approval_back_once(access_request, dana, gateway):
    """The MCP gateway's held call whose client went away: its approval is usable again."""
    request_approve(access_request=access_request, actor=dana)
    consumed = request_consume(access_request=access_request, actor=gateway)
    request_release(access_request=access_request, actor=gateway, consumed_at=consumed.consumed_at)
    request_release(access_request=access_request, actor=gateway, consumed_at=consumed.consumed_at)
    access_request.refresh_from_db()
    assert access_request.consumed_at is None
    assert access_request.events.filter(kind=RequestEvent.Kind.RELEASED).count() == 1
    request_consume(access_request=access_request, actor=gateway)  # the retry's turn


def test_release_leaves_another_calls_consume_alone(access_request, dana, gateway):
    request_approve(access_request=access_request, actor=dana)
    request_consume(access_request=access_request, actor=gateway)
    stale = timezone.now() - timedelta(minutes=1)
    request_release(access_request=access_request, actor=gateway, consumed_at=stale)
    access_request.refresh_from_db()
    assert access_request.consumed_at is not None
    assert not access_request.events.filter(kind=RequestEvent.Kind.RELEASED).exists()


def test_the_execution_is_written_into_the_history(access_request, gateway):
    request_record_execution(access_request=access_request, actor=gateway, took_ms=12, error="boom")
    [event] = access_request.events.filter(kind=RequestEvent.Kind.EXECUTED)
    assert event.message == "Forwarded to the tool's server, which answered an error in 12 ms: boom"
    assert event.data == {"took_ms": 12, "is_error": True}


@pytest.mark.parametrize("decide", ["pending", "deny", "cancel", "expire"])
def test_consume_refuses_a_request_that_is_not_approved(
    access_request, flow, dana, gateway, decide
):
    if decide == "deny":
        request_deny(access_request=access_request, actor=dana)
    elif decide == "cancel":
        request_cancel(access_request=access_request, actor=gateway)
    elif decide == "expire":
        flow.timeout_action = ApprovalFlow.TimeoutAction.EXPIRE
        flow.save()
        request_time_out(access_request=access_request)
    with pytest.raises(RequestNotConsumable):
        request_consume(access_request=access_request, actor=gateway)
    assert AccessRequest.objects.get(pk=access_request.pk).consumed_at is None
    assert not access_request.events.filter(kind=RequestEvent.Kind.CONSUMED).exists()


# --- request_resolve_with_policy -----------------------------------------------------------


def policy_data(connector, action: str, **kwargs) -> PolicyData:
    return PolicyData(name=f"{action} calendar", connector=connector, action=action, **kwargs)


def test_resolve_with_an_allow_policy_saves_it_and_approves(
    access_request, connector, tools, admin, admin_user
):
    before = timezone.now()
    policy, resolved = request_resolve_with_policy(
        access_request=access_request,
        data=policy_data(connector, Policy.Action.ALLOW, all_users=True, tools=tools[:2]),
        actor=admin,
    )
    assert Policy.objects.get() == policy
    assert policy.created_by == admin_user
    assert set(policy.tools.all()) == set(tools[:2])
    assert resolved.pk == access_request.pk
    event = assert_decided(
        access_request,
        status=Status.APPROVED,
        kind=RequestEvent.Kind.APPROVED,
        name="admin",
        channel=Channel.POLICY,
        user=admin_user,
        before=before,
    )
    # The policy decided, and its name is quoted once wherever it is shown.
    assert access_request.comment == "Resolved by the new policy: allow calendar"
    assert event.message == "Approved by the new policy “allow calendar”"
    assert describe_decision(access_request).startswith("Approved by admin via Policy at ")
    assert event.data["approved_tool_ids"] == sorted([tools[0].pk, tools[1].pk])
    assert set(tool_statuses(access_request).values()) == {RequestTool.Status.APPROVED}


def test_resolve_with_a_deny_policy_saves_it_and_denies(
    access_request, connector, requester, admin, admin_user
):
    before = timezone.now()
    policy, _ = request_resolve_with_policy(
        access_request=access_request,
        data=policy_data(connector, Policy.Action.DENY, users=[requester]),
        actor=admin,
    )
    assert list(policy.users.all()) == [requester]
    event = assert_decided(
        access_request,
        status=Status.DENIED,
        kind=RequestEvent.Kind.DENIED,
        name="admin",
        channel=Channel.POLICY,
        user=admin_user,
        before=before,
    )
    assert event.message == "Denied by the new policy “deny calendar”"
    assert access_request.comment == "Resolved by the new policy: deny calendar"


@pytest.mark.parametrize("action", [Policy.Action.STEP_UP, Policy.Action.APPROVAL])
def test_resolve_with_a_non_deciding_policy_saves_it_and_leaves_the_request_pending(
    access_request, connector, flow, admin, action
):
    approval_flow = flow if action == Policy.Action.APPROVAL else None
    policy, _ = request_resolve_with_policy(
        access_request=access_request,
        data=policy_data(connector, action, all_users=True, approval_flow=approval_flow),
        actor=admin,
    )
    assert Policy.objects.get() == policy
    assert policy.action == action
    access_request.refresh_from_db()
    assert access_request.status == Status.PENDING
    assert access_request.timeout_at is not None
    assert decision_events(access_request) == []


def test_resolve_with_policy_on_a_decided_request_saves_no_policy(
    access_request, connector, dana, admin
):
    stale = AccessRequest.objects.get(pk=access_request.pk)
    request_deny(access_request=access_request, actor=dana)
    with pytest.raises(RequestAlreadyDecided) as caught:
        request_resolve_with_policy(
            access_request=stale,
            data=policy_data(connector, Policy.Action.ALLOW, all_users=True),
            actor=admin,
        )
    assert caught.value.access_request.decided_by_name == "Dana Levi"
    assert caught.value.access_request.status == Status.DENIED
    assert not Policy.objects.exists()
    assert len(decision_events(access_request)) == 1


def test_resolve_with_an_invalid_policy_saves_nothing_and_leaves_the_request_pending(
    access_request, admin
):
    other_connector_tool = ToolFactory(connector=ConnectorFactory(slug="slack"))
    with pytest.raises(ValidationError):
        request_resolve_with_policy(
            access_request=access_request,
            data=policy_data(
                access_request.connector,
                Policy.Action.ALLOW,
                all_users=True,
                tools=[other_connector_tool],
            ),
            actor=admin,
        )
    assert not Policy.objects.exists()
    access_request.refresh_from_db()
    assert access_request.status == Status.PENDING


# --- deciding a decided request -----------------------------------------------------------


LOSERS = {
    "approve": lambda r, a: request_approve(access_request=r, actor=a),
    "approve_partial": lambda r, a: request_approve(
        access_request=r, actor=a, tool_ids=[r.tools.first().tool_id]
    ),
    "approve_for_8h": lambda r, a: request_approve(
        access_request=r, actor=a, duration=timedelta(hours=8)
    ),
    "approve_none": lambda r, a: request_approve(access_request=r, actor=a, tool_ids=[]),
    "deny": lambda r, a: request_deny(access_request=r, actor=a, comment="late"),
    "time_out": lambda r, a: request_time_out(access_request=r),
    "cancel": lambda r, a: request_cancel(access_request=r, actor=a),
}


def snapshot(access_request: AccessRequest) -> tuple:
    row = AccessRequest.objects.values().get(pk=access_request.pk)
    return row, tool_statuses(access_request), list(access_request.events.values())


@pytest.mark.parametrize("loser", LOSERS)
def test_deciding_a_decided_request_raises_with_the_winner_and_changes_nothing(
    access_request, dana, admin, loser
):
    stale = AccessRequest.objects.get(pk=access_request.pk)  # loaded while still pending
    request_deny(access_request=access_request, actor=dana, comment="no")
    before = snapshot(access_request)
    with pytest.raises(RequestAlreadyDecided) as caught:
        LOSERS[loser](stale, admin)
    winner = caught.value.access_request
    assert winner.status == Status.DENIED
    assert winner.decided_by_name == "Dana Levi"
    assert str(caught.value).startswith("Denied by Dana Levi via Web at ")
    assert snapshot(access_request) == before


def test_approve_loses_to_earlier_deny_and_the_message_names_who_decided(
    access_request, approver_user, admin
):
    request_deny(access_request=access_request, actor=Actor.for_user(approver_user, Channel.SMS))
    with pytest.raises(RequestAlreadyDecided, match=r"^Denied by Dana Levi via SMS at \d\d \w+"):
        request_approve(access_request=access_request, actor=admin)


def test_deny_loses_to_earlier_timeout_auto_approval(access_request, dana):
    request_time_out(access_request=access_request)
    with pytest.raises(RequestAlreadyDecided) as caught:
        request_deny(access_request=access_request, actor=dana)
    assert caught.value.access_request.status == Status.AUTO_APPROVED
    assert caught.value.access_request.decided_by_name == "Timeout"
    assert str(caught.value).startswith("Auto-approved by Timeout via Timeout at ")
    [event] = decision_events(access_request)
    assert event.kind == RequestEvent.Kind.AUTO_APPROVED


# --- policy_validate / policy_create ------------------------------------------------------


def errors_of(data: PolicyData) -> dict[str, list[str]]:
    with pytest.raises(ValidationError) as caught:
        policy_validate(data)
    return caught.value.message_dict


def test_policy_with_tools_of_another_connector_is_refused(connector, tools):
    slack_tool = ToolFactory(connector=ConnectorFactory(slug="slack"))
    data = policy_data(connector, Policy.Action.ALLOW, all_users=True, tools=[tools[0], slack_tool])
    assert set(errors_of(data)) == {"tools"}
    with pytest.raises(ValidationError):
        policy_create(data=data)
    assert not Policy.objects.exists()


@pytest.mark.parametrize("action", [a for a, _ in Policy.Action.choices])
def test_policy_needs_a_flow_exactly_when_it_requests_approval(connector, flow, action):
    needs_flow = action == Policy.Action.APPROVAL
    wrong = policy_data(
        connector, action, all_users=True, approval_flow=None if needs_flow else flow
    )
    assert set(errors_of(wrong)) == {"approval_flow"}
    right = policy_data(
        connector, action, all_users=True, approval_flow=flow if needs_flow else None
    )
    policy = policy_create(data=right)
    assert policy.approval_flow == (flow if needs_flow else None)


def test_policy_description_is_at_most_160_characters(connector):
    too_long = policy_data(connector, Policy.Action.ALLOW, all_users=True, description="x" * 161)
    assert set(errors_of(too_long)) == {"description"}
    fits = policy_data(connector, Policy.Action.ALLOW, all_users=True, description="x" * 160)
    assert len(policy_create(data=fits).description) == 160


def test_policy_must_cover_somebody(connector):
    assert set(errors_of(policy_data(connector, Policy.Action.ALLOW))) == {"users"}


@pytest.mark.parametrize("cover", ["all_users", "users", "groups"])
def test_policy_covering_all_users_users_or_groups_is_accepted(connector, cover):
    person, group = PersonFactory(), GroupFactory()
    kwargs = {"all_users": {"all_users": True}, "users": {"users": [person]}}.get(
        cover, {"groups": [group]}
    )
    policy = policy_create(data=policy_data(connector, Policy.Action.DENY, **kwargs))
    assert policy.all_users is (cover == "all_users")
    assert list(policy.users.all()) == ([person] if cover == "users" else [])
    assert list(policy.groups.all()) == ([group] if cover == "groups" else [])


def test_policy_for_all_users_drops_the_named_users(connector):
    policy = policy_create(
        data=policy_data(connector, Policy.Action.ALLOW, all_users=True, users=[PersonFactory()])
    )
    assert policy.all_users
    assert not policy.users.exists()


def test_policy_reports_every_broken_rule_at_once(connector, flow):
    data = PolicyData(
        name="  ",
        connector=connector,
        action=Policy.Action.ALLOW,
        description="x" * 200,
        tools=[ToolFactory(connector=ConnectorFactory(slug="slack"))],
        approval_flow=flow,
    )
    assert set(errors_of(data)) == {"name", "description", "tools", "approval_flow", "users"}

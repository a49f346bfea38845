"""`manage.py seed_demo`: the canonical scenario of DESIGN.md §9, generated requests, reruns."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone

from approval_flows.models import ApprovalFlow, ApprovalLevel, Notification
from approval_flows.selectors import flow_ids_for_approver
from connectors.models import Connector, Tool
from directory.models import Group, Person
from policies.evaluation import APPROVAL_REQUIRED, Call, evaluate
from policies.models import Policy
from policies.snapshot import load_snapshot
from requests_app import demo
from requests_app.demo import asks, names
from requests_app.demo.writers import (
    EVENT_COLUMNS,
    NOTIFICATION_COLUMNS,
    REQUEST_COLUMNS,
    TOOL_COLUMNS,
)
from requests_app.models import AccessRequest, Channel, RequestEvent, RequestTool

pytestmark = pytest.mark.django_db


Status = AccessRequest.Status
DECISION_KIND = {
    Status.APPROVED: RequestEvent.Kind.APPROVED,
    Status.DENIED: RequestEvent.Kind.DENIED,
    Status.AUTO_APPROVED: RequestEvent.Kind.AUTO_APPROVED,
    Status.EXPIRED: RequestEvent.Kind.EXPIRED,
    Status.CANCELLED: RequestEvent.Kind.CANCELLED,
}
TOOL_STATUSES = {
    Status.PENDING: {RequestTool.Status.PENDING},
    Status.APPROVED: {RequestTool.Status.APPROVED, RequestTool.Status.DENIED},
    Status.AUTO_APPROVED: {RequestTool.Status.APPROVED},
    Status.DENIED: {RequestTool.Status.DENIED},
    Status.EXPIRED: {RequestTool.Status.DENIED},
    Status.CANCELLED: {RequestTool.Status.DENIED},
}


def seed(requests: int = 0) -> str:
    out, err = StringIO(), StringIO()
    call_command("seed_demo", "--requests", str(requests), stdout=out, stderr=err)
    return out.getvalue()


def generated() -> list[AccessRequest]:
    return list(
        AccessRequest.objects.filter(dedupe_key__startswith=demo.GENERATED_PREFIX)
        .select_related("requester", "connector", "flow", "policy")
        .prefetch_related("tools__tool", "events")
    )


def row_counts() -> dict[str, int]:
    models = (
        Connector, Tool, Group, Person, Group.members.through, ApprovalFlow, ApprovalLevel,
        Policy, Policy.tools.through, Policy.groups.through, get_user_model(), AccessRequest,
        RequestTool, RequestEvent,
    )  # fmt: skip
    return {model._meta.label: model.objects.count() for model in models}


def test_connectors_and_tools_are_the_canonical_ones():
    seed()
    connectors = {c.slug: c for c in Connector.objects.all()}
    assert {slug: (c.name, c.status, c.icon) for slug, c in connectors.items()} == {
        "google-calendar": ("Google Calendar", Connector.Status.CONNECTED, "google-calendar"),
        "github": ("GitHub", Connector.Status.CONNECTED, "github"),
        "slack": ("Slack", Connector.Status.DISCONNECTED, "slack"),
        # Backed by MCP servers: disconnected until a sync reaches them.
        "time": ("Time", Connector.Status.DISCONNECTED, "time"),
        "repo": ("Demo repository", Connector.Status.DISCONNECTED, "repo"),
    }
    tools = dict(
        Tool.objects.filter(connector__slug__in=["google-calendar", "github"]).values_list(
            "key", "access"
        )
    )
    assert tools == {
        "google-calendar_events_list": "read",
        "google-calendar_events_get": "read",
        "google-calendar_events_create": "write",
        "google-calendar_events_update": "write",
        "google-calendar_events_delete": "delete",
        "github_repos_list": "read",
        "github_issues_create": "write",
        "github_repos_delete": "delete",
    }
    assert connectors["slack"].tools.count() >= 2


# mcp-server-git's tools that declare readOnlyHint (its tools/list, read when this was written).
GIT_READS = ("status", "diff_unstaged", "diff_staged", "diff", "log", "show", "branch")


def test_the_mcp_connectors_have_the_servers_tool_names_and_access():
    seed()
    tools = dict(
        Tool.objects.filter(connector__slug__in=["time", "repo"]).values_list("key", "access")
    )
    assert tools == {
        "time_get_current_time": "read",
        "time_convert_time": "read",
        **{f"repo_git_{name}": "read" for name in GIT_READS},
        "repo_git_add": "write",
        "repo_git_commit": "write",
        "repo_git_create_branch": "write",
        "repo_git_checkout": "write",
        "repo_git_reset": "delete",
    }


def test_a_second_seed_keeps_what_a_sync_brought_and_restores_the_rest():
    seed()
    repo = Connector.objects.get(slug="repo")
    status = Tool.objects.get(key="repo_git_status")
    schema = {"type": "object", "properties": {"repo_path": {"type": "string"}}}
    Tool.objects.filter(pk=status.pk).update(
        description="Shows the working tree status (from the server)", input_schema=schema,
        enabled=False,
    )  # fmt: skip
    Connector.objects.filter(pk=repo.pk).update(status=Connector.Status.CONNECTED, name="Renamed")
    first = row_counts()

    seed()

    assert row_counts() == first
    repo.refresh_from_db()
    status.refresh_from_db()
    assert (repo.name, repo.status) == ("Demo repository", Connector.Status.CONNECTED)
    assert (status.description, status.input_schema, status.enabled) == (
        "Shows the working tree status (from the server)", schema, True,
    )  # fmt: skip


def test_people_groups_and_flow_are_the_canonical_ones():
    seed()
    people = {p.email: p for p in Person.objects.filter(email__in=[
        "ana@example.com", "ben@example.com", "dana@example.com", "lee@example.com"])}  # fmt: skip
    assert {e: (p.name, [g.name for g in p.groups.all()]) for e, p in people.items()} == {
        "ana@example.com": ("Ana Lopez", ["Sales"]),
        "ben@example.com": ("Ben Kim", ["Engineering"]),
        "dana@example.com": ("Dana Levi", ["Security"]),
        "lee@example.com": ("Lee Park", ["Sales"]),
    }
    assert people["dana@example.com"].phone
    assert people["lee@example.com"].status == Person.Status.LOCKED
    flow = ApprovalFlow.objects.get(name="Sales approvals")
    assert (flow.channel_email, flow.channel_sms) == (True, True)
    assert (flow.reminder_after, flow.timeout_after) == (timedelta(hours=1), timedelta(hours=24))
    assert flow.timeout_action == ApprovalFlow.TimeoutAction.AUTO_APPROVE
    assert flow.notify_requester
    engineering = ApprovalFlow.objects.get(name="Engineering approvals")
    assert engineering.timeout_action == ApprovalFlow.TimeoutAction.EXPIRE
    for each in (flow, engineering):
        level = each.levels.get()
        assert [g.name for g in level.groups.all()] == ["Security"]
        assert each.pk in flow_ids_for_approver(people["dana@example.com"])


def test_policies_are_the_canonical_ones():
    seed()
    summary = {
        (
            p.connector.slug,
            tuple(sorted(t.key for t in p.tools.all())),
            p.all_users,
            tuple(g.name for g in p.groups.all()),
            p.action,
            p.approval_flow.name if p.approval_flow else None,
        )
        for p in Policy.objects.all()
    }
    cal = "google-calendar_events_"
    assert summary == {
        ("google-calendar", (f"{cal}get", f"{cal}list"), True, (), "allow", None),
        ("google-calendar", (f"{cal}create", f"{cal}update"), False, ("Sales",),
         "approval_required", "Sales approvals"),
        ("google-calendar", (f"{cal}delete",), True, (), "deny", None),
        ("github", (), False, ("Engineering",), "allow", None),
        ("github", ("github_repos_delete",), False, ("Engineering",), "step_up", None),
        ("github", ("github_issues_create", "github_repos_list"), False, ("Sales",),
         "approval_required", "Engineering approvals"),
        ("slack", ("slack_channels_list",), True, (), "allow", None),
        ("slack", ("slack_messages_delete", "slack_messages_send"), False, ("Engineering",),
         "approval_required", "Engineering approvals"),
        ("time", (), True, (), "allow", None),
        ("repo", tuple(sorted(f"repo_git_{t}" for t in GIT_READS)), False, ("Engineering",),
         "allow", None),
        ("repo", ("repo_git_add", "repo_git_commit", "repo_git_create_branch"), False,
         ("Engineering",), "approval_required", "Engineering approvals"),
        ("repo", ("repo_git_checkout", "repo_git_reset"), True, (), "deny", None),
    }  # fmt: skip
    for policy in Policy.objects.all():
        assert policy.name and 0 < len(policy.description) <= 160


DESIGNED_DECISIONS = [
    ("ana@example.com", "google-calendar", "google-calendar_events_list", "allow", None),
    ("ana@example.com", "google-calendar", "google-calendar_events_create", "approval_required",
     None),
    ("ana@example.com", "google-calendar", "google-calendar_events_delete", "deny", None),
    ("ben@example.com", "google-calendar", "google-calendar_events_create", "deny", "no_policy"),
    ("ben@example.com", "github", "github_repos_delete", "step_up", None),
    ("lee@example.com", "google-calendar", "google-calendar_events_list", "deny", "user_locked"),
    ("nobody@example.com", "google-calendar", "google-calendar_events_list", "deny",
     "unknown_user"),
    ("ana@example.com", "time", "time_get_current_time", "allow", None),
    ("ben@example.com", "repo", "repo_git_status", "allow", None),
    ("ben@example.com", "repo", "repo_git_commit", "approval_required", None),
    ("ben@example.com", "repo", "repo_git_reset", "deny", "policy_deny"),
    ("ben@example.com", "repo", "repo_git_checkout", "deny", "policy_deny"),
    ("ana@example.com", "repo", "repo_git_status", "deny", "no_policy"),
]  # fmt: skip


def test_scenario_decides_as_the_design_says():
    seed(requests=50)
    snapshot, now = load_snapshot(), timezone.now()
    for user, connector, tool, decision, reason in DESIGNED_DECISIONS:
        outcome = evaluate(snapshot, Call(user, connector, (tool,)), now=now)
        assert outcome.decision == decision, (user, tool)
        assert reason is None or outcome.reason_code == reason, (user, tool)


def test_logins_admin_and_dana_linked_to_her_person():
    output = seed()
    admin = get_user_model().objects.get(username="admin")
    assert (admin.is_staff, admin.is_superuser, admin.email) == (True, True, "admin@example.com")
    assert admin.check_password("agenwork-demo")
    dana = get_user_model().objects.get(username="dana")
    assert dana.check_password("agenwork-demo")
    assert not dana.is_staff
    assert dana.person.email == "dana@example.com"
    assert "admin / agenwork-demo" in output
    assert "dana / agenwork-demo" in output


def test_rerun_keeps_a_changed_password():
    seed()
    dana = get_user_model().objects.get(username="dana")
    dana.set_password("my-own-secret-42")
    dana.save()
    output = seed()
    dana.refresh_from_db()
    assert dana.check_password("my-own-secret-42")
    assert "password left as it was" in output


def test_hand_written_requests_are_pending_for_ana_through_the_flow():
    seed()
    requests = AccessRequest.objects.filter(requester__email="ana@example.com")
    assert requests.count() >= 2
    for access_request in requests:
        assert access_request.status == Status.PENDING
        assert access_request.flow.name == "Sales approvals"
        assert access_request.policy.action == Policy.Action.APPROVAL
        assert access_request.note and access_request.arguments
        assert access_request.events.filter(kind=RequestEvent.Kind.CREATED).count() == 1
    keys = {t.tool.key for r in requests for t in r.tools.all()}
    assert keys == {"google-calendar_events_create", "google-calendar_events_update"}


def test_running_twice_creates_no_duplicates():
    seed(requests=300)
    first = row_counts()
    seed(requests=300)
    assert row_counts() == first
    assert demo.generated_count() == 300


def test_a_larger_target_adds_only_the_missing_requests():
    seed(requests=100)
    seed(requests=250)
    assert demo.generated_count() == 250
    seed(requests=50)
    assert demo.generated_count() == 250


def test_requests_zero_adds_no_generated_request():
    seed(requests=0)
    assert demo.generated_count() == 0
    assert AccessRequest.objects.exists()


def test_negative_requests_is_refused():
    with pytest.raises(CommandError):
        seed(requests=-1)


def test_generated_requests_are_coherent():
    seed(requests=300)
    rows = generated()
    assert len(rows) == 300
    assert len({r.requester_id for r in rows}) > 100
    assert {(r.connector.slug, r.flow.name) for r in rows} == {
        ("google-calendar", "Sales approvals"),
        ("github", "Engineering approvals"),
        ("slack", "Engineering approvals"),
    }
    statuses = {s: sum(r.status == s for r in rows) for s in Status.values}
    assert all(statuses.values()), statuses
    assert 0.08 <= statuses[Status.PENDING] / 300 <= 0.25
    assert sum(bool(r.note) for r in rows) > 200
    assert sum(r.arguments is not None for r in rows) > 50
    assert_coherent(rows)


def test_every_generated_request_is_one_the_policies_would_create():
    seed(requests=300)
    snapshot, now = load_snapshot(), timezone.now()
    for r in generated():
        keys = tuple(t.tool.key for t in sorted(r.tools.all(), key=lambda t: t.position))
        outcome = evaluate(snapshot, Call(r.requester.email, r.connector.slug, keys), now=now)
        assert outcome.decision == APPROVAL_REQUIRED, (r.requester.email, keys)
        assert [t.decision for t in outcome.tools] == [APPROVAL_REQUIRED] * len(keys)
        assert set(outcome.approval_tool_ids) == {t.tool_id for t in r.tools.all()}
        assert (outcome.approval_flow_id, outcome.approval_policy_id) == (r.flow_id, r.policy_id)
        assert r.requester.status == Person.Status.ACTIVE
        assert r.requester.deactivated_at is None


def test_a_locked_person_is_never_a_generated_requester():
    seed(requests=300)
    locked = Person.objects.filter(status=Person.Status.LOCKED, email__contains=".")
    assert locked.exists()
    assert not AccessRequest.objects.filter(
        dedupe_key__startswith=demo.GENERATED_PREFIX, requester__in=locked
    ).exists()


@pytest.mark.parametrize(
    ("use_copy", "skip_triggers"), [(True, False), (False, None)], ids=["copy-checked", "orm"]
)
def test_every_writer_writes_the_same_shapes(use_copy, skip_triggers):
    scenario = demo.seed_scenario()
    logins = demo.seed_logins(scenario)
    added = demo.generate_requests(
        scenario=scenario,
        logins=logins,
        target=120,
        use_copy=use_copy,
        skip_triggers=skip_triggers,
    )
    assert added == 120
    assert_coherent(generated())


def test_the_approver_sees_every_generated_request():
    seed(requests=60)
    dana = Person.objects.get(email="dana@example.com")
    flows = flow_ids_for_approver(dana)
    assert all(r.flow_id in flows for r in generated())


def test_writer_columns_cover_every_field_without_a_default():
    for model, columns in (
        (AccessRequest, REQUEST_COLUMNS),
        (RequestTool, TOOL_COLUMNS),
        (RequestEvent, EVENT_COLUMNS),
        (Notification, NOTIFICATION_COLUMNS),
    ):
        fields = {f.attname: f for f in model._meta.concrete_fields if f.attname != "id"}
        assert set(columns) - {"id"} <= set(fields)
        # The writers fill a field they do not list with its default, or leave it NULL.
        left_out = [f for name, f in fields.items() if name not in columns]
        assert all(f.null or f.get_default() is not None for f in left_out)


def assert_coherent(rows: list[AccessRequest]) -> None:
    """Every generated request reads as if the gateway and the services had written it."""
    now = timezone.now()
    messages = messages_by_request(rows)
    asks = known_asks()
    for r in rows:
        tools = sorted(r.tools.all(), key=lambda t: t.position)
        assert (r.requester_name, r.requester_identifier) == (r.requester.name, r.requester.email)
        assert r.connector_name == r.connector.name
        assert r.first_tool_key == tools[0].tool.key
        assert r.tool_count == len(tools) and 1 <= len(tools) <= 4
        assert {t.tool.connector_id for t in tools} == {r.connector_id}
        assert r.policy.action == Policy.Action.APPROVAL
        assert (r.policy.connector_id, r.policy.approval_flow_id) == (r.connector_id, r.flow_id)
        assert now - timedelta(days=91) <= r.requested_at <= now
        assert {t.status for t in tools} <= TOOL_STATUSES[r.status]
        assert_note_matches(r, [t.tool.key for t in tools], asks)
        events = sorted(r.events.all(), key=lambda e: (e.created_at, e.pk))
        assert_events(r, tools, events, now)
        assert_messages(r, events, messages.get(r.public_id, []))


def assert_events(r: AccessRequest, tools: list[RequestTool], events, now) -> None:
    assert [e.kind for e in events[:2]] == [RequestEvent.Kind.CREATED, RequestEvent.Kind.NOTIFIED]
    assert events[0].created_at == r.requested_at
    reminders = [e for e in events if e.kind == RequestEvent.Kind.REMINDED]
    assert r.reminders_sent == len(reminders) <= 1
    flow = r.flow
    decisions = [e for e in events if e.kind in DECISION_KIND.values()]
    if r.status == Status.PENDING:
        assert decisions == [] and r.decided_at is None and not r.decided_by_name
        assert r.timeout_at == r.requested_at + flow.timeout_after and r.timeout_at > now
        due = r.requested_at + flow.reminder_after
        assert r.next_reminder_at == (None if reminders else due)
        assert (due <= now) == bool(reminders)
        return
    assert [e.kind for e in decisions] == [DECISION_KIND[r.status]]
    assert events[-1] == decisions[0], "nothing happens after the decision"
    event = decisions[0]
    assert r.requested_at < r.decided_at <= now
    assert (event.created_at, event.actor_name, event.channel, event.actor_id) == (
        r.decided_at, r.decided_by_name, r.decided_via, r.decided_by_id
    )  # fmt: skip
    assert r.timeout_at is None and r.next_reminder_at is None
    assert bool(reminders) == (r.requested_at + flow.reminder_after < r.decided_at)
    assert_decider(r, event, tools)


def assert_decider(r: AccessRequest, event: RequestEvent, tools: list[RequestTool]) -> None:
    """Who decided, by which channel and when agrees with the flow and the request's status."""
    flow = r.flow
    if r.decided_via == Channel.TIMEOUT:
        outcome = {"auto_approve": Status.AUTO_APPROVED, "expire": Status.EXPIRED}
        assert r.status == outcome[flow.timeout_action]
        assert r.decided_at == r.requested_at + flow.timeout_after
    elif r.status == Status.CANCELLED:
        assert (r.decided_via, r.decided_by_id) == (Channel.API, None)
    else:
        assert r.status in (Status.APPROVED, Status.DENIED)
        assert r.decided_at < r.requested_at + flow.timeout_after
        # A console decision carries its login; a link or an SMS reply only the person's name.
        assert (r.decided_by_id is not None) == (r.decided_via == Channel.WEB)
        assert r.decided_via != Channel.SMS or flow.channel_sms
        assert r.decided_via in (Channel.WEB, Channel.EMAIL, Channel.SMS)
    if r.status in (Status.APPROVED, Status.DENIED):
        # How long the approver looked: known, and no longer than the request waited.
        waited_ms = (r.decided_at - r.requested_at).total_seconds() * 1000
        assert 0 <= event.response_ms <= waited_ms
    else:
        assert event.response_ms is None
    if r.status == Status.APPROVED:
        approved = sorted(t.tool_id for t in tools if t.status == RequestTool.Status.APPROVED)
        assert approved and event.data["approved_tool_ids"] == approved
        assert (r.grant_expires_at is None) == event.message.endswith(" once")


def messages_by_request(rows: list[AccessRequest]) -> dict:
    found: dict = {}
    ids = [r.public_id for r in rows]
    for message in Notification.objects.filter(request_public_id__in=ids).order_by("id"):
        found.setdefault(message.request_public_id, []).append(message)
    return found


def assert_messages(r: AccessRequest, events: list[RequestEvent], messages) -> None:
    """The outbox holds what the history says was queued, and nothing else."""
    Occasion = Notification.Occasion
    by_occasion: dict = {}
    for message in messages:
        assert message.status == Notification.Status.SENT and message.sent_at
        by_occasion.setdefault((message.occasion, message.sequence), []).append(message)
    notified = [e for e in events if e.kind == RequestEvent.Kind.NOTIFIED]
    asked = by_occasion.pop((Occasion.NEW_REQUEST, 0))
    assert [e.data["queued"] for e in notified] == [len(asked)]
    dana = {("dana@example.com", "email"), ("+15550100", "sms")}
    expected = dana if r.flow.channel_sms else {("dana@example.com", "email")}
    assert {(m.address, m.channel) for m in asked} == expected
    assert {m.created_at for m in asked} == {r.requested_at}
    for event in (e for e in events if e.kind == RequestEvent.Kind.REMINDED):
        reminded = by_occasion.pop((Occasion.REMINDER, event.data["sequence"]))
        assert event.data["queued"] == len(reminded)
        assert {m.created_at for m in reminded} == {event.created_at}
    elsewhere = by_occasion.pop((Occasion.DECIDED_ELSEWHERE, 0), [])
    outcome = by_occasion.pop((Occasion.OUTCOME, 0), [])
    assert by_occasion == {}, "a message the history does not account for"
    if r.status == Status.PENDING:
        assert elsewhere == [] and outcome == []
        return
    by_dana = r.decided_by_name == "Dana Levi"
    assert {(m.address, m.channel) for m in elsewhere} == (set() if by_dana else expected)
    told = r.flow.notify_requester and r.status != Status.CANCELLED
    assert [m.address for m in outcome] == ([r.requester.email] if told else [])
    assert {m.created_at for m in elsewhere + outcome} <= {r.decided_at}


def known_asks() -> dict[str, tuple[str, ...]]:
    """Every note the generator may write, with the tools it asks for."""
    notes = {}
    for slug in asks.TEMPLATES:
        keys = frozenset(key for t in asks.TEMPLATES[slug] for key in t.tools)
        notes.update({ask.note: ask.template.tools for ask in asks.asks_for(slug, keys)})
    return notes


def plain(text: str) -> str:
    return "".join(ch for ch in text.lower() if ch.isalnum())


def assert_note_matches(r: AccessRequest, keys: list[str], notes: dict) -> None:
    """The note asks for the request's tools, and the arguments are about what the note names."""
    if r.note:
        assert notes[r.note] == tuple(keys), (r.note, keys)
    if r.arguments is None:
        return
    if len(keys) > 1:
        assert set(r.arguments) == set(keys)
    text = plain(json.dumps(r.arguments, ensure_ascii=False))
    for name in (*names.CUSTOMERS, *names.REPOS, *names.CHANNELS):
        if r.note and name in r.note:
            assert plain(name) in text, (r.note, r.arguments)
    days = {day for day in asks.DAYS if day in r.note}
    starts = {
        datetime.fromisoformat(value["start"]["dateTime"]).strftime("%A")
        for value in ([r.arguments] if len(keys) == 1 else r.arguments.values())
        if "start" in value
    }
    assert not days or days <= starts, (r.note, r.arguments)
    assert all(
        r.requested_at.date() < datetime.fromisoformat(value["start"]["dateTime"]).date()
        for value in ([r.arguments] if len(keys) == 1 else r.arguments.values())
        if "start" in value and "eventId" not in value
    ), "a new meeting is booked after the request asks for it"


def test_a_second_run_waits_for_the_first():
    other = connection.copy()
    try:
        with demo.seed_lock(), other.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s)", [demo.LOCK_KEY])
            assert cursor.fetchone()[0] is False
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s)", [demo.LOCK_KEY])
            assert cursor.fetchone()[0] is True
            cursor.execute("SELECT pg_advisory_unlock(%s)", [demo.LOCK_KEY])
    finally:
        other.close()

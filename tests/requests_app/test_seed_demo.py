"""`manage.py seed_demo`: the canonical scenario of DESIGN.md §9, generated requests, reruns."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone

from approval_flows.models import ApprovalFlow, ApprovalLevel
from approval_flows.selectors import flow_ids_for_approver
from connectors.models import Connector, Tool
from directory.models import Group, Person
from policies.evaluation import Call, evaluate
from policies.models import Policy
from policies.snapshot import load_snapshot
from requests_app import demo
from requests_app.demo.writers import EVENT_COLUMNS, REQUEST_COLUMNS, TOOL_COLUMNS
from requests_app.models import AccessRequest, RequestEvent, RequestTool

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


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
    level = flow.levels.get()
    assert [g.name for g in level.groups.all()] == ["Security"]
    assert flow.pk in flow_ids_for_approver(people["dana@example.com"])


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
    assert {r.connector.slug for r in rows} == {"google-calendar", "github", "slack"}
    statuses = {s: sum(r.status == s for r in rows) for s in Status.values}
    assert all(statuses.values()), statuses
    assert 0.08 <= statuses[Status.PENDING] / 300 <= 0.25
    assert sum(bool(r.note) for r in rows) > 200
    assert_coherent(rows)


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
    ):
        fields = {f.attname: f for f in model._meta.concrete_fields if f.attname != "id"}
        assert set(columns) - {"id"} <= set(fields)
        # The writers fill a field they do not list with its default, or leave it NULL.
        left_out = [f for name, f in fields.items() if name not in columns]
        assert all(f.null or f.get_default() is not None for f in left_out)


def assert_coherent(rows: list[AccessRequest]) -> None:
    """Every generated request reads as if the services had written it."""
    now = timezone.now()
    approval_policy = Policy.objects.get(action=Policy.Action.APPROVAL)
    for r in rows:
        tools = sorted(r.tools.all(), key=lambda t: t.position)
        assert (r.requester_name, r.requester_identifier) == (r.requester.name, r.requester.email)
        assert r.connector_name == r.connector.name
        assert r.first_tool_key == tools[0].tool.key
        assert r.tool_count == len(tools) and 1 <= len(tools) <= 4
        assert {t.tool.connector_id for t in tools} == {r.connector_id}
        assert r.flow.name == "Sales approvals"
        expected_policy = (
            approval_policy if r.connector_id == approval_policy.connector_id else None
        )
        assert r.policy == expected_policy
        assert now - timedelta(days=91) <= r.requested_at <= now
        assert {t.status for t in tools} <= TOOL_STATUSES[r.status]
        assert_events(r, tools, now)


def assert_events(r: AccessRequest, tools: list[RequestTool], now) -> None:
    events = sorted(r.events.all(), key=lambda e: (e.created_at, e.pk))
    assert events[0].kind == RequestEvent.Kind.CREATED
    assert events[0].created_at == r.requested_at
    decisions = [e for e in events if e.kind in DECISION_KIND.values()]
    if r.status == Status.PENDING:
        assert decisions == [] and r.decided_at is None and not r.decided_by_name
        assert r.timeout_at == r.requested_at + timedelta(hours=24) and r.timeout_at > now
        return
    assert [e.kind for e in decisions] == [DECISION_KIND[r.status]]
    event = decisions[0]
    assert r.requested_at < r.decided_at <= now
    assert (event.created_at, event.actor_name, event.channel, event.actor_id) == (
        r.decided_at, r.decided_by_name, r.decided_via, r.decided_by_id
    )  # fmt: skip
    assert r.timeout_at is None and r.next_reminder_at is None
    if r.status in (Status.APPROVED, Status.DENIED):
        assert r.decided_by_id is not None
        # How long the approver looked: known, and no longer than the request waited.
        waited_ms = (r.decided_at - r.requested_at).total_seconds() * 1000
        assert 0 <= event.response_ms <= waited_ms
    else:
        assert event.response_ms is None
    if r.status == Status.APPROVED:
        approved = sorted(t.tool_id for t in tools if t.status == RequestTool.Status.APPROVED)
        assert approved and event.data["approved_tool_ids"] == approved


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

"""Loading the policy snapshot from PostgreSQL, caching it per process, and rebuilding it."""

from __future__ import annotations

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from directory.models import Person
from policies.evaluation import APPROVAL_REQUIRED, DENY, Call, evaluate
from policies.models import Policy, PolicySnapshotVersion
from policies.snapshot import (
    bump_snapshot_version,
    clear_snapshot_cache,
    current_snapshot,
    load_snapshot,
    snapshot_change_pending,
    stored_snapshot_version,
)
from tests.factories import (
    ApprovalFlowFactory,
    ConnectorFactory,
    GroupFactory,
    PersonFactory,
    PolicyFactory,
    ToolFactory,
)

pytestmark = pytest.mark.django_db

# The version, the people and their memberships, connectors and tools, policies and their
# tools, users and groups: nine queries inside a transaction (the test's own).
LOAD_QUERIES = 9


@pytest.fixture(autouse=True)
def _fresh_cache():
    clear_snapshot_cache()
    yield
    clear_snapshot_cache()


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """Run the on_commit version bumps, as a real commit would."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


@pytest.fixture
def world(committed):
    with committed():
        sales = GroupFactory(name="Sales")
        ana = PersonFactory(email="Ana@Example.com", external_id="00u-ana")
        ana.groups.add(sales)
        calendar = ConnectorFactory(slug="google-calendar", name="Google Calendar")
        create = ToolFactory(connector=calendar, key="google-calendar_events_create")
        flow = ApprovalFlowFactory(name="Sales approvals")
        policy = PolicyFactory(
            connector=calendar,
            all_users=False,
            action=Policy.Action.APPROVAL,
            approval_flow=flow,
        )
        policy.tools.add(create)
        policy.groups.add(sales)
    return {"sales": sales, "ana": ana, "calendar": calendar, "create": create, "policy": policy}


def ana_creates_event(snapshot):
    call = Call("ana@example.com", "google-calendar", ("google-calendar_events_create",))
    return evaluate(snapshot, call, now=timezone.now())


def test_migration_creates_the_version_row():
    assert PolicySnapshotVersion.objects.filter(pk=1).exists()
    assert stored_snapshot_version() >= 1


def test_load_snapshot_reflects_the_rows(world):
    snapshot = load_snapshot()
    ana = snapshot.people_by_email["ana@example.com"]
    assert ana.id == world["ana"].id and not ana.locked
    assert ana.group_ids == frozenset({world["sales"].id})
    assert snapshot.people_by_external_id["00u-ana"] is ana
    calendar = snapshot.connectors_by_slug["google-calendar"]
    assert calendar.tools_by_key["google-calendar_events_create"].id == world["create"].id
    (rule,) = snapshot.policies_by_connector[world["calendar"].id]
    assert rule.tool_ids == frozenset({world["create"].id})
    assert rule.group_ids == frozenset({world["sales"].id})
    assert (rule.action, rule.flow_id) == (APPROVAL_REQUIRED, world["policy"].approval_flow_id)


def test_loaded_snapshot_decides_like_the_demo(world):
    decision = ana_creates_event(load_snapshot())
    assert decision.decision == APPROVAL_REQUIRED
    assert decision.approval_policy_id == world["policy"].id


def test_disabled_policies_are_left_out(world, committed):
    with committed():
        PolicyFactory(connector=world["calendar"], action=Policy.Action.DENY, enabled=False)
    rules = load_snapshot().policies_by_connector[world["calendar"].id]
    assert [rule.id for rule in rules] == [world["policy"].id]


def test_disabled_tool_and_connector_are_loaded_with_their_state(world, committed):
    with committed():
        ToolFactory(connector=world["calendar"], key="google-calendar_events_delete", enabled=False)
        ConnectorFactory(slug="slack", enabled=False)
    snapshot = load_snapshot()
    calendar_tools = snapshot.connectors_by_slug["google-calendar"].tools_by_key
    assert not calendar_tools["google-calendar_events_delete"].enabled
    assert not snapshot.connectors_by_slug["slack"].enabled


def _make_policies(count: int) -> None:
    connector = ConnectorFactory()
    tools = [ToolFactory(connector=connector) for _ in range(3)]
    group = GroupFactory()
    for index in range(count):
        person = PersonFactory()
        person.groups.add(group)
        policy = PolicyFactory(connector=connector, all_users=index % 2 == 0)
        policy.tools.add(*tools[: index % 3])
        policy.users.add(person)
        policy.groups.add(group)


def _load_queries() -> int:
    with CaptureQueriesContext(connection) as queries:
        load_snapshot()
    return len(queries)


def test_load_snapshot_query_count_does_not_grow_with_rows(committed):
    with committed():
        _make_policies(5)
    few = _load_queries()
    with committed():
        _make_policies(45)
    many = _load_queries()
    assert few == many == LOAD_QUERIES


def test_current_snapshot_costs_one_query_while_nothing_changes(world):
    first = current_snapshot()
    with CaptureQueriesContext(connection) as queries:
        again = current_snapshot()
    assert again is first
    assert len(queries) == 1


def test_current_snapshot_reloads_after_a_policy_change(world, committed):
    first = current_snapshot()
    with committed():
        world["policy"].action = Policy.Action.DENY
        world["policy"].approval_flow = None
        world["policy"].save()
    second = current_snapshot()
    assert second.version > first.version
    assert ana_creates_event(second).decision == DENY


def test_current_snapshot_reloads_after_a_policy_tool_change(world, committed):
    current_snapshot()
    with committed():
        world["policy"].tools.clear()
    (rule,) = current_snapshot().policies_by_connector[world["calendar"].id]
    assert rule.tool_ids == frozenset()


def test_current_snapshot_reloads_after_a_membership_change(world, committed):
    current_snapshot()
    with committed():
        world["ana"].groups.remove(world["sales"])
    assert ana_creates_event(current_snapshot()).reason_code == "no_policy"


def test_current_snapshot_reloads_after_a_person_is_locked(world, committed):
    current_snapshot()
    with committed():
        world["ana"].status = Person.Status.LOCKED
        world["ana"].save()
    assert ana_creates_event(current_snapshot()).reason_code == "user_locked"


def test_one_transaction_bumps_the_version_once(world, django_capture_on_commit_callbacks):
    before = stored_snapshot_version()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        person = PersonFactory()
        person.groups.add(world["sales"])
        world["policy"].users.add(person)
    assert len(callbacks) == 1
    assert stored_snapshot_version() == before + 1


def test_uncommitted_changes_are_seen_by_their_transaction_but_never_cached(world):
    cached = current_snapshot()
    with pytest.raises(RuntimeError), transaction.atomic():
        world["ana"].status = Person.Status.LOCKED
        world["ana"].save()
        assert snapshot_change_pending()
        assert ana_creates_event(current_snapshot()).reason_code == "user_locked"
        raise RuntimeError("roll back")
    assert not snapshot_change_pending()
    assert current_snapshot() is cached
    assert ana_creates_event(current_snapshot()).decision == APPROVAL_REQUIRED


def test_bump_recreates_a_missing_version_row():
    PolicySnapshotVersion.objects.all().delete()
    assert stored_snapshot_version() == 0
    bump_snapshot_version()
    bump_snapshot_version()
    assert stored_snapshot_version() == 2


@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_the_load_reads_one_repeatable_view():
    before = stored_snapshot_version()
    connector = ConnectorFactory(slug="github")  # autocommit: each save bumps at once
    assert stored_snapshot_version() == before + 1
    PolicyFactory(connector=connector)
    assert stored_snapshot_version() == before + 2
    with CaptureQueriesContext(connection) as queries:
        first = current_snapshot()
    sql = [query["sql"] for query in queries]
    # The version check, then BEGIN, SET TRANSACTION, the nine reads and COMMIT.
    assert sql[1:3] == ["BEGIN", "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY"]
    assert sum(q.startswith("SELECT") for q in sql) == 1 + LOAD_QUERIES
    assert sql[-1] == "COMMIT"
    with CaptureQueriesContext(connection) as queries:
        assert current_snapshot() is first
    assert len(queries) == 1

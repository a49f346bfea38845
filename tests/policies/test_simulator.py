"""The simulator: "Test a call" on the Policies page and "What would change" on the policy form."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from audit.models import AuditEntry
from connectors.models import Connector
from policies import selectors, simulator
from policies.evaluation import (
    ConnectorInfo,
    PersonInfo,
    PolicyRule,
    Snapshot,
    ToolInfo,
)
from policies.models import DecisionLog, Policy
from policies.simulator import LoggedCall, draft_rule, new_rule_id, replay, snapshot_with
from requests_app.demo.scenario import seed_scenario
from requests_app.models import AccessRequest

NOW = datetime(2026, 3, 5, 12, 0, tzinfo=UTC)
HTMX = {"HTTP_HX_REQUEST": "true"}
SIMULATE = "/policies/simulate/"
PREVIEW = "/policies/preview/"

# --- the pure replay ------------------------------------------------------------------------------

ANA = PersonInfo(1, "ana@example.com", None, False, frozenset({10}))
BEN = PersonInfo(2, "ben@example.com", None, False, frozenset({20}))
LIST, CREATE = ToolInfo(101, "cal_list", True, "read"), ToolInfo(102, "cal_create", True, "write")
REPOS = ToolInfo(201, "gh_repos", True, "read")
CALENDAR = ConnectorInfo(1, "calendar", "Calendar", True, {"cal_list": LIST, "cal_create": CREATE})
GITHUB = ConnectorInfo(2, "github", "GitHub", True, {"gh_repos": REPOS})


def rule(
    rule_id: int, connector: int, action: str, *, tools=(), users=(), groups=(), everyone=False
):
    return PolicyRule(
        id=rule_id,
        name=f"Rule {rule_id}",
        connector_id=connector,
        tool_ids=frozenset(tools),
        all_users=everyone,
        user_ids=frozenset(users),
        group_ids=frozenset(groups),
        action=action,
    )


READ_FOR_ALL = rule(1, 1, "allow", tools=[LIST.id], everyone=True)
SALES_CREATE = rule(2, 1, "approval_required", tools=[CREATE.id], groups=[10])
ENG_GITHUB = rule(3, 2, "allow", groups=[20])


def make_snapshot(*rules: PolicyRule) -> Snapshot:
    by_connector: dict[int, tuple[PolicyRule, ...]] = {}
    for r in rules:
        by_connector[r.connector_id] = (*by_connector.get(r.connector_id, ()), r)
    return Snapshot(
        version=7,
        people_by_email={p.email: p for p in (ANA, BEN)},
        people_by_external_id={},
        connectors_by_slug={c.slug: c for c in (CALENDAR, GITHUB)},
        policies_by_connector=by_connector,
    )


BASE = make_snapshot(READ_FOR_ALL, SALES_CREATE, ENG_GITHUB)


def call(user: str, connector: str, *tools: str, minutes_ago: int = 0) -> LoggedCall:
    return LoggedCall(user, connector, tools, "allow", NOW - timedelta(minutes=minutes_ago))


def test_snapshot_with_adds_a_draft_and_rebuilds_the_index():
    draft = rule(9, 1, "deny", tools=[LIST.id], everyone=True)
    changed = snapshot_with(BASE, draft)
    assert changed.policies_by_connector[1] == (READ_FOR_ALL, SALES_CREATE, draft)
    assert changed.index[1].rules_by_id[9] is draft
    assert changed.version == BASE.version
    assert 9 not in BASE.index[1].rules_by_id, "the current snapshot is left alone"


def test_snapshot_with_replaces_a_policy_even_on_another_connector():
    moved = rule(1, 2, "deny", everyone=True)
    changed = snapshot_with(BASE, moved, replaced_id=1)
    assert changed.policies_by_connector[1] == (SALES_CREATE,)
    assert changed.policies_by_connector[2] == (ENG_GITHUB, moved)


def test_snapshot_without_a_draft_removes_the_replaced_policy():
    changed = snapshot_with(BASE, None, replaced_id=3)
    assert 2 not in changed.policies_by_connector
    assert 2 not in changed.index


def test_replay_counts_the_calls_a_deny_draft_flips():
    draft = rule(new_rule_id(BASE), 1, "deny", tools=[LIST.id], users=[ANA.id])
    calls = [call("ana@example.com", "calendar", "cal_list", minutes_ago=i) for i in range(7)]
    calls += [call("ben@example.com", "calendar", "cal_list")] * 3  # Ben is not in the draft
    calls += [call("ben@example.com", "github", "gh_repos")] * 2
    result = replay(BASE, draft, calls, now=NOW)
    assert result.total == 12
    assert result.flipped == 7
    assert result.flips() == [("allow", "deny", 7)]
    assert result.transitions == {("allow", "deny"): 7, ("allow", "allow"): 5}
    assert len(result.examples) == simulator.EXAMPLES
    assert [e.call for e in result.examples] == calls[: simulator.EXAMPLES]
    assert not result.capped


def test_replay_of_an_edit_compares_the_draft_with_the_saved_policy():
    # Sales' approval becomes an allow: approval_required → allow; list calls stay allowed.
    draft = rule(2, 1, "allow", tools=[CREATE.id], groups=[10])
    calls = [call("ana@example.com", "calendar", "cal_create", "cal_list")] * 4
    result = replay(BASE, draft, calls, now=NOW, replaced_id=2)
    assert result.flips() == [("approval_required", "allow", 4)]


def test_replay_without_a_draft_shows_what_deleting_a_policy_changes():
    calls = [call("ben@example.com", "github", "gh_repos")] * 2
    calls += [call("ana@example.com", "calendar", "cal_list")]
    result = replay(BASE, None, calls, now=NOW, replaced_id=3)
    assert result.flips() == [("allow", "deny", 2)]
    assert result.total == 3


def test_replay_sorts_flips_by_count():
    draft = rule(9, 1, "step_up", everyone=True)
    calls = [call("ana@example.com", "calendar", "cal_list")] * 2
    calls += [call("ben@example.com", "calendar", "cal_create")] * 5  # no policy matched before
    calls += [call("ana@example.com", "calendar", "cal_create")] * 3  # approval outranks step-up
    calls += [call("ben@example.com", "calendar", "cal_list")] * 4
    result = replay(BASE, draft, calls, now=NOW)
    assert result.flips() == [("allow", "step_up", 6), ("deny", "step_up", 5)]
    assert result.total == 14


def test_replay_skips_calls_naming_what_no_longer_exists():
    calls = [
        call("ana@example.com", "calendar", "cal_gone"),
        call("ana@example.com", "jira", "jira_list"),
        call("nobody@example.com", "calendar", "cal_list"),  # an unknown user is a decision
    ]
    result = replay(BASE, rule(9, 1, "deny", everyone=True), calls, now=NOW)
    assert (result.total, result.skipped) == (1, 2)
    assert result.flipped == 0


def test_replay_stops_at_the_limit_and_says_so():
    calls = [call("ana@example.com", "calendar", "cal_list")] * 5
    draft = rule(9, 1, "deny", everyone=True)
    assert replay(BASE, draft, calls, now=NOW, limit=5).capped is False
    capped = replay(BASE, draft, iter(calls), now=NOW, limit=3)
    assert capped.capped
    assert capped.total == 3


def test_replay_evaluates_each_distinct_call_once(monkeypatch):
    seen: list[object] = []
    real = simulator.evaluate

    def counting(snapshot, call, **kwargs):
        seen.append(call)
        return real(snapshot, call, **kwargs)

    monkeypatch.setattr(simulator, "evaluate", counting)
    calls = [call("ana@example.com", "calendar", "cal_list", minutes_ago=i) for i in range(50)]
    calls += [call("ben@example.com", "calendar", "cal_list")] * 50
    result = replay(BASE, rule(9, 1, "deny", everyone=True), calls, now=NOW)
    assert result.flipped == 100
    assert len(seen) == 4  # two distinct calls, each before and after


@dataclass
class Named:
    pk: int
    slug: str = ""


@dataclass
class Draft:
    name: str
    connector: Named
    action: str
    tools: list[Named] = field(default_factory=list)
    all_users: bool = False
    users: list[Named] = field(default_factory=list)
    groups: list[Named] = field(default_factory=list)
    approval_flow: Named | None = None


def test_draft_rule_takes_the_ids_of_the_form_data():
    data = Draft(
        "Draft",
        Named(1),
        "approval_required",
        tools=[Named(101)],
        users=[Named(1)],
        groups=[Named(10)],
        approval_flow=Named(5),
    )
    assert draft_rule(data, rule_id=42) == PolicyRule(
        42, "Draft", 1, frozenset({101}), False, frozenset({1}), frozenset({10}),
        "approval_required", 5,
    )  # fmt: skip
    everyone = Draft("All", Named(1), "allow", all_users=True, users=[Named(1)])
    assert draft_rule(everyone, rule_id=1).user_ids == frozenset()


def test_new_rule_id_is_above_every_policy():
    assert new_rule_id(BASE) == 4
    assert new_rule_id(make_snapshot()) == 1


# --- the views, on the demo scenario --------------------------------------------------------------


@pytest.fixture
def demo(db):
    return seed_scenario()


def html(response) -> str:
    return response.content.decode()


def simulate(client, user: str, connector: str, *tools: str, **headers):
    return client.get(SIMULATE, {"user": user, "connector": connector, "tools": tools}, **headers)


def overall(response) -> tuple[str, str]:
    body = html(response)
    badge = re.search(r'class="badge fs-6 action-([a-z_]+) overall-decision"', body)
    code = re.search(r'<code class="reason-code">([a-z_]+)</code>', body)
    return badge.group(1), code.group(1)


CALENDAR_SLUG = "google-calendar"


@pytest.mark.parametrize(
    ("user", "connector", "tool", "decision", "reason"),
    [
        ("ana@example.com", CALENDAR_SLUG, "google-calendar_events_list", "allow", "allowed"),
        ("ana@example.com", CALENDAR_SLUG, "google-calendar_events_create", "approval_required",
         "approval_required"),
        ("ana@example.com", CALENDAR_SLUG, "google-calendar_events_delete", "deny", "policy_deny"),
        ("ben@example.com", CALENDAR_SLUG, "google-calendar_events_create", "deny", "no_policy"),
        ("ben@example.com", "github", "github_repos_delete", "step_up", "step_up_required"),
        ("lee@example.com", CALENDAR_SLUG, "google-calendar_events_list", "deny", "user_locked"),
        ("nobody@example.com", CALENDAR_SLUG, "google-calendar_events_list", "deny",
         "unknown_user"),
    ],
)  # fmt: skip
def test_simulator_decides_the_demo_scenario(
    admin_client, demo, user, connector, tool, decision, reason
):
    response = simulate(admin_client, user, connector, tool, **HTMX)
    assert response.status_code == 200
    assert "<html" not in html(response)
    assert overall(response) == (decision, reason)


def test_simulator_explains_each_tool_with_the_policy_that_won(admin_client, demo):
    response = simulate(
        admin_client,
        "ana@example.com",
        CALENDAR_SLUG,
        "google-calendar_events_list",
        "google-calendar_events_create",
    )
    body = html(response)
    assert overall(response) == ("approval_required", "approval_required")
    assert (
        "google-calendar_events_create of Google Calendar needs an approval "
        "(policy &quot;Sales calendar changes need approval&quot;)."
    ) in body
    rows = dict(re.findall(r'<tr data-tool="([^"]+)">(.*?)</tr>', body, re.S))
    create = rows["google-calendar_events_create"]
    assert "badge action-approval_required" in create
    assert '<td class="winner">Sales calendar changes need approval</td>' in create
    listed = rows["google-calendar_events_list"]
    assert "badge action-allow" in listed
    assert '<td class="winner">Everyone may read calendars</td>' in listed


def test_simulator_lists_every_matching_policy(admin_client, demo):
    body = html(simulate(admin_client, "ben@example.com", "github", "github_repos_delete"))
    matched = re.search(r'<td class="matched">(.*?)</td>', body, re.S).group(1)
    assert "Engineering uses GitHub" in matched
    assert "Step up to delete a repository" in matched
    assert re.search(r'<td class="winner">Step up to delete a repository</td>', body)


def test_simulator_opened_directly_is_a_page(admin_client, demo):
    response = simulate(
        admin_client, "ana@example.com", CALENDAR_SLUG, "google-calendar_events_list"
    )
    assert "<html" in html(response)
    assert overall(response) == ("allow", "allowed")


def test_simulator_changes_nothing(admin_client, demo):
    def rows() -> tuple[int, ...]:
        return tuple(m.objects.count() for m in (DecisionLog, AccessRequest, AuditEntry, Policy))

    before = rows()
    simulate(admin_client, "ana@example.com", CALENDAR_SLUG, "google-calendar_events_create")
    assert rows() == before


@pytest.mark.parametrize(
    ("connector", "tool", "error"),
    [
        ("jira", "jira_issues_list", "Select a valid choice. jira is not one of the available"),
        (CALENDAR_SLUG, "github_repos_list", "Select a valid choice. github_repos_list is not"),
        (CALENDAR_SLUG, None, "This field is required."),
    ],
)
def test_simulator_unknown_connector_or_tool_is_a_form_error(
    admin_client, demo, connector, tool, error
):
    tools = (tool,) if tool else ()
    response = simulate(admin_client, "ana@example.com", connector, *tools, **HTMX)
    assert response.status_code == 400
    body = html(response)
    assert error in body
    assert "overall-decision" not in body


def test_simulator_form_starts_empty(admin_client, demo):
    response = admin_client.get(SIMULATE, **HTMX)
    assert response.status_code == 200
    body = html(response)
    assert "Test a call" in body
    assert "field-error" not in body
    assert "overall-decision" not in body
    # "Demo repository" comes first by name: its tools are offered.
    assert 'value="repo_git_status"' in body and "github_repos" not in body


def test_changing_the_connector_offers_its_tools_without_errors(admin_client, demo):
    params = {"user": "ana@example.com", "connector": CALENDAR_SLUG, "refresh": "1"}
    body = html(admin_client.get(SIMULATE, params, **HTMX))
    assert 'value="google-calendar_events_delete"' in body
    assert "github_repos" not in body
    assert 'value="ana@example.com"' in body
    assert "field-error" not in body
    assert "overall-decision" not in body


# --- What would change ----------------------------------------------------------------------------


def log_calls(user: str, connector: str, tools: list[str], *, n: int, days_ago: float = 1):
    at = timezone.now() - timedelta(days=days_ago)
    connector_id = Connector.objects.filter(slug=connector).values_list("pk", flat=True).first()
    DecisionLog.objects.bulk_create(
        DecisionLog(
            created_at=at - timedelta(seconds=i),
            user_ref=user,
            connector_id=connector_id,
            connector_slug=connector,
            tools=tools,
            tool_decisions=[],
            decision="allow",
            reason_code="allowed",
        )
        for i in range(n)
    )


@pytest.fixture
def logged(demo):
    """Recent calls: 12 calendar reads by Ana (the newest), 3 by Ben, 4 creates by Ana, old ones."""
    log_calls("ana@example.com", CALENDAR_SLUG, ["google-calendar_events_list"], n=12)
    log_calls("ben@example.com", CALENDAR_SLUG, ["google-calendar_events_list"], n=3, days_ago=2)
    log_calls("ana@example.com", CALENDAR_SLUG, ["google-calendar_events_create"], n=4, days_ago=3)
    log_calls("ben@example.com", "github", ["github_repos_list"], n=6)
    log_calls("ana@example.com", CALENDAR_SLUG, ["google-calendar_events_list"], n=9, days_ago=31)
    return demo


def draft_post(demo, **overrides) -> dict:
    data = {
        "name": "No calendar reads for Ana",
        "connector": demo.connectors[CALENDAR_SLUG].pk,
        "tools": [demo.tools["google-calendar_events_list"].pk],
        "users": [demo.people["ana@example.com"].pk],
        "action": Policy.Action.DENY,
        "enabled": "on",
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def policy_rows() -> list:
    return sorted(Policy.objects.values_list("pk", "name", "action", "enabled", "updated_at"))


def flips(response) -> list[str]:
    return [
        re.sub(r"<[^>]+>", "", item).strip()
        for item in re.findall(r'<li class="flip">(.*?)</li>', html(response), re.S)
    ]


def test_preview_of_a_new_deny_counts_the_allows_it_turns_into_denies(admin_client, logged):
    before = (policy_rows(), AuditEntry.objects.count())
    response = admin_client.post(PREVIEW, draft_post(logged), **HTMX)
    assert response.status_code == 200
    body = html(response)
    assert "<html" not in body
    assert flips(response) == ["12 allow → deny"]
    assert "Replayed 19 calls of the last 30 days on Google Calendar" in body
    assert "12 calls would be decided differently" in body
    assert body.count("<td>ana@example.com</td>") == 5  # a few examples
    assert "Capped" not in body
    assert (policy_rows(), AuditEntry.objects.count()) == before


def test_preview_for_all_users_also_flips_bens_calls(admin_client, logged):
    data = draft_post(logged, users=None, all_users="on")
    assert flips(admin_client.post(PREVIEW, data, **HTMX)) == ["15 allow → deny"]


def test_preview_of_an_edit_replaces_the_saved_policy(admin_client, logged):
    approval = logged.approval_policy  # Sales calendar create/update → Request approval
    data = draft_post(
        logged,
        name=approval.name,
        tools=[logged.tools["google-calendar_events_create"].pk],
        users=None,
        groups=[logged.groups["Sales"].pk],
        action=Policy.Action.ALLOW,
    )
    response = admin_client.post(f"{PREVIEW}?policy={approval.pk}", data, **HTMX)
    assert flips(response) == ["4 approval_required → allow"]
    assert "this draft instead of the saved policy" in html(response)
    approval.refresh_from_db()
    assert approval.action == Policy.Action.APPROVAL


def test_preview_of_disabling_a_policy_shows_what_it_decided(admin_client, logged):
    reads = Policy.objects.get(name="Everyone may read calendars")
    data = draft_post(
        logged,
        name=reads.name,
        tools=[logged.tools["google-calendar_events_list"].pk],
        users=None,
        all_users="on",
        action=Policy.Action.ALLOW,
        enabled=None,
    )
    response = admin_client.post(f"{PREVIEW}?policy={reads.pk}", data, **HTMX)
    assert flips(response) == ["15 allow → deny"]
    assert "this policy disabled" in html(response)


def test_preview_that_changes_nothing_says_so(admin_client, logged):
    data = draft_post(logged, action=Policy.Action.ALLOW)
    body = html(admin_client.post(PREVIEW, data, **HTMX))
    assert "No call would be decided differently." in body
    assert flips_absent(body)


def flips_absent(body: str) -> bool:
    return '<li class="flip">' not in body


def test_preview_says_when_it_was_capped(admin_client, logged, monkeypatch):
    monkeypatch.setattr(selectors, "REPLAY_CAP", 10)
    response = admin_client.post(PREVIEW, draft_post(logged), **HTMX)
    body = html(response)
    assert "Capped: only the 10 most recent calls were replayed." in body
    assert "Replayed 10 calls" in body
    assert flips(response) == ["10 allow → deny"]


def test_preview_of_an_invalid_draft_lists_what_to_fix(admin_client, logged):
    data = draft_post(logged, action=Policy.Action.APPROVAL, description="x" * 161)
    response = admin_client.post(PREVIEW, data, **HTMX)
    assert response.status_code == 400
    body = html(response)
    assert "Fix the draft first" in body
    assert "at most 160 characters" in body
    assert flips_absent(body)


def test_preview_without_htmx_renders_the_form_with_the_result(admin_client, logged):
    response = admin_client.post(PREVIEW, draft_post(logged))
    assert response.status_code == 200
    body = html(response)
    assert "<html" in body
    assert 'value="No calendar reads for Ana"' in body
    assert flips(response) == ["12 allow → deny"]


def test_preview_of_an_unknown_policy_is_not_found(admin_client, logged):
    assert admin_client.post(f"{PREVIEW}?policy=999999", draft_post(logged)).status_code == 404
    assert admin_client.post(f"{PREVIEW}?policy=abc", draft_post(logged)).status_code == 404


def test_logged_calls_streams_the_newest_first_within_the_window(logged):
    since = timezone.now() - timedelta(days=30)
    calendar, github = (logged.connectors[slug].pk for slug in (CALENDAR_SLUG, "github"))
    rows = list(selectors.logged_calls(since=since, connector_ids=[calendar], cap=5))
    assert len(rows) == 6  # the cap, and one more to tell that it was capped
    assert [r.at for r in rows] == sorted((r.at for r in rows), reverse=True)
    assert rows[0].tools == ("google-calendar_events_list",)
    everything = list(selectors.logged_calls(since=since, connector_ids=[github]))
    assert len(everything) == 6


# --- queries --------------------------------------------------------------------------------------


@pytest.fixture
def committed_demo(db, django_capture_on_commit_callbacks):
    """The demo with its snapshot version bumps run, as after a real commit: the cache holds."""
    with django_capture_on_commit_callbacks(execute=True):
        return seed_scenario()


def count_queries(send) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = send()
    assert response.status_code == 200
    return len(ctx.captured_queries)


# session, user, snapshot version (the snapshot itself is cached)
SIMULATE_QUERIES = 3


def test_simulator_reads_only_the_snapshot_version_once_cached(admin_client, committed_demo):
    def send():
        return simulate(
            admin_client, "ana@example.com", CALENDAR_SLUG, "google-calendar_events_list", **HTMX
        )

    send()  # loads the snapshot into the cache
    assert count_queries(send) == SIMULATE_QUERIES


# session, user, the draft's connector, tools and users, snapshot version, the log cursor
PREVIEW_QUERIES = 7


def test_preview_queries_do_not_grow_with_logged_calls(admin_client, committed_demo):
    demo = committed_demo
    log_calls("ana@example.com", CALENDAR_SLUG, ["google-calendar_events_list"], n=20)
    send = lambda: admin_client.post(PREVIEW, draft_post(demo), **HTMX)  # noqa: E731
    send()
    assert count_queries(send) == PREVIEW_QUERIES
    log_calls("ben@example.com", CALENDAR_SLUG, ["google-calendar_events_list"], n=5000, days_ago=2)
    assert count_queries(send) == PREVIEW_QUERIES
    assert flips(send()) == ["20 allow → deny"]

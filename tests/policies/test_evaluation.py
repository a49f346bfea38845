"""The decision engine of DESIGN.md §3, table by table, over hand-built snapshots (no database)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from policies.evaluation import (
    ALLOW,
    APPROVAL_REQUIRED,
    DENY,
    SEVERITY,
    STEP_UP,
    Call,
    ConnectorInfo,
    Grant,
    InvalidCall,
    PersonInfo,
    PolicyRule,
    Snapshot,
    ToolInfo,
    UnknownConnector,
    UnknownTool,
    evaluate,
)

NOW = datetime(2026, 3, 5, 12, 0, tzinfo=UTC)

# --- The demo scenario of DESIGN.md §9 -------------------------------------------------------

SALES, ENGINEERING, SECURITY = 1, 2, 3
ANA, BEN, DANA, LEE = 1, 2, 3, 4
CALENDAR, GITHUB, SLACK = 10, 20, 30
SALES_FLOW = 7
CAL = "google-calendar_events_"
CAL_LIST, CAL_GET, CAL_CREATE, CAL_UPDATE, CAL_DELETE = 101, 102, 103, 104, 105
REPOS_LIST, ISSUES_CREATE, REPOS_DELETE = 201, 202, 203
READ_CALENDARS, SALES_APPROVAL, NO_DELETE, ENGINEERING_GITHUB, STEP_UP_DELETE = 1, 2, 3, 4, 5


def person(pid: int, email: str, *groups: int, locked: bool = False, ext: str | None = None):
    return PersonInfo(pid, email, ext, locked, frozenset(groups))


def connector(cid: int, slug: str, tools: dict[str, int], *, enabled: bool = True, off=()):
    tools_by_key = {key: ToolInfo(tid, key, key not in off, "read") for key, tid in tools.items()}
    return ConnectorInfo(cid, slug, slug.title(), enabled, tools_by_key)


def rule(
    pid: int,
    action: str,
    *,
    connector_id: int,
    tools: tuple[int, ...] = (),
    all_users: bool = False,
    users: tuple[int, ...] = (),
    groups: tuple[int, ...] = (),
    flow: int | None = None,
) -> PolicyRule:
    flow = flow if flow is not None else (SALES_FLOW if action == APPROVAL_REQUIRED else None)
    return PolicyRule(
        id=pid,
        name=f"Policy {pid}",
        connector_id=connector_id,
        tool_ids=frozenset(tools),
        all_users=all_users,
        user_ids=frozenset(users),
        group_ids=frozenset(groups),
        action=action,
        flow_id=flow,
    )


def snapshot(people, connectors, rules) -> Snapshot:
    by_connector: dict[int, list[PolicyRule]] = {}
    for r in rules:
        by_connector.setdefault(r.connector_id, []).append(r)
    return Snapshot(
        version=1,
        people_by_email={p.email.lower(): p for p in people},
        people_by_external_id={p.external_id: p for p in people if p.external_id},
        connectors_by_slug={c.slug: c for c in connectors},
        policies_by_connector={cid: tuple(rs) for cid, rs in by_connector.items()},
    )


DEMO_PEOPLE = (
    person(ANA, "ana@example.com", SALES, ext="00u-ana"),
    person(BEN, "ben@example.com", ENGINEERING),
    person(DANA, "dana@example.com", SECURITY),
    person(LEE, "lee@example.com", SALES, locked=True),
)
DEMO_CONNECTORS = (
    connector(
        CALENDAR,
        "google-calendar",
        {
            f"{CAL}list": CAL_LIST,
            f"{CAL}get": CAL_GET,
            f"{CAL}create": CAL_CREATE,
            f"{CAL}update": CAL_UPDATE,
            f"{CAL}delete": CAL_DELETE,
        },
    ),
    connector(
        GITHUB,
        "github",
        {
            "github_repos_list": REPOS_LIST,
            "github_issues_create": ISSUES_CREATE,
            "github_repos_delete": REPOS_DELETE,
        },
    ),
    connector(SLACK, "slack", {"slack_channels_list": 301, "slack_messages_send": 302}),
)
DEMO_RULES = (
    rule(READ_CALENDARS, ALLOW, connector_id=CALENDAR, tools=(CAL_LIST, CAL_GET), all_users=True),
    rule(
        SALES_APPROVAL,
        APPROVAL_REQUIRED,
        connector_id=CALENDAR,
        tools=(CAL_CREATE, CAL_UPDATE),
        groups=(SALES,),
    ),
    rule(NO_DELETE, DENY, connector_id=CALENDAR, tools=(CAL_DELETE,), all_users=True),
    rule(ENGINEERING_GITHUB, ALLOW, connector_id=GITHUB, groups=(ENGINEERING,)),
    rule(
        STEP_UP_DELETE, STEP_UP, connector_id=GITHUB, tools=(REPOS_DELETE,), groups=(ENGINEERING,)
    ),
)
DEMO = snapshot(DEMO_PEOPLE, DEMO_CONNECTORS, DEMO_RULES)


def decide(snap: Snapshot, user: str, slug: str, *tools: str, **kwargs):
    step_up_at = kwargs.pop("step_up_at", None)
    return evaluate(snap, Call(user, slug, tools, step_up_at), now=NOW, **kwargs)


@pytest.mark.parametrize(
    ("user", "slug", "tool", "decision", "reason_code", "policy_id"),
    [
        ("ana@example.com", "google-calendar", f"{CAL}list", ALLOW, "allowed", READ_CALENDARS),
        ("ana@example.com", "google-calendar", f"{CAL}get", ALLOW, "allowed", READ_CALENDARS),
        (
            "ana@example.com",
            "google-calendar",
            f"{CAL}create",
            APPROVAL_REQUIRED,
            "approval_required",
            SALES_APPROVAL,
        ),
        ("ana@example.com", "google-calendar", f"{CAL}delete", DENY, "policy_deny", NO_DELETE),
        ("ben@example.com", "google-calendar", f"{CAL}create", DENY, "no_policy", None),
        ("ben@example.com", "google-calendar", f"{CAL}list", ALLOW, "allowed", READ_CALENDARS),
        (
            "ben@example.com",
            "github",
            "github_repos_delete",
            STEP_UP,
            "step_up_required",
            STEP_UP_DELETE,
        ),
        ("ben@example.com", "github", "github_repos_list", ALLOW, "allowed", ENGINEERING_GITHUB),
        ("ana@example.com", "github", "github_repos_list", DENY, "no_policy", None),
        ("dana@example.com", "slack", "slack_channels_list", DENY, "no_policy", None),
        ("lee@example.com", "google-calendar", f"{CAL}list", DENY, "user_locked", None),
        ("nobody@example.com", "google-calendar", f"{CAL}list", DENY, "unknown_user", None),
    ],
)
def test_demo_scenario(user, slug, tool, decision, reason_code, policy_id):
    result = decide(DEMO, user, slug, tool)
    assert (result.decision, result.reason_code) == (decision, reason_code)
    assert [(t.tool, t.decision, t.policy_id) for t in result.tools] == [
        (tool, decision, policy_id)
    ]
    assert result.reason


def test_demo_approval_routes_to_the_sales_flow():
    result = decide(DEMO, "ana@example.com", "google-calendar", f"{CAL}create", f"{CAL}update")
    assert result.decision == APPROVAL_REQUIRED
    assert result.approval_flow_id == SALES_FLOW
    assert result.approval_policy_id == SALES_APPROVAL
    assert result.approval_tool_ids == (CAL_CREATE, CAL_UPDATE)
    assert (result.person_id, result.connector_id) == (ANA, CALENDAR)


def test_locked_and_unknown_users_deny_every_tool():
    locked = decide(DEMO, "lee@example.com", "google-calendar", f"{CAL}list", f"{CAL}get")
    assert [(t.decision, t.reason_code) for t in locked.tools] == [(DENY, "user_locked")] * 2
    assert locked.person_id == LEE
    unknown = decide(DEMO, "who@example.com", "google-calendar", f"{CAL}list")
    assert unknown.person_id is None and unknown.connector_id == CALENDAR


# --- One rule at a time, on a small connector -------------------------------------------------

PAT, SAM = 50, 51
TEAM, OTHER_TEAM = 9, 8
CRM = 60
A, B, C = 601, 602, 603
PAT_INFO = person(PAT, "Pat@Example.com", TEAM, ext="00u-pat")
SAM_INFO = person(SAM, "sam@example.com", OTHER_TEAM)
CRM_INFO = connector(CRM, "crm", {"a": A, "b": B, "c": C})


def crm(*rules: PolicyRule, crm_info: ConnectorInfo = CRM_INFO) -> Snapshot:
    return snapshot((PAT_INFO, SAM_INFO), (crm_info,), rules)


def on_crm(pid: int, action: str, tools=(A,), flow: int | None = None, **coverage) -> PolicyRule:
    coverage = coverage or {"all_users": True}
    return rule(pid, action, connector_id=CRM, tools=tools, flow=flow, **coverage)


def pat(snap: Snapshot, *tools: str, **kwargs):
    return decide(snap, "pat@example.com", "crm", *(tools or ("a",)), **kwargs)


ACTIONS = (ALLOW, STEP_UP, APPROVAL_REQUIRED, DENY)
TOOL_CODES = {
    ALLOW: "policy_allow",
    STEP_UP: "step_up_required",
    APPROVAL_REQUIRED: "approval_required",
    DENY: "policy_deny",
}


@pytest.mark.parametrize(("first", "second"), list(itertools.permutations(ACTIONS, 2)))
def test_most_restrictive_action_wins(first, second):
    result = pat(crm(on_crm(1, first), on_crm(2, second)))
    winner = max(first, second, key=SEVERITY.__getitem__)
    tool = result.tools[0]
    assert (tool.decision, tool.reason_code) == (winner, TOOL_CODES[winner])
    assert tool.policy_id == (1 if winner == first else 2)
    assert tool.matched_policy_ids == (1, 2)


@pytest.mark.parametrize("action", ACTIONS)
def test_tie_within_an_action_goes_to_the_lowest_policy_id(action):
    result = pat(crm(on_crm(9, action), on_crm(3, action), on_crm(5, action)))
    assert result.tools[0].policy_id == 3
    assert result.tools[0].matched_policy_ids == (3, 5, 9)


def test_no_matching_policy_denies():
    result = pat(crm(on_crm(1, ALLOW, tools=(B,))))
    assert (result.decision, result.reason_code) == (DENY, "no_policy")
    assert result.tools[0].matched_policy_ids == ()


def test_disabled_policy_left_out_of_the_snapshot_does_not_match():
    # The loader keeps disabled policies out; what remains decides alone.
    with_deny = crm(on_crm(1, ALLOW), on_crm(2, DENY))
    without_deny = crm(on_crm(1, ALLOW))
    assert pat(with_deny).decision == DENY
    assert pat(without_deny).decision == ALLOW


@pytest.mark.parametrize("tool", ["a", "b", "c"])
def test_policy_without_tools_covers_every_tool(tool):
    result = pat(crm(on_crm(1, ALLOW, tools=())), tool)
    assert (result.decision, result.tools[0].policy_id) == (ALLOW, 1)


def test_all_tools_and_specific_rules_combine():
    result = pat(crm(on_crm(1, ALLOW, tools=()), on_crm(2, STEP_UP, tools=(B,))), "a", "b")
    assert [(t.decision, t.matched_policy_ids) for t in result.tools] == [
        (ALLOW, (1,)),
        (STEP_UP, (1, 2)),
    ]


@pytest.mark.parametrize(
    ("coverage", "covered"),
    [
        ({"groups": (TEAM,)}, True),
        ({"groups": (OTHER_TEAM,)}, False),
        ({"groups": (OTHER_TEAM, TEAM)}, True),
        ({"users": (PAT,)}, True),
        ({"users": (SAM,)}, False),
        ({"users": (SAM,), "groups": (OTHER_TEAM,)}, False),
        ({"all_users": True}, True),
        ({}, True),  # on_crm's default: all users
    ],
)
def test_coverage_by_all_users_user_or_group(coverage, covered):
    result = pat(crm(on_crm(1, ALLOW, **coverage)))
    assert result.decision == (ALLOW if covered else DENY)


def test_policy_covering_by_user_and_group_matches_once():
    result = pat(crm(on_crm(1, ALLOW, users=(PAT,), groups=(TEAM,))))
    assert result.tools[0].matched_policy_ids == (1,)


def test_policy_of_another_connector_never_matches():
    other = rule(1, ALLOW, connector_id=CRM + 1, tools=(A,), all_users=True)
    assert pat(crm(other)).reason_code == "no_policy"


def test_person_in_many_groups_matches_by_any_of_them():
    many = person(PAT, "pat@example.com", *range(100, 200), TEAM)
    snap = snapshot((many,), (CRM_INFO,), (on_crm(1, ALLOW, groups=(TEAM,)),))
    assert pat(snap).decision == ALLOW


# --- Grants and step-up -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "decision", "reason_code"),
    [
        (APPROVAL_REQUIRED, ALLOW, "grant"),
        (STEP_UP, ALLOW, "grant"),
        (DENY, DENY, "policy_deny"),
        (ALLOW, ALLOW, "policy_allow"),
    ],
)
def test_unexpired_grant_softens_approval_and_step_up_never_deny(action, decision, reason_code):
    grant = Grant(PAT, A, NOW + timedelta(hours=1))
    tool = pat(crm(on_crm(1, action)), grants=[grant]).tools[0]
    assert (tool.decision, tool.reason_code, tool.policy_id) == (decision, reason_code, 1)


def test_grant_does_not_override_deny_from_another_policy():
    rules = (on_crm(1, APPROVAL_REQUIRED), on_crm(2, DENY))
    result = pat(crm(*rules), grants=[Grant(PAT, A, NOW + timedelta(hours=1))])
    assert (result.decision, result.reason_code) == (DENY, "policy_deny")


@pytest.mark.parametrize(
    "grant",
    [
        Grant(PAT, A, NOW),
        Grant(PAT, A, NOW - timedelta(seconds=1)),
        Grant(SAM, A, NOW + timedelta(hours=1)),
        Grant(PAT, B, NOW + timedelta(hours=1)),
    ],
    ids=["expires-now", "expired", "another-person", "another-tool"],
)
def test_grant_that_does_not_apply_is_ignored(grant):
    result = pat(crm(on_crm(1, APPROVAL_REQUIRED)), grants=[grant])
    assert result.decision == APPROVAL_REQUIRED


@pytest.mark.parametrize(
    ("step_up_at", "fresh"),
    [
        (NOW - timedelta(minutes=1), True),
        (NOW - timedelta(minutes=15), True),
        (NOW - timedelta(minutes=15, seconds=1), False),
        (NOW - timedelta(days=1), False),
        (NOW + timedelta(seconds=30), True),
        (NOW + timedelta(minutes=5), False),
        (None, False),
        (NOW.replace(tzinfo=None), False),
    ],
    ids=["1-min", "window-edge", "stale", "a-day-old", "small-skew", "future", "none", "naive"],
)
def test_fresh_step_up_turns_step_up_into_allow(step_up_at, fresh):
    tool = pat(crm(on_crm(1, STEP_UP)), step_up_at=step_up_at).tools[0]
    expected = (ALLOW, "step_up_verified") if fresh else (STEP_UP, "step_up_required")
    assert (tool.decision, tool.reason_code) == expected


def test_step_up_window_is_configurable():
    snap = crm(on_crm(1, STEP_UP))
    at = NOW - timedelta(minutes=10)
    assert pat(snap, step_up_at=at, step_up_window=timedelta(minutes=5)).decision == STEP_UP
    assert pat(snap, step_up_at=at, step_up_window=timedelta(minutes=30)).decision == ALLOW


@pytest.mark.parametrize("action", [APPROVAL_REQUIRED, DENY])
def test_fresh_step_up_does_not_soften_approval_or_deny(action):
    result = pat(crm(on_crm(1, action), on_crm(2, STEP_UP)), step_up_at=NOW)
    assert result.decision == action


# --- Overall decision over several tools --------------------------------------------------------


@pytest.mark.parametrize(
    ("actions", "decision", "reason_code"),
    [
        ((ALLOW, ALLOW, ALLOW), ALLOW, "allowed"),
        ((ALLOW, STEP_UP, ALLOW), STEP_UP, "step_up_required"),
        ((STEP_UP, APPROVAL_REQUIRED, ALLOW), APPROVAL_REQUIRED, "approval_required"),
        ((APPROVAL_REQUIRED, STEP_UP, DENY), DENY, "policy_deny"),
        ((ALLOW, None, APPROVAL_REQUIRED), DENY, "no_policy"),
        ((None, DENY, ALLOW), DENY, "no_policy"),
    ],
)
def test_overall_decision_takes_the_most_restrictive_tool(actions, decision, reason_code):
    tools = (A, B, C)
    rules = [on_crm(i + 1, act, tools=(tools[i],)) for i, act in enumerate(actions) if act]
    result = pat(crm(*rules), "a", "b", "c")
    assert (result.decision, result.reason_code) == (decision, reason_code)


def test_approval_fields_are_empty_unless_the_overall_decision_is_approval():
    result = pat(crm(on_crm(1, APPROVAL_REQUIRED), on_crm(2, DENY, tools=(B,))), "a", "b")
    assert result.decision == DENY
    assert (result.approval_flow_id, result.approval_policy_id, result.approval_tool_ids) == (
        None,
        None,
        (),
    )


@pytest.mark.parametrize("order", [("a", "b", "c"), ("c", "b", "a"), ("b", "a", "c")])
def test_approval_policy_and_flow_are_picked_deterministically(order):
    rules = (
        on_crm(4, APPROVAL_REQUIRED, tools=(A,), flow=40),
        on_crm(2, APPROVAL_REQUIRED, tools=(B,), flow=20),
        on_crm(3, ALLOW, tools=(C,)),
    )
    result = pat(crm(*rules), *order)
    assert (result.approval_policy_id, result.approval_flow_id) == (2, 20)
    ids = {"a": A, "b": B}
    assert result.approval_tool_ids == tuple(ids[key] for key in order if key in ids)


def test_duplicate_tool_keys_are_decided_once_in_input_order():
    result = pat(crm(on_crm(1, ALLOW, tools=())), "b", "a", "b", "c", "a")
    assert [t.tool for t in result.tools] == ["b", "a", "c"]


# --- Connectors, tools and people the snapshot does or does not know ------------------------


def test_unknown_connector_raises():
    with pytest.raises(UnknownConnector) as raised:
        decide(DEMO, "ana@example.com", "jira", "jira_issues_list")
    assert raised.value.slug == "jira" and raised.value.code == "unknown_connector"


def test_unknown_tools_raise_with_their_keys():
    with pytest.raises(UnknownTool) as raised:
        pat(crm(), "a", "zz", "b", "yy", "zz")
    assert raised.value.keys == ("zz", "yy") and raised.value.code == "unknown_tool"


def test_unknown_connector_raises_even_for_an_unknown_user():
    with pytest.raises(UnknownConnector):
        decide(DEMO, "nobody@example.com", "jira", "jira_issues_list")


def test_call_without_tools_is_invalid():
    with pytest.raises(InvalidCall):
        decide(DEMO, "ana@example.com", "google-calendar")


def test_disabled_connector_denies_every_tool():
    off = connector(CRM, "crm", {"a": A, "b": B}, enabled=False)
    result = pat(crm(on_crm(1, ALLOW, tools=()), crm_info=off), "a", "b")
    assert (result.decision, result.reason_code) == (DENY, "connector_disabled")
    assert {t.reason_code for t in result.tools} == {"connector_disabled"}


def test_disabled_tool_is_denied_and_the_others_still_decided():
    info = connector(CRM, "crm", {"a": A, "b": B}, off=("b",))
    result = pat(crm(on_crm(1, ALLOW, tools=()), crm_info=info), "a", "b")
    assert [(t.decision, t.reason_code) for t in result.tools] == [
        (ALLOW, "policy_allow"),
        (DENY, "tool_disabled"),
    ]
    assert (result.decision, result.reason_code) == (DENY, "tool_disabled")


@pytest.mark.parametrize("user", ["pat@example.com", "PAT@EXAMPLE.COM", "Pat@Example.com"])
def test_email_lookup_ignores_case(user):
    result = decide(crm(on_crm(1, ALLOW)), user, "crm", "a")
    assert (result.decision, result.person_id) == (ALLOW, PAT)


def test_external_id_finds_the_person():
    result = decide(crm(on_crm(1, ALLOW)), "00u-pat", "crm", "a")
    assert (result.decision, result.person_id) == (ALLOW, PAT)


def test_reason_names_the_deciding_policy():
    result = decide(DEMO, "ana@example.com", "google-calendar", f"{CAL}delete")
    assert f'"Policy {NO_DELETE}"' in result.reason


def test_unknown_action_is_refused_when_the_snapshot_is_built():
    with pytest.raises(ValueError, match="unknown action"):
        on_crm(1, "maybe")


def test_rules_reached_through_everyone_user_and_groups_are_merged_once():
    two_teams = person(PAT, "pat@example.com", TEAM, OTHER_TEAM)
    rules = (
        on_crm(1, ALLOW),
        on_crm(2, STEP_UP, groups=(TEAM,)),
        on_crm(3, APPROVAL_REQUIRED, users=(PAT,), groups=(TEAM, OTHER_TEAM)),
        on_crm(4, DENY, users=(SAM,)),
        on_crm(5, APPROVAL_REQUIRED, tools=(), groups=(OTHER_TEAM,)),
    )
    tool = pat(snapshot((two_teams,), (CRM_INFO,), rules)).tools[0]
    assert tool.matched_policy_ids == (1, 2, 3, 5)
    assert (tool.decision, tool.policy_id) == (APPROVAL_REQUIRED, 3)


def test_approval_reason_names_the_routing_policy():
    rules = (
        on_crm(4, APPROVAL_REQUIRED, tools=(A,), flow=40),
        on_crm(2, APPROVAL_REQUIRED, tools=(B,), flow=20),
    )
    assert '"Policy 2"' in pat(crm(*rules), "a", "b").reason


# --- The indexed engine against a plain scan of every rule -------------------------------------

ids = st.integers(min_value=1, max_value=3)
rules_strategy = st.lists(
    st.builds(
        lambda tools, all_users, users, groups, action: (tools, all_users, users, groups, action),
        st.frozensets(st.sampled_from((A, B, C))),
        st.booleans(),
        st.frozensets(ids),
        st.frozensets(ids),
        st.sampled_from(ACTIONS),
    ),
    max_size=8,
)


def plain_scan(rules: list[PolicyRule], tool_id: int, who: PersonInfo) -> tuple[int | None, tuple]:
    """DESIGN.md §3, rule 2 and 3, read literally: every rule checked, the strictest wins."""
    matched = [
        r
        for r in sorted(rules, key=lambda r: r.id)
        if (not r.tool_ids or tool_id in r.tool_ids)
        and (r.all_users or who.id in r.user_ids or who.group_ids & r.group_ids)
    ]
    if not matched:
        return None, ()
    best = max(SEVERITY[r.action] for r in matched)
    winner = next(r for r in matched if SEVERITY[r.action] == best)
    return winner.id, tuple(r.id for r in matched)


@given(specs=rules_strategy, person_id=ids, groups=st.frozensets(ids), order=st.permutations("abc"))
def test_indexed_engine_agrees_with_a_plain_scan(specs, person_id, groups, order):
    rules = [
        PolicyRule(i + 1, f"P{i + 1}", CRM, tools, all_users, users, grps, action)
        for i, (tools, all_users, users, grps, action) in enumerate(specs)
    ]
    who = person(person_id, "who@example.com", *groups)
    result = decide(snapshot((who,), (CRM_INFO,), rules), "who@example.com", "crm", *order)
    for tool in result.tools:
        policy_id, matched = plain_scan(rules, tool.tool_id, who)
        assert (tool.policy_id, tool.matched_policy_ids) == (policy_id, matched)

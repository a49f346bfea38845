"""The Activity page: API decisions and changes, their filters, paging, notices and query counts."""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from agenwork.pagination import capped_count
from audit.models import AuditEntry
from dashboard.tables import MISSING, changed_fields, render_diff
from gateways.services import api_key_create, api_key_revoke, api_key_set_webhook
from policies.models import DecisionLog
from tests.factories import ConnectorFactory, PersonFactory

URL = "/activity/"
LOGIN = "/accounts/login/"
HTMX_TABLE = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "activity-table"}
DECISION_COLUMNS = [
    "Time", "User", "Agent", "Connector", "Tools", "Decision", "Reason", "Key", "Request"
]  # fmt: skip
CHANGE_COLUMNS = ["Time", "Who", "Channel", "Action", "Object", "Change"]
# session, user, person (sidebar), connector choices, key page, rows by key, capped count
DECISION_QUERIES = 7
# session, user, person (sidebar), key page, rows by key, capped count
CHANGE_QUERIES = 6


@pytest.fixture(autouse=True)
def _static_without_manifest(settings):
    """`make test` runs collectstatic first; a bare pytest run resolves {% static %} from source."""
    if not (Path(settings.STATIC_ROOT) / "staticfiles.json").exists():
        settings.STORAGES = {
            **settings.STORAGES,
            "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
        }


@pytest.fixture
def persona_client(request):
    """The logged-in client of the persona named by the test's `persona` parameter."""
    return request.getfixturevalue(f"{request.param}_client")


def html(response) -> str:
    return response.content.decode()


def headers(body: str) -> list[str]:
    """The column headers of the table, as shown."""
    thead = re.search(r"<thead.*?</thead>", body, re.S).group(0)
    cells = re.findall(r"<th[\s>].*?</th>", thead, re.S)
    return [re.sub(r"<[^>]+>|\s+", " ", cell).strip() for cell in cells]


def rows(response, kind: str = "decision") -> list[str]:
    """The ids of the table's rows, top to bottom."""
    return re.findall(rf'<tr data-{kind}="(\d+)"', html(response))


def notices(response) -> list[str]:
    return re.findall(
        r'class="alert alert-warning py-2 mb-2 notice" role="alert">(.*?)</div>', html(response)
    )


def at(days_ago: float) -> datetime:
    return timezone.now() - timedelta(days=days_ago)


def log(**fields) -> DecisionLog:
    """One decision as the API records it; fields override a plain allow."""
    values = {
        "created_at": timezone.now(),
        "api_key_name": "gateway-prod",
        "user_ref": "someone@example.com",
        "agent": "Claude",
        "connector_slug": "github",
        "tools": ["github_repos_list"],
        "tool_decisions": [],
        "decision": "allow",
        "reason_code": "policy_allow",
        **fields,
    }
    return DecisionLog.objects.create(**values)


def change(**fields) -> AuditEntry:
    """One audit entry; fields override a policy update by Ana."""
    values = {
        "actor_name": "Ana Admin",
        "action": AuditEntry.Action.UPDATED,
        "object_type": "policy",
        "object_id": "1",
        "object_repr": "Calendar for Sales",
        "before": {"name": "Calendar", "action": "allow"},
        "after": {"name": "Calendar", "action": "deny"},
        **fields,
    }
    return AuditEntry.objects.create(**values)


# --- who may open the page ------------------------------------------------------------------------


@pytest.mark.parametrize("tab", ["decisions", "changes"])
def test_admin_sees_both_tabs(admin_client, db, tab):
    response = admin_client.get(URL, {"tab": tab})
    assert response.status_code == 200
    body = html(response)
    assert "<h1>Activity</h1>" in body
    assert re.search(rf'<a class="nav-link active" href="\?tab={tab}" aria-current="page">', body)
    assert re.search(r'<a class="nav-link active" href="/activity/"', body)  # the sidebar


@pytest.mark.parametrize("persona_client", ["approver", "outsider"], indirect=True)
def test_page_is_forbidden_to_approvers_and_outsiders(persona_client, db):
    log(user_ref="secret@example.com")
    for tab in ("decisions", "changes"):
        response = persona_client.get(URL, {"tab": tab})
        assert response.status_code == 403
        assert "Only admins can open this page." in html(response)
        assert "secret@example.com" not in html(response)


def test_page_sends_anonymous_to_login(client, db):
    response = client.get(URL)
    assert response.status_code == 302
    assert response["Location"] == f"{LOGIN}?next={URL}"


# --- API decisions --------------------------------------------------------------------------------


def test_decisions_tab_is_the_default_and_shows_every_column(admin_client, db):
    public_id = uuid.uuid4()
    entry = log(
        user_ref="ana@example.com",
        agent="ChatGPT",
        connector_slug="google-calendar",
        tools=["google-calendar_events_create", "google-calendar_events_update", "x_y"],
        decision="approval_required",
        reason_code="approval_required",
        api_key_name="edge-gw",
        request_public_id=public_id,
        created_at=at(3),
    )
    body = html(admin_client.get(URL))
    assert headers(body) == DECISION_COLUMNS
    row = re.search(rf'<tr data-decision="{entry.pk}".*?</tr>', body, re.S).group(0)
    assert ", 3 days ago</time>" in row
    assert "ana@example.com" in row and "ChatGPT" in row and "<code>google-calendar</code>" in row
    assert ">google-calendar_events_create</code>" in row and ">+2</span>" in row
    assert '<span class="badge action-approval_required">Approval required</span>' in row
    assert "approval_required</code>" in row and "edge-gw" in row
    assert f'href="/requests/{public_id}/"' in row
    assert "1 decision" in body


@pytest.mark.parametrize(
    ("decision", "label"),
    [
        ("allow", "Allow"),
        ("deny", "Deny"),
        ("step_up", "Step up"),
        ("approval_required", "Approval required"),
    ],
)
def test_decision_badges_use_the_action_classes(admin_client, db, decision, label):
    log(decision=decision)
    assert f'<span class="badge action-{decision}">{label}</span>' in html(admin_client.get(URL))


def test_decision_without_request_or_tools_shows_dashes(admin_client, db):
    entry = log(tools=[], agent="", api_key_name="", request_public_id=None)
    row = re.search(rf'<tr data-decision="{entry.pk}".*?</tr>', html(admin_client.get(URL)), re.S)
    assert "/requests/" not in row.group(0)
    assert row.group(0).count(">—</span>") == 4


def test_decisions_are_newest_first_and_sort_by_time(admin_client, db):
    old, new, mid = log(created_at=at(5)), log(created_at=at(1)), log(created_at=at(3))
    assert rows(admin_client.get(URL)) == [str(new.pk), str(mid.pk), str(old.pk)]
    assert rows(admin_client.get(URL, {"sort": "time"})) == [str(old.pk), str(mid.pk), str(new.pk)]


@pytest.fixture
def people_and_decisions(db):
    """Ana (known person) on github and slack, Ben on github, an unknown user; over five days."""
    github = ConnectorFactory(slug="github", name="GitHub")
    slack = ConnectorFactory(slug="slack", name="Slack")
    ana = PersonFactory(name="Ana Lopez", email="ana@example.com")
    ben = PersonFactory(name="Ben Kim", email="ben@example.com")
    made = {
        "ana_github": log(
            user_ref="ana@example.com", person=ana, connector=github, created_at=at(0)
        ),
        "ana_slack": log(
            user_ref="ana@example.com", person=ana, connector=slack, connector_slug="slack",
            decision="deny", reason_code="no_policy", created_at=at(2),
        ),
        "ben_github": log(
            user_ref="ben@example.com", person=ben, connector=github, decision="step_up",
            reason_code="step_up_required", created_at=at(4),
        ),
        "ghost": log(
            user_ref="Ghost@Example.com", connector=github, decision="deny",
            reason_code="unknown_user", created_at=at(6),
        ),
    }  # fmt: skip
    return {name: str(entry.pk) for name, entry in made.items()}


def test_every_decision_filter_narrows_the_rows(admin_client, people_and_decisions):
    ids = people_and_decisions
    today = timezone.localdate()
    cases = [
        ({}, ["ana_github", "ana_slack", "ben_github", "ghost"]),
        ({"user": "ANA@example.com"}, ["ana_github", "ana_slack"]),
        ({"user": "ghost@example.COM"}, ["ghost"]),
        ({"user": "nobody@example.com"}, []),
        ({"connector": "slack"}, ["ana_slack"]),
        ({"connector": "github"}, ["ana_github", "ben_github", "ghost"]),
        ({"decision": "deny"}, ["ana_slack", "ghost"]),
        ({"decision": "step_up"}, ["ben_github"]),
        ({"since": str(today - timedelta(days=3))}, ["ana_github", "ana_slack"]),
        ({"until": str(today - timedelta(days=3))}, ["ben_github", "ghost"]),
        (
            {"since": str(today - timedelta(days=5)), "until": str(today - timedelta(days=1))},
            ["ana_slack", "ben_github"],
        ),
        ({"since": str(today), "until": str(today)}, ["ana_github"]),
        ({"user": "ana@example.com", "decision": "deny"}, ["ana_slack"]),
    ]
    for params, expected in cases:
        response = admin_client.get(URL, params)
        assert response.status_code == 200
        assert rows(response) == [ids[name] for name in expected], params
        assert notices(response) == [], params


def test_decision_filters_live_in_the_url_and_the_form(admin_client, people_and_decisions):
    body = html(admin_client.get(URL, {"user": "ben@example.com", "connector": "github"}))
    assert 'name="user" value="ben@example.com"' in body
    assert re.search(r'<option value="github" selected>GitHub</option>', body)
    assert '<option value="slack">Slack</option>' in body
    assert 'name="tab" value="decisions"' in body


# --- Changes --------------------------------------------------------------------------------------


def test_changes_tab_shows_who_what_when_and_the_diff(admin_client, admin_user):
    key = api_key_create(name="gw-1", webhook_url="https://one.example.com/h", actor=admin_user)
    api_key_set_webhook(
        api_key=key.api_key, webhook_url="https://two.example.com/h", actor=admin_user
    )
    response = admin_client.get(URL, {"tab": "changes"})
    body = html(response)
    assert headers(body) == CHANGE_COLUMNS
    updated, created = (
        re.search(rf'<tr data-change="{pk}".*?</tr>', body, re.S).group(0)
        for pk in rows(response, "change")
    )
    assert "admin" in updated and ">web</span>" in updated and "Updated" in updated
    assert f'API key</span> <a href="/settings/api-keys/{key.api_key.pk}/">gw-1' in updated
    assert '<span class="diff-key">webhook_url</span>' in updated
    assert "one.example.com/h</del> → <ins" in updated and "two.example.com/h</ins>" in updated
    assert '<span class="diff-key">name</span>' not in updated  # unchanged keys are left out
    assert (
        "Created" in created
        and '<span class="diff-key">name</span> <ins title="gw-1">gw-1</ins>' in created
    )
    assert "2 changes" in body


def test_change_by_the_system_says_so(admin_client, db):
    change(actor_name="", channel="cli")
    row = html(admin_client.get(URL, {"tab": "changes"}))
    assert ">the system</span>" in row and ">cli</span>" in row


@pytest.fixture
def changes(admin_user):
    made = {
        "ana_policy": change(actor_name="Ana Admin", created_at=at(0)),
        "ben_key": change(
            actor_name="Ben Ops", object_type="api_key", object_id="7", object_repr="gw (abc…)",
            action=AuditEntry.Action.REVOKED, before={"revoked": False}, after={"revoked": True},
            created_at=at(2),
        ),
        "ana_flow": change(
            actor_name="ANA ADMIN", object_type="approval_flow", object_repr="Sales approvals",
            action=AuditEntry.Action.CREATED, before=None, after={"name": "Sales approvals"},
            created_at=at(4),
        ),
    }  # fmt: skip
    return {name: str(entry.pk) for name, entry in made.items()}


def test_every_change_filter_narrows_the_rows(admin_client, changes):
    ids = changes
    today = timezone.localdate()
    cases = [
        ({}, ["ana_policy", "ben_key", "ana_flow"]),
        ({"actor": "ana"}, ["ana_policy", "ana_flow"]),
        ({"actor": "ops"}, ["ben_key"]),
        ({"actor": "zed"}, []),
        ({"object_type": "api_key"}, ["ben_key"]),
        ({"object_type": "approval_flow"}, ["ana_flow"]),
        ({"since": str(today - timedelta(days=3))}, ["ana_policy", "ben_key"]),
        ({"until": str(today - timedelta(days=1))}, ["ben_key", "ana_flow"]),
        ({"actor": "ana", "since": str(today - timedelta(days=1))}, ["ana_policy"]),
    ]
    for params, expected in cases:
        response = admin_client.get(URL, {"tab": "changes", **params})
        assert response.status_code == 200
        assert rows(response, "change") == [ids[name] for name in expected], params
        assert notices(response) == [], params


def test_diff_lists_only_the_changed_keys():
    assert changed_fields({"a": 1, "b": 2}, {"a": 1, "b": 3, "c": 4}) == [
        ("b", 2, 3),
        ("c", MISSING, 4),
    ]
    assert changed_fields({"a": 1}, None) == [("a", 1, MISSING)]
    assert changed_fields(None, None) == []
    assert "No field changed" in render_diff({"a": 1}, {"a": 1})


def test_diff_is_compact_and_escaped():
    before = {f"k{i}": i for i in range(9)} | {"html": "<b>x</b>", "flag": True, "ids": [1, 2]}
    after = {f"k{i}": i + 1 for i in range(9)} | {"html": "<i>y</i>", "flag": False, "ids": []}
    out = render_diff(before, after)
    assert out.count("<li>") == 6 and '<li class="text-secondary">+6 more</li>' in out
    out = render_diff(
        {"html": "<b>x</b>", "flag": True, "ids": [1, 2]},
        {"html": "<i>y</i>", "flag": False, "ids": []},
    )
    assert "&lt;b&gt;x&lt;/b&gt;" in out and "<b>" not in out
    assert (
        ">yes</del> → <ins" in out
        and ">no</ins>" in out
        and ">1, 2</del>" in out
        and ">none</ins>" in out
    )
    long = render_diff({"u": "x" * 200}, {"u": "y"})
    assert "x" * 59 + "…</del>" in long and 'title="' + "x" * 200 in long


# --- bad input, paging, htmx ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "notice"),
    [
        ({"user": "not-an-email"}, "User “not-an-email”: Enter a valid email address."),
        ({"user": "a" * 300 + "@example.com"}, "User “"),
        ({"connector": "nope"}, "Connector “nope”: Select a valid choice."),
        ({"decision": "maybe"}, "Decision “maybe”: Select a valid choice."),
        ({"since": "2026-13-45"}, "From “2026-13-45”: Enter a valid date."),
        ({"until": "yesterday"}, "To “yesterday”: Enter a valid date."),
        (
            {"since": "2026-03-05", "until": "2026-03-01"},
            "To “2026-03-01”: This date is before the From date.",
        ),
        (
            {"tab": "changes", "object_type": "spaceship"},
            "Object “spaceship”: Select a valid choice.",
        ),
        ({"tab": "changes", "actor": "x" * 201}, "Who “"),
        ({"tab": "changes", "since": "0"}, "From “0”: Enter a valid date."),
    ],
)
def test_bad_filter_values_show_a_notice_and_no_rows(admin_client, db, params, notice):
    log()
    change()
    response = admin_client.get(URL, params)
    assert response.status_code == 200
    assert any(text.startswith(notice) for text in notices(response)), notices(response)
    assert rows(response) == [] and rows(response, "change") == []


@pytest.mark.parametrize(
    ("params", "notice"),
    [
        ({"tab": "audit"}, "Unknown tab “audit”: showing API decisions."),
        ({"page": "abc"}, "Ignored page “abc”."),
        ({"page": "0"}, "Ignored page “0”."),
        ({"page": "99"}, "Page 99 is past the end of this list."),
        ({"per_page": "7"}, "Ignored per page “7”."),
        ({"per_page": "-25"}, "Ignored per page “-25”."),
        ({"sort": "user"}, "Unknown sort “user”: showing the newest first."),
    ],
)
def test_bad_page_sort_or_tab_is_ignored_with_a_notice(admin_client, db, params, notice):
    entry = log()
    response = admin_client.get(URL, params)
    assert response.status_code == 200
    assert notice in notices(response)
    assert rows(response) == [str(entry.pk)]


@pytest.mark.parametrize("day", ["0001-01-01", "9999-12-31"])
@pytest.mark.parametrize("field", ["since", "until"])
@pytest.mark.parametrize("tab", ["decisions", "changes"])
def test_extreme_dates_never_fail(admin_client, db, tab, field, day):
    response = admin_client.get(URL, {"tab": tab, field: day})
    assert response.status_code == 200


def test_pages_of_decisions(admin_client, db):
    made = [log(created_at=at(i / 1000)) for i in range(40)]
    first = admin_client.get(URL)
    assert rows(first) == [str(e.pk) for e in made[:25]]
    assert 'rel="next" href="?page=2"' in html(first)
    second = admin_client.get(URL, {"page": "2"})
    assert rows(second) == [str(e.pk) for e in made[25:]]
    assert "rows 26\N{EN DASH}40" in html(second)
    assert len(rows(admin_client.get(URL, {"per_page": "50"}))) == 40
    assert "40 decisions" in html(first)


def test_total_line_is_capped(admin_client, db, monkeypatch):
    monkeypatch.setattr(
        "dashboard.views_activity.capped_count", lambda qs: capped_count(qs, cap=10)
    )
    for i in range(12):
        log(created_at=at(i / 1000))
    assert "10+ decisions" in html(admin_client.get(URL))


def test_htmx_request_gets_the_table_alone(admin_client, db):
    entry = log()
    response = admin_client.get(URL, {"decision": "allow"}, **HTMX_TABLE)
    body = html(response)
    assert body.lstrip().startswith('<div id="activity-table"')
    assert "<html" not in body and "<form" not in body
    assert rows(response) == [str(entry.pk)]


# --- query counts ---------------------------------------------------------------------------------


def capture(client: Client, params: dict) -> list[str]:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(URL, params)
    assert response.status_code == 200
    return [query["sql"] for query in ctx.captured_queries]


def describe(queries: list[str]) -> str:
    return "\n".join(f"{n}. {sql[:300]}" for n, sql in enumerate(queries, 1))


def test_decisions_run_a_fixed_number_of_queries(admin_client, db):
    github = ConnectorFactory(slug="github")
    for i in range(5):
        log(created_at=at(i / 1000), request_public_id=uuid.uuid4(), connector=github)
    few = capture(admin_client, {"per_page": "50"})
    for i in range(35):
        log(created_at=at(1 + i / 1000), request_public_id=uuid.uuid4(), connector=github)
    many = capture(admin_client, {"per_page": "50"})
    assert len(few) == len(many) == DECISION_QUERIES, describe(many)
    assert len(capture(admin_client, {})) == DECISION_QUERIES
    assert (
        len(capture(admin_client, {"connector": "github", "decision": "allow"})) == DECISION_QUERIES
    )
    # the user filter reads the person once: one more, whatever the number of rows
    assert len(capture(admin_client, {"user": "Someone@example.com"})) == DECISION_QUERIES + 1


def test_changes_run_a_fixed_number_of_queries(admin_client, db):
    for i in range(5):
        change(created_at=at(i / 1000))
    few = capture(admin_client, {"tab": "changes", "per_page": "50"})
    for i in range(35):
        change(created_at=at(1 + i / 1000), object_type="api_key", object_id=str(i))
    many = capture(admin_client, {"tab": "changes", "per_page": "50"})
    assert len(few) == len(many) == CHANGE_QUERIES, describe(many)
    filtered = capture(admin_client, {"tab": "changes", "actor": "ana", "object_type": "policy"})
    assert len(filtered) == CHANGE_QUERIES


@pytest.mark.parametrize("tab", ["decisions", "changes"])
def test_pages_only_count_with_a_cap(admin_client, db, tab):
    log()
    change()
    queries = capture(admin_client, {"tab": tab})
    counts = [sql for sql in queries if "COUNT(" in sql.upper()]
    assert len(counts) == 1, describe(queries)
    assert "LIMIT" in counts[0].upper()


def test_revoking_a_key_shows_up_in_changes(admin_client, admin_user):
    issued = api_key_create(name="gw-2", actor=admin_user)
    api_key_revoke(api_key=issued.api_key, actor=admin_user)
    response = admin_client.get(URL, {"tab": "changes", "object_type": "api_key"})
    body = html(response)
    assert len(rows(response, "change")) == 2
    assert "Revoked" in body and '<span class="diff-key">revoked</span>' in body

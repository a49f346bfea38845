"""The Policies page: the list, the side panel (view, create, edit, delete), roles, CSRF."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from audit.models import AuditEntry
from policies.models import Policy
from tests.factories import (
    ConnectorFactory,
    GroupFactory,
    PersonFactory,
    PolicyFactory,
    ToolFactory,
)

LIST = "/policies/"
HEADER = "Define and manage security and usage policies"
COLUMNS = ("Name", "Connector", "Users", "Groups", "Tools", "Action")
HTMX = {"HTTP_HX_REQUEST": "true"}
HTMX_TABLE = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "policies-table"}
LOGIN = "/accounts/login/"


def html(response) -> str:
    return response.content.decode()


def row_names(response) -> list[str]:
    """The policy names of the table rows, top to bottom."""
    return re.findall(r'class="policy-link"[^>]*>([^<]+)</a>', html(response))


def state() -> tuple:
    """Everything a policy write could change."""
    return (
        sorted(
            Policy.objects.values_list(
                "pk", "name", "description", "action", "enabled", "approval_flow_id", "updated_at"
            )
        ),
        sorted(Policy.tools.through.objects.values_list("policy_id", "tool_id")),
        sorted(Policy.users.through.objects.values_list("policy_id", "person_id")),
        AuditEntry.objects.count(),
    )


@pytest.fixture
def github(db):
    connector = ConnectorFactory(slug="github", name="GitHub")
    ToolFactory(connector=connector, key="github_repos_list")
    ToolFactory(connector=connector, key="github_repos_delete")
    return connector


@pytest.fixture
def listed(connector, tools, github, flow, requester):
    """Four policies whose name order and action order differ."""
    sales, eng, sec = (GroupFactory(name=n) for n in ("Sales", "Engineering", "Security"))
    allow = PolicyFactory(
        name="Calendar for everyone", description="Reading is fine", connector=connector
    )
    deny = PolicyFactory(
        name="Block deletes", connector=connector, action=Policy.Action.DENY, all_users=False
    )
    deny.tools.set(tools)
    deny.groups.set([sales, eng, sec])
    approval = PolicyFactory(
        name="Sales changes",
        description="Needs a Security approver",
        connector=connector,
        action=Policy.Action.APPROVAL,
        approval_flow=flow,
        all_users=False,
    )
    approval.groups.set([sales])
    approval.tools.set(tools[:1])
    step_up = PolicyFactory(
        name="Delete repos", connector=github, action=Policy.Action.STEP_UP, all_users=False
    )
    step_up.users.set([requester, PersonFactory(), PersonFactory()])
    return {"allow": allow, "deny": deny, "approval": approval, "step_up": step_up}


def policy_post(connector, /, **overrides) -> dict:
    data = {
        "name": "Ana may manage calendar events",
        "description": "Created on the Policies page",
        "connector": connector.pk,
        "tools": [],
        "all_users": "on",
        "action": Policy.Action.ALLOW,
        "enabled": "on",
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


# --- who may see it -------------------------------------------------------------------------------


def test_list_shows_the_page_to_an_admin(admin_client, listed):
    response = admin_client.get(LIST)
    assert response.status_code == 200
    body = html(response)
    assert "<h1>Policies</h1>" in body
    assert HEADER in body
    for column in COLUMNS:
        assert re.search(rf"<th[^>]*>\s*(<a [^>]*>)?{column}(</a>)?\s*</th>", body), column
    assert ">Create policy</a>" in body
    assert ">Test a call</a>" in body
    assert 'name="q"' in body
    assert 'name="action"' in body
    assert '<a class="nav-link active" href="/policies/"' in body


@pytest.mark.parametrize("persona_client", ["approver", "outsider"], indirect=True)
@pytest.mark.parametrize(
    "path",
    [LIST, "/policies/new/", "/policies/simulate/", "/policies/tools/", "/policies/{pk}/",
     "/policies/{pk}/edit/", "/policies/{pk}/delete/"],
)  # fmt: skip
def test_every_page_is_forbidden_to_others(persona_client, listed, path):
    response = persona_client.get(path.format(pk=listed["allow"].pk))
    assert response.status_code == 403
    assert "Calendar for everyone" not in html(response)


@pytest.mark.parametrize("persona_client", ["approver", "outsider"], indirect=True)
@pytest.mark.parametrize(
    "path",
    ["/policies/new/", "/policies/{pk}/edit/", "/policies/{pk}/delete/", "/policies/preview/"],
)
def test_every_write_is_forbidden_to_others(persona_client, listed, connector, path):
    before = state()
    response = persona_client.post(path.format(pk=listed["allow"].pk), policy_post(connector))
    assert response.status_code == 403
    assert state() == before


@pytest.mark.parametrize(
    "path",
    [LIST, "/policies/new/", "/policies/simulate/", "/policies/{pk}/", "/policies/{pk}/edit/",
     "/policies/{pk}/delete/"],
)  # fmt: skip
def test_anonymous_is_sent_to_login(client, listed, path):
    path = path.format(pk=listed["allow"].pk)
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"].startswith(f"{LOGIN}?next=")


def test_anonymous_post_changes_nothing(client, listed, connector):
    before = state()
    response = client.post("/policies/new/", policy_post(connector))
    assert response.status_code == 302
    assert response["Location"].startswith(LOGIN)
    response = client.post(f"/policies/{listed['allow'].pk}/delete/")
    assert response.status_code == 302
    assert state() == before


# --- the table ------------------------------------------------------------------------------------


def test_list_columns_show_who_what_and_the_action_badge(admin_client, listed):
    body = html(admin_client.get(LIST))
    rows = dict(re.findall(r'<tr data-row="policy-(\d+)"[^>]*>(.*?)</tr>', body, re.S))
    allow = rows[str(listed["allow"].pk)]
    assert "All users" in allow
    assert "All tools" in allow
    assert "Google Calendar" in allow
    assert "icons/connectors/google-calendar" in allow
    assert '<span class="badge action-allow">Allow</span>' in allow
    deny = rows[str(listed["deny"].pk)]
    assert "3 groups" in deny
    # The Tools cell of every list (agenwork.lists.tool_cell): the verb apart from the prefix.
    cell = '<span class="tool-prefix">google-calendar_</span><span>events_create</span></code>'
    assert cell in deny
    assert ">+2</span>" in deny
    assert '<span class="badge action-deny">Deny</span>' in deny
    approval = rows[str(listed["approval"].pk)]
    assert ">Sales</span>" in approval
    assert '<span class="badge action-approval_required">Request approval</span>' in approval
    step_up = rows[str(listed["step_up"].pk)]
    assert "3 users" in step_up
    assert '<span class="badge action-step_up">Step up</span>' in step_up
    assert f'href="/policies/{listed["step_up"].pk}/edit/"' in step_up
    assert f'href="/policies/{listed["step_up"].pk}/delete/"' in step_up


def test_list_is_sorted_by_name_by_default(admin_client, listed):
    names = row_names(admin_client.get(LIST))
    assert names == ["Block deletes", "Calendar for everyone", "Delete repos", "Sales changes"]


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("name", ["Block deletes", "Calendar for everyone", "Delete repos", "Sales changes"]),
        ("-name", ["Sales changes", "Delete repos", "Calendar for everyone", "Block deletes"]),
        # By severity: Allow < Step up < Request approval < Deny.
        ("action", ["Calendar for everyone", "Delete repos", "Sales changes", "Block deletes"]),
        ("-action", ["Block deletes", "Sales changes", "Delete repos", "Calendar for everyone"]),
    ],
)
def test_list_sorts_by_name_and_action_both_ways(admin_client, listed, sort, expected):
    assert row_names(admin_client.get(LIST, {"sort": sort})) == expected


def test_an_unknown_sort_keeps_the_default_order(admin_client, listed):
    response = admin_client.get(LIST, {"sort": "bogus"})
    assert response.status_code == 200
    assert row_names(response)[0] == "Block deletes"


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("calendar", ["Calendar for everyone"]),
        ("SECURITY approver", ["Sales changes"]),  # the description, any case
        ("  delete ", ["Block deletes", "Delete repos"]),
        ("nothing like it", []),
    ],
)
def test_search_looks_in_name_and_description(admin_client, listed, q, expected):
    response = admin_client.get(LIST, {"q": q})
    assert row_names(response) == expected
    if not expected:
        assert "No policies match these filters." in html(response)


def test_action_filter_keeps_one_action(admin_client, listed):
    assert row_names(admin_client.get(LIST, {"action": "deny"})) == ["Block deletes"]
    assert row_names(admin_client.get(LIST, {"action": "approval_required", "q": "sales"})) == [
        "Sales changes"
    ]


def test_an_unknown_action_shows_a_notice_and_every_policy(admin_client, listed):
    response = admin_client.get(LIST, {"action": "maybe"})
    assert response.status_code == 200
    assert "Unknown action “maybe”: showing All actions." in html(response)
    assert row_names(response) == row_names(admin_client.get(LIST))


def test_list_pages_through_many_policies(admin_client, connector):
    for i in range(30):
        PolicyFactory(name=f"Policy {i:02d}", connector=connector)
    first = admin_client.get(LIST)
    assert len(row_names(first)) == 25
    assert "Page 1 of 2" in html(first)
    second = admin_client.get(LIST, {"page": 2})
    assert row_names(second) == [f"Policy {i:02d}" for i in range(25, 30)]
    assert len(row_names(admin_client.get(LIST, {"per_page": 50}))) == 30
    # Bad paging falls back instead of failing.
    assert len(row_names(admin_client.get(LIST, {"per_page": 0}))) == 25
    assert row_names(admin_client.get(LIST, {"page": 99})) == row_names(second)
    assert len(row_names(admin_client.get(LIST, {"page": "abc"}))) == 25


def test_htmx_table_request_returns_only_the_table(admin_client, listed):
    response = admin_client.get(LIST, {"sort": "-name"}, **HTMX_TABLE)
    body = html(response)
    assert "<html" not in body
    assert body.lstrip().startswith('<div id="policies-table"')
    assert 'hx-trigger="policies-changed from:body"' in body
    assert row_names(response)[0] == "Sales changes"


def test_table_reloading_itself_keeps_the_url_the_panel_pushed(admin_client, listed):
    reload = {**HTMX_TABLE, "HTTP_HX_TRIGGER": "policies-table"}
    assert admin_client.get(LIST, **reload)["HX-Push-Url"] == "false"
    assert "HX-Push-Url" not in admin_client.get(LIST, {"sort": "name"}, **HTMX_TABLE)


def capture(client, url: str, params=None, **headers) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url, params or {}, **headers)
    assert response.status_code == 200
    return len(ctx.captured_queries)


def make_policies(n: int, connector, tools, groups, people) -> None:
    for i in range(n):
        policy = PolicyFactory(name=f"Bulk {i:03d}", connector=connector, all_users=i % 2 == 0)
        policy.tools.set(tools[: i % 4])
        policy.groups.set(groups[: i % 4])
        policy.users.set(people[: i % 3])


# session, user with person (sidebar), count, page rows, their tools, their groups
LIST_QUERIES = 6


@pytest.mark.parametrize("params", [{}, {"sort": "-action"}, {"q": "bulk", "action": "allow"}])
def test_list_query_count_does_not_grow_with_rows(admin_client, connector, tools, params):
    groups = [GroupFactory() for _ in range(3)]
    people = [PersonFactory() for _ in range(2)]
    make_policies(5, connector, tools, groups, people)
    few = capture(admin_client, LIST, params)
    few_table = capture(admin_client, LIST, params, **HTMX_TABLE)
    make_policies(25, connector, tools, groups, people)
    assert Policy.objects.count() == 30
    assert capture(admin_client, LIST, params) == few == LIST_QUERIES
    assert capture(admin_client, LIST, params, **HTMX_TABLE) == few_table


# --- the panel: view ------------------------------------------------------------------------------


@pytest.mark.parametrize("headers", [{}, HTMX], ids=["page", "htmx"])
def test_detail_shows_the_policy(admin_client, listed, headers):
    policy = listed["approval"]
    response = admin_client.get(f"/policies/{policy.pk}/", **headers)
    assert response.status_code == 200
    body = html(response)
    assert ("<html" in body) == (not headers)
    assert 'id="policy-panel"' in body
    assert "Sales changes" in body
    assert "Needs a Security approver" in body
    assert "google-calendar_events_create" in body
    assert "Sales approvals" in body
    assert f'href="/policies/{policy.pk}/edit/"' in body


def test_unknown_policy_is_not_found(admin_client, db):
    for path in ("/policies/999999/", "/policies/999999/edit/", "/policies/999999/delete/"):
        assert admin_client.get(path).status_code == 404
    assert admin_client.post("/policies/999999/delete/").status_code == 404


# --- the panel: create ----------------------------------------------------------------------------


@pytest.mark.parametrize("headers", [{}, HTMX], ids=["page", "htmx"])
def test_create_form_opens_in_the_panel_and_changes_nothing(admin_client, listed, headers):
    before = state()
    response = admin_client.get("/policies/new/", **headers)
    assert response.status_code == 200
    body = html(response)
    assert ("<html" in body) == (not headers)
    assert "Create policy" in body
    assert 'hx-get="/policies/tools/"' in body
    assert 'role="switch" name="enabled"' in body
    assert "What would change" in body
    assert "Choose a connector to pick among its tools." in body
    assert state() == before


def test_create_form_offers_the_tools_of_a_connector_given_in_the_url(
    admin_client, connector, tools, github
):
    body = html(admin_client.get("/policies/new/", {"connector": connector.pk}))
    for tool in tools:
        assert f'value="{tool.pk}"' in body
    assert "github_repos_list" not in body


def test_create_via_htmx_saves_shows_the_policy_and_reloads_the_table(
    admin_client, admin_user, connector, tools
):
    data = policy_post(connector, tools=[tools[0].pk, tools[1].pk])
    response = admin_client.post("/policies/new/", data, **HTMX)
    assert response.status_code == 200
    policy = Policy.objects.get()
    assert policy.name == "Ana may manage calendar events"
    assert set(policy.tools.all()) == set(tools[:2])
    assert policy.all_users
    assert policy.created_by == admin_user
    assert "policies-changed" in response["HX-Trigger"]
    assert response["HX-Push-Url"] == f"/policies/{policy.pk}/"
    body = html(response)
    assert "<html" not in body
    assert "Created the policy “Ana may manage calendar events”." in body
    assert f'data-row="policy-{policy.pk}"' in body
    [entry] = AuditEntry.objects.all()
    assert (entry.action, entry.object_type, entry.actor) == ("created", "policy", admin_user)
    assert entry.after["tools"] == [
        "google-calendar_events_create",
        "google-calendar_events_update",
    ]


def test_create_without_htmx_redirects_to_the_policy(admin_client, connector):
    response = admin_client.post("/policies/new/", policy_post(connector))
    policy = Policy.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/policies/{policy.pk}/"
    assert "Created the policy" in html(admin_client.get(response["Location"]))


def test_create_for_chosen_users_and_groups(admin_client, connector, requester):
    sales = GroupFactory(name="Sales")
    data = policy_post(connector, all_users=None, users=[requester.pk], groups=[sales.pk])
    admin_client.post("/policies/new/", data)
    policy = Policy.objects.get()
    assert not policy.all_users
    assert list(policy.users.all()) == [requester]
    assert list(policy.groups.all()) == [sales]


def test_create_request_approval_with_its_flow(admin_client, connector, flow):
    data = policy_post(connector, action=Policy.Action.APPROVAL, approval_flow=flow.pk)
    admin_client.post("/policies/new/", data)
    assert Policy.objects.get().approval_flow == flow


def test_create_disabled_policy(admin_client, connector):
    admin_client.post("/policies/new/", policy_post(connector, enabled=None))
    assert Policy.objects.get().enabled is False


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"action": Policy.Action.APPROVAL}, "A Request approval policy needs an approval flow."),
        ({"approval_flow": "FLOW"}, "Only a Request approval policy uses an approval flow."),
        ({"description": "x" * 161}, "at most 160 characters"),
        ({"name": ""}, "This field is required."),
        ({"name": "   "}, "This field is required."),
        ({"all_users": None}, "Choose all users, some users, or some groups."),
        ({"action": "bogus"}, "Select a valid choice."),
        ({"tools": ["999999"]}, "Select a valid choice."),
        ({"connector": "999999"}, "Select a valid choice."),
        ({"tools": "GITHUB"}, "Choose tools of Google Calendar only."),
    ],
)
def test_create_with_invalid_input_stores_nothing(
    admin_client, connector, github, flow, overrides, error
):
    if overrides.get("approval_flow") == "FLOW":
        overrides["approval_flow"] = flow.pk
    if overrides.get("tools") == "GITHUB":
        overrides["tools"] = [github.tools.first().pk]
    before = state()
    response = admin_client.post("/policies/new/", policy_post(connector, **overrides), **HTMX)
    assert response.status_code == 400
    body = html(response)
    assert error in body
    assert "<html" not in body
    assert "HX-Trigger" not in response
    assert state() == before


def test_description_of_160_characters_is_fine(admin_client, connector):
    admin_client.post("/policies/new/", policy_post(connector, description="x" * 160))
    assert len(Policy.objects.get().description) == 160


def test_invalid_create_without_htmx_renders_the_form_page(admin_client, connector):
    response = admin_client.post("/policies/new/", policy_post(connector, name=""))
    assert response.status_code == 400
    assert "<html" in html(response)
    assert Policy.objects.count() == 0


def test_tools_partial_lists_one_connectors_tools(admin_client, connector, tools, github):
    response = admin_client.get("/policies/tools/", {"connector": github.pk})
    assert response.status_code == 200
    body = html(response)
    assert body.lstrip().startswith('<fieldset class="mb-2 field-tools" id="policy-tools">')
    assert "github_repos_delete" in body
    assert "github_repos_list" in body
    assert "google-calendar" not in body
    for junk in ("", "abc", "999999"):
        body = html(admin_client.get("/policies/tools/", {"connector": junk}))
        assert 'name="tools"' not in body


# --- the panel: edit ------------------------------------------------------------------------------


def test_edit_form_is_filled_in_and_changes_nothing(admin_client, listed, tools, flow):
    policy = listed["approval"]
    before = state()
    response = admin_client.get(f"/policies/{policy.pk}/edit/", **HTMX)
    assert response.status_code == 200
    body = html(response)
    assert "Edit policy" in body
    assert 'value="Sales changes"' in body
    assert re.search(rf'name="tools" value="{tools[0].pk}"[^>]* checked', body)
    assert not re.search(rf'name="tools" value="{tools[1].pk}"[^>]* checked', body)
    assert f'<option value="{flow.pk}" selected>Sales approvals</option>' in body
    assert '<option value="approval_required" selected>Request approval</option>' in body
    assert f'hx-post="/policies/preview/?policy={policy.pk}"' in body
    assert state() == before


def test_edit_saves_and_records_before_and_after(admin_client, admin_user, listed, connector):
    policy = listed["allow"]
    data = policy_post(connector, name="Calendar for all", action=Policy.Action.DENY)
    response = admin_client.post(f"/policies/{policy.pk}/edit/", data, **HTMX)
    assert response.status_code == 200
    assert "policies-changed" in response["HX-Trigger"]
    assert "Saved the policy “Calendar for all”." in html(response)
    policy.refresh_from_db()
    assert (policy.name, policy.action) == ("Calendar for all", Policy.Action.DENY)
    [entry] = AuditEntry.objects.all()
    assert (entry.action, entry.object_id, entry.actor) == ("updated", str(policy.pk), admin_user)
    assert entry.before["name"] == "Calendar for everyone"
    assert entry.before["action"] == "allow"
    assert entry.after["name"] == "Calendar for all"
    assert entry.after["action"] == "deny"
    assert entry.after["connector"] == "google-calendar"


def test_edit_can_move_a_policy_to_another_connector(admin_client, listed, github):
    policy = listed["deny"]
    repo_list = github.tools.get(key="github_repos_list")
    admin_client.post(f"/policies/{policy.pk}/edit/", policy_post(github, tools=[repo_list.pk]))
    policy.refresh_from_db()
    assert policy.connector == github
    assert list(policy.tools.all()) == [repo_list]


def test_invalid_edit_stores_nothing(admin_client, listed, connector, github):
    policy = listed["allow"]
    before = state()
    other_tool = github.tools.first().pk
    response = admin_client.post(
        f"/policies/{policy.pk}/edit/", policy_post(connector, tools=[other_tool]), **HTMX
    )
    assert response.status_code == 400
    assert "Choose tools of Google Calendar only." in html(response)
    assert state() == before


# --- the panel: delete ----------------------------------------------------------------------------


@pytest.mark.parametrize("headers", [{}, HTMX], ids=["page", "htmx"])
def test_delete_asks_first_and_shows_what_goes(admin_client, listed, headers):
    policy = listed["deny"]
    before = state()
    response = admin_client.get(f"/policies/{policy.pk}/delete/", **headers)
    assert response.status_code == 200
    body = html(response)
    assert "Delete the policy <strong>Block deletes</strong>?" in body
    assert "google-calendar_events_delete" in body
    assert "Sales, Engineering, Security" in body or "Engineering, Sales, Security" in body
    assert f'hx-post="/policies/{policy.pk}/delete/"' in body
    assert state() == before
    assert Policy.objects.filter(pk=policy.pk).exists()


def test_delete_via_htmx_removes_records_and_reloads_the_table(admin_client, admin_user, listed):
    policy = listed["deny"]
    response = admin_client.post(f"/policies/{policy.pk}/delete/", **HTMX)
    assert response.status_code == 200
    assert "policies-changed" in response["HX-Trigger"]
    assert response["HX-Push-Url"] == LIST
    assert "Deleted the policy “Block deletes”." in html(response)
    assert not Policy.objects.filter(pk=policy.pk).exists()
    [entry] = AuditEntry.objects.all()
    assert (entry.action, entry.actor, entry.after) == ("deleted", admin_user, None)
    assert entry.before["name"] == "Block deletes"
    assert entry.before["groups"] == ["Engineering", "Sales", "Security"]
    assert len(entry.before["tools"]) == 3


def test_delete_without_htmx_redirects_to_the_list(admin_client, listed):
    response = admin_client.post(f"/policies/{listed['allow'].pk}/delete/")
    assert response.status_code == 302
    assert response["Location"] == LIST
    assert "Deleted the policy “Calendar for everyone”." in html(admin_client.get(LIST))


# --- methods and CSRF -----------------------------------------------------------------------------


def test_only_get_and_post_are_allowed(admin_client, listed):
    pk = listed["allow"].pk
    assert admin_client.get("/policies/preview/").status_code == 405
    assert admin_client.post("/policies/simulate/").status_code == 405
    assert admin_client.post(f"/policies/{pk}/").status_code == 405
    for path in ("/policies/new/", f"/policies/{pk}/edit/", f"/policies/{pk}/delete/"):
        assert admin_client.put(path).status_code == 405
        assert admin_client.delete(path).status_code == 405
    assert Policy.objects.filter(pk=pk).exists()


@pytest.fixture
def csrf_client(admin_user) -> Client:
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_user)
    return client


def test_writes_without_a_csrf_token_are_refused(csrf_client, listed, connector):
    pk = listed["allow"].pk
    before = state()
    for path in ("/policies/new/", f"/policies/{pk}/edit/", f"/policies/{pk}/delete/"):
        response = csrf_client.post(path, policy_post(connector), **HTMX)
        assert response.status_code == 403, path
    assert state() == before


def test_writes_with_the_csrf_token_of_the_page_succeed(csrf_client, connector):
    page = html(csrf_client.get("/policies/new/"))
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    data = {**policy_post(connector), "csrfmiddlewaretoken": token}
    response = csrf_client.post("/policies/new/", data)
    assert response.status_code == 302
    assert Policy.objects.count() == 1

"""The Approval flows page: the list, the panel (view, create and edit in steps, delete), roles."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from approval_flows.models import ApprovalFlow, ApprovalLevel
from audit.models import AuditEntry
from policies.models import Policy
from requests_app.models import AccessRequest
from tests.factories import (
    ApprovalFlowFactory,
    ApprovalLevelFactory,
    GroupFactory,
    PolicyFactory,
)

LIST = "/approval-flows/"
NEW = "/approval-flows/new/"
HEADER = "Define who approves access requests for policies that require approval"
COLUMNS = ("Flow Name", "Description", "Type", "Used channels", "Last modified date")
HTMX = {"HTTP_HX_REQUEST": "true"}
HTMX_TABLE = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "flows-table"}
LOGIN = "/accounts/login/"


def html(response) -> str:
    return response.content.decode()


def row_names(response) -> list[str]:
    """The flow names of the table rows, top to bottom."""
    return re.findall(r'class="flow-link"[^>]*>([^<]+)</a>', html(response))


def state() -> tuple:
    """Everything a flow write could change."""
    return (
        sorted(
            ApprovalFlow.objects.values_list(
                "pk", "name", "description", "enabled", "min_approvals", "updated_at"
            )
        ),
        sorted(ApprovalLevel.objects.values_list("pk", "flow_id", "position")),
        sorted(ApprovalLevel.people.through.objects.values_list("approvallevel_id", "person_id")),
        sorted(ApprovalLevel.groups.through.objects.values_list("approvallevel_id", "group_id")),
        AuditEntry.objects.count(),
    )


def step_shown(response) -> int:
    """The step the form shows (the fieldset without `hidden`)."""
    shown = re.findall(r'<fieldset class="step step-(\w+)">', html(response))
    assert len(shown) == 1, shown
    return ("general", "channels", "approvers", "timing").index(shown[0]) + 1


def row_html(response, name: str) -> str:
    """The table row of one flow."""
    for row in re.findall(r"<tr\b.*?</tr>", html(response), re.S):
        if f">{name}</a>" in row:
            return row
    raise AssertionError(f"no row for {name}")


def errors(response) -> list[str]:
    return re.findall(r'class="text-danger small field-error"[^>]*>([^<]+)<', html(response))


@pytest.fixture
def listed(flow, people):
    """Three flows whose name order and last-modified order differ."""
    eng = ApprovalFlowFactory(name="Engineering changes", description="Deploy approvals")
    night = ApprovalFlowFactory(
        name="Night shift", description="On-call approvers", channel_email=False, channel_sms=True
    )
    for each in (eng, night):
        ApprovalLevelFactory(flow=each).people.add(people["mia"])
    now = timezone.now()
    for name, days in (("Sales approvals", 3), ("Engineering changes", 1), ("Night shift", 10)):
        ApprovalFlow.objects.filter(name=name).update(updated_at=now - timedelta(days=days))
    return {"sales": flow, "eng": eng, "night": night}


def flow_post(people, group, **overrides) -> dict:
    """A complete draft, as the last step of the form posts it with Save."""
    data = {
        "step": "4",
        "nav": "save",
        "name": "Two-level approvals",
        "description": "Security first, then Finn",
        "enabled": "on",
        "channels": ["email", "sms"],
        "level_count": "2",
        "level_1_people": [people["mia"].pk],
        "level_1_groups": [group.pk],
        "level_1_backup_people": [people["finn"].pk],
        "level_2_people": [people["finn"].pk],
        "min_approvals": "2",
        "reminder_after": "1",
        "reminder_after_unit": "hours",
        "reminder_repeat": "",
        "reminder_repeat_unit": "hours",
        "max_reminders": "3",
        "escalate_after": "90",
        "escalate_after_unit": "minutes",
        "timeout_after": "2",
        "timeout_after_unit": "days",
        "timeout_action": "deny",
        "notify_requester": "on",
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


# --- who may see it -------------------------------------------------------------------------


def test_list_shows_the_page_to_an_admin(admin_client, listed):
    response = admin_client.get(LIST)
    assert response.status_code == 200
    body = html(response)
    assert "<h1>Approval flows</h1>" in body
    assert HEADER in body
    for column in COLUMNS:
        assert re.search(rf">\s*{column}\s*<", body), column
    assert 'href="/approval-flows/new/"' in body
    assert ">Create flow</a>" in body
    assert 'id="flows-table"' in body
    assert row_names(response) == ["Engineering changes", "Night shift", "Sales approvals"]


def paths(flow) -> list[str]:
    base = f"/approval-flows/{flow.pk}/"
    return [LIST, NEW, base, f"{base}edit/", f"{base}delete/"]


@pytest.mark.parametrize("persona_client", ["approver", "outsider"], indirect=True)
def test_every_page_and_write_is_forbidden_to_others(persona_client, flow, people):
    before = state()
    for path in paths(flow):
        assert persona_client.get(path).status_code == 403, path
        assert persona_client.post(
            path, flow_post(people, flow.levels.get().groups.get())
        ).status_code in (
            403,
            405,
        ), path
    assert state() == before


def test_anonymous_is_sent_to_login_and_changes_nothing(client, flow, people, security_group):
    before = state()
    for path in paths(flow):
        response = client.get(path)
        assert response.status_code == 302
        assert response["Location"] == f"{LOGIN}?next={path}"
        assert client.post(path, flow_post(people, security_group)).status_code == 302
    assert state() == before


# --- the list -------------------------------------------------------------------------------


def test_list_columns_show_description_type_channels_and_dates(admin_client, listed):
    response = admin_client.get(LIST)
    night = row_html(response, "Night shift")
    assert "On-call approvers" in night
    assert ">Global</span>" in night
    assert '<span class="badge channel-sms">SMS</span>' in night
    assert "channel-email" not in night
    assert re.search(
        r"<time datetime=\"[^\"]+\" title=\"[^\"]+\">.*?\d\d \w+ \d{4}.*?10 days ago", night
    )
    sales = row_html(response, "Sales approvals")
    assert (
        '<span class="badge channel-email">Email</span> <span class="badge channel-sms">' in sales
    )
    assert "3 days ago" in sales
    pk = listed["sales"].pk
    # The name opens the panel; the row menu's Edit and Delete too.
    assert (
        f'href="/approval-flows/{pk}/" hx-get="/approval-flows/{pk}/" hx-target="#panel"' in sales
    )
    assert f'href="/approval-flows/{pk}/edit/"' in sales
    assert f'href="/approval-flows/{pk}/delete/"' in sales


def test_a_disabled_flow_says_so(admin_client, listed):
    ApprovalFlow.objects.filter(pk=listed["eng"].pk).update(enabled=False)
    response = admin_client.get(LIST)
    assert ">Disabled</span>" in row_html(response, "Engineering changes")
    assert ">Disabled</span>" not in row_html(response, "Night shift")


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("name", ["Engineering changes", "Night shift", "Sales approvals"]),
        ("-name", ["Sales approvals", "Night shift", "Engineering changes"]),
        ("modified", ["Night shift", "Sales approvals", "Engineering changes"]),
        ("-modified", ["Engineering changes", "Sales approvals", "Night shift"]),
    ],
)
def test_list_sorts_by_name_and_last_modified_both_ways(admin_client, listed, sort, expected):
    response = admin_client.get(LIST, {"sort": sort})
    assert row_names(response) == expected
    # Sort links keep the other parameters and toggle the direction.
    assert "sort=" in html(response)


def test_an_unknown_sort_keeps_the_name_order_and_says_so(admin_client, listed):
    response = admin_client.get(LIST, {"sort": "colour"})
    assert row_names(response) == ["Engineering changes", "Night shift", "Sales approvals"]
    assert "Unknown sort “colour”" in html(response)


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("night", ["Night shift"]),
        ("DEPLOY", ["Engineering changes"]),
        ("approv", ["Engineering changes", "Night shift", "Sales approvals"]),
        ("nothing like it", []),
    ],
)
def test_search_looks_in_name_and_description(admin_client, listed, q, expected):
    assert row_names(admin_client.get(LIST, {"q": q})) == expected


@pytest.mark.parametrize(
    ("channel", "expected"),
    [
        ("email", ["Engineering changes", "Sales approvals"]),
        ("sms", ["Night shift", "Sales approvals"]),
        ("", ["Engineering changes", "Night shift", "Sales approvals"]),
    ],
)
def test_channel_filter_keeps_the_flows_that_use_it(admin_client, listed, channel, expected):
    assert row_names(admin_client.get(LIST, {"channel": channel})) == expected


def test_an_unknown_channel_shows_a_notice(admin_client, listed):
    response = admin_client.get(LIST, {"channel": "pigeon"})
    assert response.status_code == 200
    assert "Unknown channel “pigeon”" in html(response)


def test_search_filter_and_sort_combine(admin_client, listed):
    response = admin_client.get(LIST, {"q": "a", "channel": "sms", "sort": "-name"})
    assert row_names(response) == ["Sales approvals", "Night shift"]


def test_htmx_table_request_returns_only_the_table(admin_client, listed):
    response = admin_client.get(LIST, {"sort": "-name"}, **HTMX_TABLE)
    body = html(response)
    assert "<html" not in body
    assert body.lstrip().startswith('<div id="flows-table"')
    assert 'hx-trigger="flows-changed from:body"' in body
    assert row_names(response)[0] == "Sales approvals"


def capture(client, url: str, params=None, **headers) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url, params or {}, **headers)
    assert response.status_code == 200
    return len(ctx.captured_queries)


def make_flows(n: int, people, group, start: int) -> None:
    for i in range(start, start + n):
        flow = ApprovalFlowFactory(name=f"Bulk {i:03d}", channel_sms=i % 2 == 0)
        level = ApprovalLevelFactory(flow=flow)
        level.people.add(people["mia"])
        level.groups.add(group)


# session, user with person (sidebar), count, page rows
LIST_QUERIES = 4


@pytest.mark.parametrize("params", [{}, {"sort": "-modified"}, {"q": "bulk", "channel": "sms"}])
def test_list_query_count_does_not_grow_with_rows(admin_client, people, security_group, params):
    make_flows(5, people, security_group, start=0)
    few = capture(admin_client, LIST, params)
    few_table = capture(admin_client, LIST, params, **HTMX_TABLE)
    make_flows(25, people, security_group, start=5)
    assert ApprovalFlow.objects.count() == 30
    assert capture(admin_client, LIST, params) == few == LIST_QUERIES
    assert capture(admin_client, LIST, params, **HTMX_TABLE) == few_table


# --- the panel: view ------------------------------------------------------------------------


@pytest.mark.parametrize("headers", [{}, HTMX], ids=["page", "htmx"])
def test_detail_shows_the_flow_and_what_uses_it(admin_client, flow, access_request, headers):
    response = admin_client.get(f"/approval-flows/{flow.pk}/", **headers)
    assert response.status_code == 200
    body = html(response)
    assert ("<html" in body) == (headers == {})
    assert '<div class="fw-semibold flow-name">Sales approvals</div>' in body
    assert "Security" in body
    assert "<dt>Timeout</dt><dd>After 1 day: Auto-approve</dd>" in body
    assert "<dt>Reminders</dt><dd>After 1 hour (at most 3)</dd>" in body
    assert f'href="/requests/{access_request.public_id}/"' in body
    assert f'href="/approval-flows/{flow.pk}/edit/"' in body


def test_unknown_flow_is_not_found(admin_client, db):
    for suffix in ("", "edit/", "delete/"):
        assert admin_client.get(f"/approval-flows/999999/{suffix}").status_code == 404


# --- create, step by step -------------------------------------------------------------------


@pytest.mark.parametrize("headers", [{}, HTMX], ids=["page", "htmx"])
def test_create_form_opens_on_the_first_step_and_changes_nothing(admin_client, flow, headers):
    before = state()
    response = admin_client.get(NEW, **headers)
    assert response.status_code == 200
    body = html(response)
    assert ("<html" in body) == (headers == {})
    assert '<h2 class="h5 mb-0">Create flow</h2>' in body
    assert step_shown(response) == 1
    assert 'aria-current="step"' in body
    for title in ("General", "Channels", "Approvers", "Timing"):
        assert title in body
    # Every step is in the form (hidden but posted), so the draft travels with each step.
    assert 'name="timeout_after"' in body
    assert 'name="level_1_people"' in body
    assert state() == before


def test_next_checks_the_current_step_only(admin_client, people):
    response = admin_client.post(NEW, {"step": "1", "nav": "next", "name": ""}, **HTMX)
    assert response.status_code == 400
    assert step_shown(response) == 1
    assert errors(response) == ["This field is required."]
    response = admin_client.post(NEW, {"step": "1", "nav": "next", "name": "Fine"}, **HTMX)
    assert response.status_code == 200
    assert step_shown(response) == 2
    # The next step is shown fresh: no errors before it was tried.
    assert errors(response) == []


def test_steps_work_without_javascript_as_full_pages(admin_client, people, security_group):
    draft = flow_post(people, security_group, step="1", nav="next")
    response = admin_client.post(NEW, draft)
    assert response.status_code == 200
    assert "<html" in html(response)
    assert step_shown(response) == 2
    assert ApprovalFlow.objects.count() == 0


def test_back_keeps_the_draft_without_checking_it(admin_client, people):
    draft = {"step": "3", "nav": "back", "name": "Draft", "channels": ["sms"], "level_count": "1"}
    response = admin_client.post(NEW, draft, **HTMX)
    assert response.status_code == 200
    assert step_shown(response) == 2
    body = html(response)
    assert 'name="name" value="Draft"' in body
    assert re.search(r'value="sms"[^>]*checked', body)
    assert ApprovalFlow.objects.count() == 0


def test_jumping_ahead_stops_at_the_first_step_to_fix(admin_client, people):
    draft = {"step": "1", "nav": "goto-4", "name": "Draft", "level_count": "1"}
    response = admin_client.post(NEW, draft, **HTMX)
    assert response.status_code == 400
    assert step_shown(response) == 2
    assert errors(response) == ["Choose at least one channel: Email, SMS or both."]


def test_add_and_remove_levels_rewrite_the_draft(admin_client, people, security_group):
    draft = flow_post(people, security_group, step="3")
    response = admin_client.post(NEW, {**draft, "nav": "add-level"}, **HTMX)
    assert response.status_code == 200
    assert step_shown(response) == 3
    body = html(response)
    assert 'name="level_count" value="3"' in body
    assert 'id="level-3"' in body
    assert errors(response) == []
    response = admin_client.post(NEW, {**draft, "nav": "remove-level-1"}, **HTMX)
    body = html(response)
    assert 'name="level_count" value="1"' in body
    # Level 2 (Finn) moved up to level 1.
    finn = people["finn"].pk
    assert re.search(rf'name="level_1_people"[^>]*>.*?value="{finn}" selected', body, re.S)
    assert "Remove level" not in body
    assert ApprovalFlow.objects.count() == 0


def test_create_with_two_levels_via_htmx_shows_the_flow_and_reloads_the_table(
    admin_client, admin_user, people, security_group
):
    response = admin_client.post(NEW, flow_post(people, security_group), **HTMX)
    assert response.status_code == 200
    flow = ApprovalFlow.objects.get(name="Two-level approvals")
    assert json.loads(response["HX-Trigger"]) == {"flows-changed": {}}
    assert response["HX-Push-Url"] == f"/approval-flows/{flow.pk}/"
    body = html(response)
    assert "Created the flow “Two-level approvals”." in body
    assert '<div class="fw-semibold flow-name">Two-level approvals</div>' in body
    assert (flow.channel_email, flow.channel_sms, flow.min_approvals) == (True, True, 2)
    assert flow.escalate_after == timedelta(minutes=90)
    assert flow.timeout_after == timedelta(days=2)
    assert (flow.timeout_action, flow.notify_requester, flow.reminder_repeat) == (
        "deny",
        True,
        None,
    )
    first, second = flow.levels.order_by("position")
    assert list(first.groups.all()) == [security_group]
    assert list(first.backup_people.all()) == [people["finn"]]
    assert list(second.people.all()) == [people["finn"]]
    entry = AuditEntry.objects.get(object_type="approval_flow", object_id=str(flow.pk))
    assert (entry.action, entry.actor, entry.before) == ("created", admin_user, None)
    assert entry.after["levels"][1]["people"] == ["finn@example.com"]
    assert entry.after["escalate_after_seconds"] == 5400


def test_create_without_htmx_redirects_to_the_flow(admin_client, people, security_group):
    response = admin_client.post(NEW, flow_post(people, security_group))
    flow = ApprovalFlow.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/approval-flows/{flow.pk}/"


def test_next_on_the_last_step_saves(admin_client, people, security_group):
    response = admin_client.post(NEW, flow_post(people, security_group, nav="next"), **HTMX)
    assert response.status_code == 200
    assert ApprovalFlow.objects.filter(name="Two-level approvals").exists()


@pytest.mark.parametrize(
    ("overrides", "step", "message"),
    [
        ({"name": "Sales approvals"}, 1, "Another flow already has this name."),
        ({"name": "sales APPROVALS"}, 1, "Another flow already has this name."),
        ({"channels": None}, 2, "Choose at least one channel: Email, SMS or both."),
        (
            {"level_2_people": None},
            3,
            "Choose at least one person or group for level 2: "
            "backup approvers alone are never notified.",
        ),
        (
            {"min_approvals": "3"},
            3,
            "Level 1 reaches only 2 active approvers: ask for 2 or fewer, or add approvers.",
        ),
        ({"min_approvals": "0"}, 3, "Ensure this value is greater than or equal to 1."),
        ({"timeout_after": ""}, 4, "Say when an undecided request is denied."),
        ({"timeout_after": "", "timeout_action": "expire"}, 4, "Say when an undecided request"),
        ({"timeout_action": "wait"}, 4, "Choose what happens after this time"),
        ({"timeout_action": "shrug"}, 4, "Select a valid choice."),
        ({"timeout_after": "two"}, 4, "Enter a whole number."),
        ({"escalate_after": "3", "escalate_after_unit": "days"}, 4, "Escalate before the timeout"),
        ({"level_count": "1", "level_2_people": None}, 4, "Escalation needs a second level"),
    ],
)
def test_create_with_invalid_input_shows_the_step_to_fix_and_stores_nothing(
    admin_client, flow, people, security_group, overrides, step, message
):
    before = state()
    response = admin_client.post(NEW, flow_post(people, security_group, **overrides), **HTMX)
    assert response.status_code == 400
    assert step_shown(response) == step
    assert any(message in error for error in errors(response)), errors(response)
    assert re.search(r'class="stepper-item[^"]*has-errors', html(response))
    assert state() == before


def test_invalid_create_without_htmx_renders_the_form_page(admin_client, people, security_group):
    response = admin_client.post(NEW, flow_post(people, security_group, name=""))
    assert response.status_code == 400
    assert "<html" in html(response)
    assert ApprovalFlow.objects.count() == 0


# --- edit -----------------------------------------------------------------------------------


def test_edit_form_is_filled_in_and_changes_nothing(admin_client, flow, security_group):
    flow.escalate_after = None
    flow.reminder_after = timedelta(minutes=90)
    flow.save()
    before = state()
    response = admin_client.get(f"/approval-flows/{flow.pk}/edit/", **HTMX)
    assert response.status_code == 200
    body = html(response)
    assert "Edit flow" in body
    assert 'name="name" value="Sales approvals"' in body
    assert re.search(
        rf'name="level_1_groups"[^>]*>.*?value="{security_group.pk}" selected', body, re.S
    )
    assert 'name="reminder_after" value="90"' in body
    assert re.search(r'name="reminder_after_unit"[^>]*>.*?value="minutes" selected', body, re.S)
    assert 'name="timeout_after" value="1"' in body
    assert re.search(r'name="timeout_after_unit"[^>]*>.*?value="days" selected', body, re.S)
    # Save is offered on every step of an edit.
    assert ">Save flow</button>" in body
    assert state() == before


def test_edit_saves_and_records_before_and_after(admin_client, admin_user, flow, people):
    data = flow_post(people, flow.levels.get().groups.get(), name="Sales approvals v2")
    response = admin_client.post(f"/approval-flows/{flow.pk}/edit/", data, **HTMX)
    assert response.status_code == 200
    assert json.loads(response["HX-Trigger"]) == {"flows-changed": {}}
    assert "Saved the flow “Sales approvals v2”." in html(response)
    flow.refresh_from_db()
    assert (flow.name, flow.levels.count()) == ("Sales approvals v2", 2)
    entry = AuditEntry.objects.get(object_id=str(flow.pk), action="updated")
    assert (entry.actor, entry.before["name"], entry.after["name"]) == (
        admin_user,
        "Sales approvals",
        "Sales approvals v2",
    )
    assert entry.before["levels"] == [
        {"position": 1, "people": [], "groups": ["Security"], "backup_people": []}
    ]
    assert len(entry.after["levels"]) == 2
    assert (entry.before["timeout_after_seconds"], entry.after["timeout_after_seconds"]) == (
        86400,
        172800,
    )


def test_edit_may_keep_its_own_name(admin_client, flow, people):
    data = flow_post(people, flow.levels.get().groups.get(), name="Sales approvals")
    response = admin_client.post(f"/approval-flows/{flow.pk}/edit/", data, **HTMX)
    assert response.status_code == 200


# --- refused while in use -------------------------------------------------------------------


@pytest.fixture
def in_use(flow, connector, access_request):
    """The flow named by a policy and waited on by a pending request."""
    policy = PolicyFactory(
        name="Sales calendar changes",
        connector=connector,
        action=Policy.Action.APPROVAL,
        approval_flow=flow,
        all_users=False,
    )
    return {"flow": flow, "policy": policy, "request": access_request}


def assert_lists_the_uses(body: str, in_use) -> None:
    assert f'<a href="/policies/{in_use["policy"].pk}/">Sales calendar changes</a>' in body
    assert "Pending requests (1)" in body
    assert f'href="/requests/{in_use["request"].public_id}/"' in body
    assert "Ana Lopez" in body


def test_disable_is_refused_with_what_uses_the_flow(admin_client, in_use, people):
    flow = in_use["flow"]
    before = state()
    data = flow_post(people, flow.levels.get().groups.get(), name=flow.name, enabled=None)
    response = admin_client.post(f"/approval-flows/{flow.pk}/edit/", data, **HTMX)
    assert response.status_code == 409
    body = html(response)
    assert "Cannot disable this flow: it is used by 1 policy and 1 pending request." in body
    assert_lists_the_uses(body, in_use)
    assert step_shown(response) == 1
    assert state() == before


def test_delete_asks_first_when_nothing_uses_the_flow(admin_client, flow):
    before = state()
    response = admin_client.get(f"/approval-flows/{flow.pk}/delete/", **HTMX)
    assert response.status_code == 200
    body = html(response)
    assert "Delete the flow <strong>Sales approvals</strong>?" in body
    assert ">Delete flow</button>" in body
    assert state() == before


def test_delete_page_says_what_uses_the_flow_and_offers_no_button(admin_client, in_use):
    response = admin_client.get(f"/approval-flows/{in_use['flow'].pk}/delete/", **HTMX)
    assert response.status_code == 200
    body = html(response)
    assert "This flow cannot be deleted while it is in use." in body
    assert_lists_the_uses(body, in_use)
    assert ">Delete flow</button>" not in body


def test_delete_is_refused_while_a_policy_or_a_pending_request_uses_it(admin_client, in_use):
    flow = in_use["flow"]
    before = state()
    response = admin_client.post(f"/approval-flows/{flow.pk}/delete/", **HTMX)
    assert response.status_code == 409
    body = html(response)
    assert "Cannot delete this flow: it is used by 1 policy and 1 pending request." in body
    assert_lists_the_uses(body, in_use)
    assert state() == before
    # Without the policy, the pending request alone still holds it.
    in_use["policy"].delete()
    response = admin_client.post(f"/approval-flows/{flow.pk}/delete/", **HTMX)
    assert response.status_code == 409
    assert "Cannot delete this flow: it is used by 1 pending request." in html(response)
    assert ApprovalFlow.objects.filter(pk=flow.pk).exists()


def test_delete_via_htmx_removes_records_and_reloads_the_table(
    admin_client, admin_user, flow, access_request
):
    AccessRequest.objects.filter(pk=access_request.pk).update(status="approved")
    response = admin_client.post(f"/approval-flows/{flow.pk}/delete/", **HTMX)
    assert response.status_code == 200
    assert json.loads(response["HX-Trigger"]) == {"flows-changed": {}}
    assert response["HX-Push-Url"] == LIST
    assert "Deleted the flow “Sales approvals”." in html(response)
    assert not ApprovalFlow.objects.filter(pk=flow.pk).exists()
    access_request.refresh_from_db()
    assert access_request.flow_id is None
    entry = AuditEntry.objects.get(object_id=str(flow.pk), action="deleted")
    assert (entry.actor, entry.before["name"], entry.after) == (admin_user, "Sales approvals", None)


def test_delete_without_htmx_redirects_to_the_list(admin_client, flow):
    response = admin_client.post(f"/approval-flows/{flow.pk}/delete/")
    assert response.status_code == 302
    assert response["Location"] == LIST
    assert ApprovalFlow.objects.count() == 0


# --- methods, CSRF, GET is safe -------------------------------------------------------------


def test_only_get_and_post_are_allowed(admin_client, flow):
    assert admin_client.post(f"/approval-flows/{flow.pk}/").status_code == 405
    for path in (NEW, f"/approval-flows/{flow.pk}/edit/", f"/approval-flows/{flow.pk}/delete/"):
        assert admin_client.put(path).status_code == 405
        assert admin_client.delete(path).status_code == 405
    assert ApprovalFlow.objects.filter(pk=flow.pk).exists()


def test_get_never_changes_anything(admin_client, flow, people, security_group):
    before = state()
    query = flow_post(people, security_group, name="By GET")
    for path in paths(flow):
        assert admin_client.get(path, query).status_code == 200, path
    assert state() == before


@pytest.fixture
def csrf_client(admin_user) -> Client:
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_user)
    return client


def test_writes_without_a_csrf_token_are_refused(csrf_client, flow, people, security_group):
    before = state()
    data = flow_post(people, security_group)
    for path in (NEW, f"/approval-flows/{flow.pk}/edit/", f"/approval-flows/{flow.pk}/delete/"):
        assert csrf_client.post(path, data, **HTMX).status_code == 403, path
    assert state() == before


def test_writes_with_the_csrf_token_of_the_page_succeed(csrf_client, people, security_group):
    page = html(csrf_client.get(NEW))
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    data = {**flow_post(people, security_group), "csrfmiddlewaretoken": token}
    assert csrf_client.post(NEW, data).status_code == 302
    assert ApprovalFlow.objects.count() == 1


def test_a_group_without_members_cannot_meet_the_minimum(admin_client, people):
    empty = GroupFactory(name="Nobody yet")
    data = flow_post(
        people, empty, level_1_people=None, level_count="1", level_2_people=None, min_approvals="1"
    )
    data.pop("escalate_after")
    response = admin_client.post(NEW, data, **HTMX)
    assert response.status_code == 400
    assert "Level 1 reaches nobody" in " ".join(errors(response))

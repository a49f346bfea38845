"""The Users page: Users and Groups tabs, panels, Lock and Unlock; roles, CSRF, query counts."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from audit.models import AuditEntry
from directory.models import Person
from policies.models import DecisionLog, Policy
from policies.snapshot import current_snapshot
from tests.directory.conftest import commit_snapshot_changes
from tests.factories import GroupFactory, PersonFactory, PolicyFactory, ToolFactory, make_request

HTMX = {"HTTP_HX_REQUEST": "true"}
HTMX_TABLE = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "people-table"}


def html(response) -> str:
    return response.content.decode()


def emails(response) -> list[str]:
    return re.findall(r"<td[^>]*>([\w.+-]+@[\w.-]+)</td>", html(response))


@pytest.fixture
def lee(db):
    return PersonFactory(name="Lee Park", email="lee@example.com", mfa_enabled=True)


def pages(person: Person, group_pk: int) -> list[str]:
    return ["/users/", f"/users/{person.pk}/", "/users/groups/", f"/users/groups/{group_pk}/"]


def test_users_tab_shows_the_columns_to_an_admin(admin_client, lee, requester):
    Person.objects.filter(pk=lee.pk).update(created_at=timezone.now() - timezone.timedelta(days=3))
    response = admin_client.get("/users/")
    assert response.status_code == 200
    text = html(response)
    for column in ("User", "Email", "Status", "MFA", "Created", "View details"):
        assert column in text
    assert 'class="avatar" aria-hidden="true">LP</span>' in text
    assert "lee@example.com" in text and "Enabled" in text
    assert "<time datetime=" in text and "3 days ago" in text


@pytest.mark.parametrize("persona_client", ["approver", "outsider"], indirect=True)
def test_every_page_is_forbidden_to_others(persona_client, lee, security_group):
    for path in pages(lee, security_group.pk):
        assert persona_client.get(path).status_code == 403, path
    for action in ("lock", "unlock"):
        assert persona_client.post(f"/users/{lee.pk}/{action}/").status_code == 403
    lee.refresh_from_db()
    assert lee.status == Person.Status.ACTIVE


def test_anonymous_is_sent_to_login(client, lee, security_group):
    for path in pages(lee, security_group.pk):
        response = client.get(path)
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    client.post(f"/users/{lee.pk}/lock/")
    lee.refresh_from_db()
    assert lee.status == Person.Status.ACTIVE


def test_search_by_email_or_name_and_status_filter(admin_client, lee, requester):
    PersonFactory(email="locked@example.com", status=Person.Status.LOCKED)
    PersonFactory(email="gone@example.com", deactivated_at=timezone.now())
    assert emails(admin_client.get("/users/", {"q": "LEE@"})) == ["lee@example.com"]
    assert emails(admin_client.get("/users/", {"q": "ana lo"})) == ["ana@example.com"]
    assert emails(admin_client.get("/users/", {"status": "locked"})) == ["locked@example.com"]
    assert emails(admin_client.get("/users/", {"status": "deactivated"})) == ["gone@example.com"]
    bad = admin_client.get("/users/", {"status": "sleeping"})
    assert bad.status_code == 200 and "Unknown status" in html(bad)


def test_sort_by_email_mfa_and_created(admin_client, db):
    b = PersonFactory(email="b@example.com", mfa_enabled=True)
    a = PersonFactory(email="a@example.com")
    c = PersonFactory(email="c@example.com", mfa_enabled=True)
    Person.objects.filter(pk=b.pk).update(created_at=timezone.now() - timezone.timedelta(days=3))
    assert emails(admin_client.get("/users/")) == [
        "a@example.com",
        "b@example.com",
        "c@example.com",
    ]
    assert emails(admin_client.get("/users/", {"sort": "-email"}))[0] == "c@example.com"
    assert emails(admin_client.get("/users/", {"sort": "-mfa"})) == [c.email, b.email, a.email]
    assert emails(admin_client.get("/users/", {"sort": "created"}))[0] == "b@example.com"


def test_htmx_table_request_gets_the_table_only(admin_client, lee):
    response = admin_client.get("/users/", {"q": "lee"}, **HTMX_TABLE)
    text = html(response)
    assert text.lstrip().startswith('<div id="people-table"')
    assert "<html" not in text


def _grow(n: int, group, connector) -> None:
    for i in range(n):
        person = PersonFactory()
        group.members.add(person)
        PolicyFactory(connector=connector, all_users=False).groups.add(group)
        if i % 2:
            PersonFactory(status=Person.Status.LOCKED)


def test_list_query_count_is_constant(admin_client, django_assert_num_queries, connector):
    group = GroupFactory(name="Sales")
    _grow(2, group, connector)
    for path in ("/users/", "/users/groups/"):
        admin_client.get(path)
        with django_assert_num_queries(4):  # session, user with person, count, page
            admin_client.get(path)
    _grow(30, group, connector)
    for path in ("/users/", "/users/groups/"):
        with django_assert_num_queries(4):
            admin_client.get(path)


@pytest.fixture
def scenario(requester, tools, flow, connector):
    """Ana in Sales: create allowed to all, update needs approval for Sales, delete denied."""
    sales = requester.groups.get()
    PolicyFactory(name="Create for all", connector=connector, action=Policy.Action.ALLOW).tools.add(
        tools[0]
    )
    approval = PolicyFactory(
        name="Sales updates",
        connector=connector,
        all_users=False,
        action=Policy.Action.APPROVAL,
        approval_flow=flow,
    )
    approval.tools.add(tools[1])
    approval.groups.add(sales)
    PolicyFactory(name="Others only", connector=connector, all_users=False).users.add(
        PersonFactory()
    )
    make_request(requester=requester, tools=tools[1:2], flow=flow, note="QBR")
    DecisionLog.objects.create(
        created_at=timezone.now(),
        user_ref="ANA@example.com",
        connector_slug=connector.slug,
        tools=[tools[0].key],
        tool_decisions=[],
        decision="allow",
        reason_code="allowed",
    )
    DecisionLog.objects.create(
        created_at=timezone.now(),
        user_ref="ben@example.com",
        connector_slug=connector.slug,
        tools=[tools[0].key],
        tool_decisions=[],
        decision="deny",
        reason_code="no_policy",
    )
    return requester


def test_person_panel_shows_groups_policies_access_requests_and_decisions(
    admin_client, scenario, tools
):
    response = admin_client.get(f"/users/{scenario.pk}/", **HTMX)
    assert response.status_code == 200
    text = html(response)
    assert "<html" not in text and 'id="person-panel"' in text
    assert ">Sales</a>" in text
    assert "Create for all" in text and "Sales updates" in text and "Others only" not in text
    access = re.search(r'data-connector="google-calendar">(.*?)</ul>', text, re.S).group(1)
    assert re.search(rf'data-tool="{tools[0].key}".*?action-allow', access, re.S)
    assert re.search(
        rf'data-tool="{tools[1].key}".*?action-approval_required.*?Sales updates', access, re.S
    )
    assert re.search(rf'data-tool="{tools[2].key}".*?action-deny.*?no policy', access, re.S)
    assert "Pending" in re.search(r'person-requests">(.*?)</ul>', text, re.S).group(1)
    decisions = re.search(r'person-decisions">(.*?)</ul>', text, re.S).group(1)
    assert "allowed" in decisions and "no_policy" not in decisions
    full = admin_client.get(f"/users/{scenario.pk}/")
    assert "<html" in html(full) and "All users" in html(full)


def test_person_panel_query_count_is_constant(
    admin_client, scenario, django_assert_num_queries, connector, tools
):
    url = f"/users/{scenario.pk}/"
    commit_snapshot_changes()
    admin_client.get(url)
    # session, user with the admin's person, person, groups, policies, their tools, snapshot
    # version, requests, decisions
    with django_assert_num_queries(9):
        admin_client.get(url)
    for i in range(20):
        group = GroupFactory(name=f"G{i}")
        group.members.add(scenario)
        PolicyFactory(connector=connector, all_users=False).groups.add(group)
        ToolFactory(connector=connector)
    commit_snapshot_changes()
    current_snapshot()
    with django_assert_num_queries(9):
        admin_client.get(url)


def test_a_person_s_decisions_are_read_along_the_user_ref_index(scenario):
    from dashboard.users.selectors import person_decisions

    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
    queryset = DecisionLog.objects.all()
    assert person_decisions(scenario)[0].user_ref == "ANA@example.com"
    from django.db.models.functions import Lower

    plan = (
        queryset.annotate(ref=Lower("user_ref"))
        .filter(ref__in=["ana@example.com"])
        .order_by("-created_at")[:10]
        .explain()
    )
    assert "decisionlog_userref_time" in plan


def test_unknown_person_and_group_are_404(admin_client, db):
    assert admin_client.get("/users/999999/").status_code == 404
    assert admin_client.get("/users/groups/999999/").status_code == 404
    assert admin_client.post("/users/999999/lock/").status_code == 404


def test_lock_and_unlock_are_audited_and_post_only(admin_client, lee):
    assert admin_client.get(f"/users/{lee.pk}/lock/").status_code == 405
    response = admin_client.post(f"/users/{lee.pk}/lock/", **HTMX)
    assert response.status_code == 200
    assert "people-changed" in response["HX-Trigger"]
    assert "Locked</span>" in html(response) and ">Unlock</button>" in html(response)
    lee.refresh_from_db()
    assert lee.status == Person.Status.LOCKED
    entry = AuditEntry.objects.get(action="locked")
    assert (entry.before["status"], entry.after["status"], entry.channel) == (
        "active",
        "locked",
        "web",
    )
    again = admin_client.post(f"/users/{lee.pk}/lock/")
    assert again.status_code == 302
    assert AuditEntry.objects.filter(action="locked").count() == 1
    admin_client.post(f"/users/{lee.pk}/unlock/")
    lee.refresh_from_db()
    assert lee.status == Person.Status.ACTIVE
    assert AuditEntry.objects.get(action="unlocked").after["status"] == "active"


def test_lock_needs_csrf(admin_user, lee):
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_user)
    assert client.post(f"/users/{lee.pk}/lock/").status_code == 403
    lee.refresh_from_db()
    assert lee.status == Person.Status.ACTIVE


def test_groups_tab_and_panel_with_paged_members(
    admin_client, connector, django_assert_num_queries
):
    group = GroupFactory(name="Sales")
    members = [PersonFactory(name=f"Member {i:02}") for i in range(30)]
    group.members.add(*members)
    PolicyFactory(name="Sales policy", connector=connector, all_users=False).groups.add(group)
    GroupFactory(name="Empty")
    listing = html(admin_client.get("/users/groups/"))
    row = re.search(rf'data-row="group-{group.pk}"[^>]*>(.*?)</tr>', listing, re.S).group(1)
    assert re.findall(r"<td[^>]*>(\d+)</td>", row) == ["30", "1"]
    panel = admin_client.get(f"/users/groups/{group.pk}/", **HTMX)
    text = html(panel)
    assert "Sales policy" in text and "Member 00" in text and "Member 25" not in text
    assert "Page 1 of 2" in text
    page2 = html(admin_client.get(f"/users/groups/{group.pk}/", {"page": 2}, **HTMX))
    assert "Member 25" in page2 and "Member 00" not in page2
    # session, user, group with counts, members, policies (a partial: no sidebar)
    with django_assert_num_queries(5):
        admin_client.get(f"/users/groups/{group.pk}/", **HTMX)

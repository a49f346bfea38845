"""The console around the pages: login and logout, the sidebar, the Dashboard, the coming pages."""

from __future__ import annotations

import re

import pytest
from django.urls import resolve

from tests.conftest import PASSWORD
from tests.factories import (
    ApprovalFlowFactory,
    ApprovalLevelFactory,
    GroupFactory,
    UserFactory,
    make_request,
)

LOGIN = "/accounts/login/"
LOGOUT = "/accounts/logout/"
SIDEBAR = ("Dashboard", "Requests", "Policies", "Approval flows", "Connectors", "Users", "Activity")
# The pages of the sidebar besides Dashboard and Requests (DESIGN.md §2).
PAGES = {
    "/policies/": "Policies",
    "/approval-flows/": "Approval flows",
    "/connectors/": "Connectors",
    "/users/": "Users",
    "/activity/": "Activity",
}


def html(response) -> str:
    return response.content.decode()


def sidebar_labels(body: str) -> list[str]:
    nav = re.search(r'<nav class="sidebar".*?</nav>', body, re.S).group(0)
    return [label.strip() for label in re.findall(r'\.svg" alt="" [^>]*>\s*([^<]+?)\s*</a>', nav)]


# --- login and logout -----------------------------------------------------------------------------


def test_login_page_renders_the_form(client, db):
    response = client.get(LOGIN)
    assert response.status_code == 200
    body = html(response)
    assert "Log in to the console" in body
    assert 'name="username"' in body
    assert 'name="password"' in body
    assert "csrfmiddlewaretoken" in body
    assert '<nav class="sidebar"' not in body


def test_login_with_a_wrong_password_shows_an_error(client, admin_user):
    response = client.post(LOGIN, {"username": "admin", "password": "wrong-password"})
    assert response.status_code == 200
    assert "Your username and password didn't match. Please try again." in html(response)
    assert "_auth_user_id" not in client.session


def test_login_with_an_unknown_user_shows_an_error(client, db):
    response = client.post(LOGIN, {"username": "nobody", "password": PASSWORD})
    assert response.status_code == 200
    assert "didn't match" in html(response)


def test_login_redirects_to_the_dashboard(client, admin_user):
    response = client.post(LOGIN, {"username": "admin", "password": PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == "/"
    assert client.get("/").status_code == 200


def test_login_returns_to_the_page_asked_for(client, approver_user, access_request):
    response = client.post(
        LOGIN, {"username": "dana", "password": PASSWORD, "next": "/requests/?status=all"}
    )
    assert response.status_code == 302
    assert response["Location"] == "/requests/?status=all"


def test_login_never_redirects_off_site(client, admin_user):
    response = client.post(
        LOGIN, {"username": "admin", "password": PASSWORD, "next": "https://evil.example/"}
    )
    assert response.status_code == 302
    assert response["Location"] == "/"


def test_login_page_sends_a_logged_in_user_on(admin_client):
    response = admin_client.get(LOGIN)
    assert response.status_code == 302
    assert response["Location"] == "/"


def test_logout_is_post_only(admin_client):
    assert admin_client.get(LOGOUT).status_code == 405
    assert admin_client.get("/").status_code == 200


def test_logout_ends_the_session(admin_client):
    response = admin_client.post(LOGOUT)
    assert response.status_code == 302
    assert response["Location"] == LOGIN
    page = admin_client.get("/requests/")
    assert page.status_code == 302
    assert page["Location"].startswith(LOGIN)


def test_every_page_has_a_logout_form(admin_client):
    body = html(admin_client.get("/"))
    assert re.search(r'<form method="post" action="/accounts/logout/">', body)


# --- the sidebar ----------------------------------------------------------------------------------


def test_sidebar_lists_every_page_for_admins(admin_client, access_request):
    body = html(admin_client.get("/"))
    # The pages of DESIGN.md §2 come first, in that order; later releases may add more below.
    assert sidebar_labels(body)[: len(SIDEBAR)] == list(SIDEBAR)
    for href in ("/", "/requests/", *PAGES):
        assert f'href="{href}"' in body


def test_sidebar_shows_approvers_only_what_they_may_open(approver_client, access_request):
    body = html(approver_client.get("/"))
    assert sidebar_labels(body) == ["Dashboard", "Requests", "My agents"]
    for href in PAGES:
        assert f'href="{href}"' not in body


def test_sidebar_marks_the_current_page(admin_client, access_request):
    body = html(admin_client.get("/requests/"))
    current = re.findall(r'<a class="nav-link active" href="([^"]+)" aria-current="page"', body)
    assert current == ["/requests/"]
    body = html(admin_client.get("/"))
    current = re.findall(r'<a class="nav-link active" href="([^"]+)"', body)
    assert current == ["/"]


def test_sidebar_names_the_login_and_its_role(admin_client, access_request):
    body = html(admin_client.get("/"))
    assert re.search(r'<div class="small text-secondary">Admin</div>', body)


def test_sidebar_names_an_approver_by_their_person(approver_client, access_request):
    body = html(approver_client.get("/"))
    assert "Dana Levi" in body
    assert re.search(r'<div class="small text-secondary">Approver</div>', body)


# --- the other sidebar pages: admins only; those not built yet say so ---------------------------


def is_coming(path: str) -> bool:
    """Whether this page is still the "coming" placeholder of agenwork.views.coming_soon."""
    return resolve(path).func.__qualname__.startswith("coming_soon.")


@pytest.mark.parametrize(("path", "title"), PAGES.items())
def test_sidebar_page_opens_for_an_admin(admin_client, path, title):
    response = admin_client.get(path)
    assert response.status_code == 200
    body = html(response)
    assert f"<h1>{title}</h1>" in body
    assert f'<a class="nav-link active" href="{path}"' in body
    if is_coming(path):
        assert ">Coming</span>" in body
        assert "This page is not built yet." in body
    else:
        assert "This page is not built yet." not in body


@pytest.mark.parametrize("path", PAGES)
@pytest.mark.parametrize("persona_client", ["approver", "outsider"], indirect=True)
def test_sidebar_page_is_forbidden_to_others(persona_client, access_request, path):
    response = persona_client.get(path)
    assert response.status_code == 403
    if is_coming(path):
        assert "Only admins can open this page." in html(response)


@pytest.mark.parametrize("path", PAGES)
def test_sidebar_page_redirects_anonymous_to_login(client, db, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"] == f"{LOGIN}?next={path}"


# --- the Dashboard --------------------------------------------------------------------------------


@pytest.mark.parametrize("persona_client", ["admin", "approver"], indirect=True)
def test_dashboard_shows_the_pending_widget(persona_client, access_request):
    response = persona_client.get("/")
    assert response.status_code == 200
    body = html(response)
    assert "Pending requests" in body
    widget = re.search(
        r'<ul class="list-group list-group-flush pending-widget">.*?</ul>', body, re.S
    )
    assert widget
    assert f'href="/requests/{access_request.public_id}/">Ana Lopez</a>' in widget.group(0)
    assert "<code>google-calendar_events_create</code>" in widget.group(0)
    assert ">+1</span>" in widget.group(0)
    assert "Google Calendar" in widget.group(0)
    assert "just now" in widget.group(0)


def test_dashboard_says_when_nothing_is_pending(admin_client, db):
    body = html(admin_client.get("/"))
    assert "Nothing is waiting for a decision." in body


def test_dashboard_shows_an_approver_only_their_flows(
    approver_client, access_request, requester, tools
):
    other = ApprovalFlowFactory(name="Finance approvals")
    ApprovalLevelFactory(flow=other, position=1).groups.add(GroupFactory(name="Finance"))
    hidden = make_request(requester=requester, tools=tools[2:], flow=other)
    body = html(approver_client.get("/"))
    assert str(access_request.public_id) in body
    assert str(hidden.public_id) not in body


def test_dashboard_links_to_more_when_many_are_pending(admin_client, requester, tools, flow):
    for _ in range(9):
        make_request(requester=requester, tools=tools[:1], flow=flow)
    body = html(admin_client.get("/"))
    assert body.count('class="stretched-link fw-semibold"') == 8
    assert "More pending requests" in body


def test_dashboard_sends_an_outsider_to_their_own_page(outsider_client, access_request):
    response = outsider_client.get("/")
    assert response.status_code == 302
    assert response["Location"] == "/me/"


def test_dashboard_is_forbidden_to_a_login_that_is_nobody(client, access_request):
    client.force_login(UserFactory(username="stray"))
    response = client.get("/")
    assert response.status_code == 403
    assert "Ana Lopez" not in html(response)


def test_dashboard_redirects_anonymous_to_login(client, db):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"] == f"{LOGIN}?next=/"

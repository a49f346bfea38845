"""The Connectors pages: the list, one connector, its actions; roles, CSRF, bad input."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from agenwork.crypto import decrypt
from audit.models import AuditEntry
from connectors.models import Connector, Tool
from tests.factories import ConnectorFactory, ToolFactory

LIST = "/connectors/"
HTMX_TABLE = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "connectors-table"}
SECRET = "Zq9-very-private-client-secret-77"


def html(response) -> str:
    return response.content.decode()


def row_slugs(response) -> list[str]:
    return re.findall(r'data-row="connector-([^"]+)"', html(response))


def state() -> tuple:
    """Everything a connector action could change."""
    return (
        sorted(Connector.objects.values_list()),
        sorted(Tool.objects.values_list()),
        AuditEntry.objects.count(),
    )


@pytest.fixture
def github(db) -> Connector:
    connector = ConnectorFactory(slug="github", name="GitHub", status=Connector.Status.ERROR)
    ToolFactory(connector=connector, key="github_repos_list", description="List repositories.")
    ToolFactory(connector=connector, key="github_repos_delete", access=Tool.Access.DELETE)
    return connector


@pytest.fixture
def three(github) -> list[Connector]:
    slack = ConnectorFactory(
        slug="slack", name="Slack", status=Connector.Status.DISCONNECTED, enabled=False
    )
    calendar = ConnectorFactory(
        slug="google-calendar", name="Google Calendar", credential_mode="byo"
    )
    return [github, slack, calendar]


def tool(key: str) -> Tool:
    return Tool.objects.get(key=key)


# --- roles ---------------------------------------------------------------------------------


@pytest.mark.parametrize("url", [LIST, "/connectors/github/"])
def test_anonymous_visitors_are_sent_to_log_in(client, github, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


@pytest.mark.parametrize("persona_client", ["approver", "outsider"], indirect=True)
@pytest.mark.parametrize("url", [LIST, "/connectors/github/"])
def test_approvers_and_outsiders_may_not_see_connectors(persona_client, github, url):
    response = persona_client.get(url)
    assert response.status_code == 403
    assert "Only admins can see and change connectors." in html(response)


@pytest.mark.parametrize("persona_client", ["approver", "outsider"], indirect=True)
@pytest.mark.parametrize(
    ("path", "data"),
    [
        ("/connectors/github/enabled/", {"enabled": "off"}),
        ("/connectors/github/credentials/", {"mode": "managed"}),
        ("tool_enabled", {"enabled": "off"}),
        ("tool_access", {"access": "write"}),
    ],
)
def test_approvers_and_outsiders_change_nothing(persona_client, github, path, data):
    if not path.startswith("/"):
        path = f"/connectors/github/tools/{tool('github_repos_list').pk}/{path[5:]}/"
    before = state()
    assert persona_client.post(path, data).status_code == 403
    assert state() == before


# --- the list ------------------------------------------------------------------------------


def test_the_list_shows_icon_name_status_credentials_tools_and_switch(admin_client, three):
    page = html(admin_client.get(LIST))
    assert "<h1>Connectors</h1>" in page
    assert row_slugs(admin_client.get(LIST)) == ["github", "google-calendar", "slack"]
    assert re.search(r'src="/static/icons/connectors/github[.\w]*\.svg"', page)
    assert '<span class="badge status-error">Error</span>' in page
    assert '<span class="badge status-connected">Connected</span>' in page
    assert '<span class="badge status-disconnected">Disconnected</span>' in page
    assert "Bring your own" in page and "Managed" in page
    assert "2 tools" in page and "0 tools" in page
    assert '<span class="badge enabled-off">Disabled</span>' in page
    assert 'href="/connectors/github/"' in page


@pytest.mark.parametrize(
    ("q", "slugs"),
    [("git", ["github"]), ("GOOGLE-cal", ["google-calendar"]), ("calendar", ["google-calendar"]),
     ("zzz", [])],
)  # fmt: skip
def test_search_matches_name_or_slug(admin_client, three, q, slugs):
    assert row_slugs(admin_client.get(LIST, {"q": q})) == slugs


def test_sort_by_status_reads_connected_error_disconnected(admin_client, three):
    assert row_slugs(admin_client.get(LIST, {"sort": "status"})) == [
        "google-calendar",
        "github",
        "slack",
    ]
    assert row_slugs(admin_client.get(LIST, {"sort": "-name"})) == [
        "slack",
        "google-calendar",
        "github",
    ]


def test_the_status_filter_keeps_one_status(admin_client, three):
    assert row_slugs(admin_client.get(LIST, {"status": "error"})) == ["github"]


def test_an_unknown_status_shows_a_notice_and_every_connector(admin_client, three):
    response = admin_client.get(LIST, {"status": "bogus"})
    assert response.status_code == 200
    assert "Unknown status “bogus”: showing All statuses." in html(response)
    assert row_slugs(response) == ["github", "google-calendar", "slack"]


def test_bad_sort_and_page_values_are_ignored(admin_client, three):
    response = admin_client.get(LIST, {"sort": "nope", "page": "x", "per_page": "7"})
    assert response.status_code == 200
    assert row_slugs(response) == ["github", "google-calendar", "slack"]


def test_htmx_aimed_at_the_table_gets_only_the_table(admin_client, three):
    response = admin_client.get(LIST, {"q": "slack"}, **HTMX_TABLE)
    page = html(response)
    assert page.lstrip().startswith('<div id="connectors-table"')
    assert "<h1>" not in page
    assert row_slugs(response) == ["slack"]


def test_the_list_works_without_javascript(admin_client, three):
    page = html(admin_client.get(LIST))
    assert 'method="get" action="/connectors/"' in page
    assert "<noscript><button" in page
    assert 'href="?sort=-name"' in page or "sort=-name" in page


def _queries(client: Client, url: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


def test_the_list_costs_the_same_queries_for_3_and_30_connectors(
    admin_client, three, django_assert_num_queries
):
    small = _queries(admin_client, LIST)
    for n in range(27):
        connector = ConnectorFactory(slug=f"extra-{n}", icon="generic")
        ToolFactory.create_batch(3, connector=connector)
    with django_assert_num_queries(small):
        response = admin_client.get(LIST)
    assert len(row_slugs(response)) == 25


# --- one connector --------------------------------------------------------------------------


def test_the_detail_page_shows_tools_access_switches_and_the_redirect_url(
    admin_client, github, settings
):
    page = html(admin_client.get("/connectors/github/"))
    assert '<code class="tool-key">github_repos_list</code>' in page
    assert "List repositories." in page
    assert '<option value="delete" selected>Delete</option>' in page
    assert 'aria-label="Disable github_repos_list"' in page
    assert "Disable connector" in page
    redirect = f"{settings.SITE_URL}/connectors/github/oauth/callback/"
    assert f'value="{redirect}" readonly' in page
    assert "<script>" not in page and "onclick" not in page


def test_unknown_connectors_and_tools_are_404(admin_client, github):
    other = ToolFactory(connector=ConnectorFactory(slug="slack"), key="slack_chat_postMessage")
    assert admin_client.get("/connectors/nope/").status_code == 404
    assert admin_client.post("/connectors/nope/enabled/", {"enabled": "off"}).status_code == 404
    before = state()
    url = f"/connectors/github/tools/{other.pk}/enabled/"  # a tool of another connector
    assert admin_client.post(url, {"enabled": "off"}).status_code == 404
    assert admin_client.post("/connectors/github/tools/999999/access/").status_code == 404
    assert state() == before


def test_the_detail_page_costs_the_same_queries_for_2_and_30_tools(
    admin_client, github, django_assert_num_queries
):
    small = _queries(admin_client, "/connectors/github/")
    ToolFactory.create_batch(28, connector=github)
    with django_assert_num_queries(small):
        admin_client.get("/connectors/github/")


# --- actions ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/connectors/github/enabled/",
        "/connectors/github/credentials/",
        "tool_enabled",
        "tool_access",
    ],
)
def test_get_on_an_action_is_405_and_changes_nothing(admin_client, github, path):
    if not path.startswith("/"):
        path = f"/connectors/github/tools/{tool('github_repos_list').pk}/{path[5:]}/"
    before = state()
    assert admin_client.get(path, {"enabled": "off", "access": "write"}).status_code == 405
    assert state() == before


def test_a_post_without_csrf_is_refused(admin_user, github):
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_user)
    before = state()
    assert client.post("/connectors/github/enabled/", {"enabled": "off"}).status_code == 403
    assert state() == before


def test_disabling_and_enabling_the_connector(admin_client, github):
    response = admin_client.post("/connectors/github/enabled/", {"enabled": "off"})
    assert (response.status_code, response["Location"]) == (302, "/connectors/github/")
    github.refresh_from_db()
    assert github.enabled is False
    page = html(admin_client.get("/connectors/github/"))
    assert "Disabled the GitHub connector." in page
    assert "connector_disabled" in page
    admin_client.post("/connectors/github/enabled/", {"enabled": "on"})
    github.refresh_from_db()
    assert github.enabled is True
    assert AuditEntry.objects.filter(object_type="connector").count() == 2


def test_disabling_a_tool_with_htmx_returns_its_row(admin_client, github):
    target = tool("github_repos_list")
    url = f"/connectors/github/tools/{target.pk}/enabled/"
    response = admin_client.post(url, {"enabled": "off"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    row = html(response).strip()
    assert row.startswith('<tr data-tool="github_repos_list"') and 'class="tool-disabled"' in row
    assert 'aria-label="Enable github_repos_list"' in row
    target.refresh_from_db()
    assert target.enabled is False


def test_setting_access_by_hand_without_javascript(admin_client, github):
    target = tool("github_repos_list")
    url = f"/connectors/github/tools/{target.pk}/access/"
    response = admin_client.post(url, {"access": "write"})
    assert response.status_code == 302
    target.refresh_from_db()
    assert (target.access, target.access_overridden) == ("write", True)
    page = html(admin_client.get("/connectors/github/"))
    assert "github_repos_list now counts as write access." in page
    assert "set by hand" in page


@pytest.mark.parametrize(
    ("suffix", "data"),
    [
        ("access", {"access": "admin"}),
        ("access", {}),
        ("enabled", {"enabled": "maybe"}),
        ("enabled", {}),
    ],
)
def test_bad_tool_action_values_are_400_and_store_nothing(admin_client, github, suffix, data):
    url = f"/connectors/github/tools/{tool('github_repos_list').pk}/{suffix}/"
    before = state()
    response = admin_client.post(url, data)
    assert response.status_code == 400
    assert "alert-danger" in html(response)
    assert state() == before


def test_a_bad_connector_switch_value_is_400(admin_client, github):
    before = state()
    assert admin_client.post("/connectors/github/enabled/", {"enabled": "yes"}).status_code == 400
    assert state() == before


# --- credentials --------------------------------------------------------------------------


def byo(**extra) -> dict[str, str]:
    return {"mode": "byo", "client_id": "client-1", "client_secret": SECRET, **extra}


def test_a_saved_secret_is_encrypted_and_never_shown_back(admin_client, github):
    response = admin_client.post(
        "/connectors/github/credentials/", byo(base_url="https://gh.example.com")
    )
    assert response.status_code == 302
    github.refresh_from_db()
    assert decrypt(github.client_secret_encrypted) == SECRET
    assert SECRET not in github.client_secret_encrypted
    page = html(admin_client.get("/connectors/github/"))
    assert SECRET not in page
    assert github.client_secret_encrypted not in page
    assert "Set on " in page and 'value="client-1"' in page
    entry = AuditEntry.objects.get(object_type="connector")
    assert SECRET not in str(entry.before) + str(entry.after)
    assert entry.after["client_secret"] == "secret replaced"


def test_a_form_error_never_renders_the_secret_back(admin_client, github):
    before = state()
    response = admin_client.post(
        "/connectors/github/credentials/", byo(client_id="", base_url="not a url")
    )
    assert response.status_code == 400
    page = html(response)
    assert SECRET not in page
    assert "Enter the client ID of your OAuth app." in page
    assert "Enter a valid URL." in page
    assert state() == before


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"mode": "byo", "client_id": "x"}, "Enter the client secret of your OAuth app."),
        ({"mode": "byo", "client_id": "x", "client_secret": "   "}, "cannot be only spaces"),
        (byo(base_url="javascript:alert(1)"), "Enter a valid URL."),
        (byo(base_url="ftp://files.example.com"), "Enter a valid URL."),
        ({"mode": "nope"}, "Select a valid choice."),
        ({}, "This field is required."),
    ],
)
def test_bad_credentials_are_400_and_store_nothing(admin_client, github, data, error):
    before = state()
    response = admin_client.post("/connectors/github/credentials/", data)
    assert response.status_code == 400
    assert error in html(response)
    assert state() == before


def test_a_blank_secret_keeps_the_stored_one(admin_client, github):
    admin_client.post("/connectors/github/credentials/", byo())
    github.refresh_from_db()
    stored = github.client_secret_encrypted
    response = admin_client.post(
        "/connectors/github/credentials/", {"mode": "byo", "client_id": "client-2"}
    )
    assert response.status_code == 302
    github.refresh_from_db()
    assert (github.client_id, github.client_secret_encrypted) == ("client-2", stored)


def test_switching_to_managed(admin_client, github):
    admin_client.post("/connectors/github/credentials/", byo())
    admin_client.post("/connectors/github/credentials/", {"mode": "managed"})
    github.refresh_from_db()
    assert (github.credential_mode, github.client_secret_encrypted) == ("managed", "")
    assert "Not set." in html(admin_client.get("/connectors/github/"))

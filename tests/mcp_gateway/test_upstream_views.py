"""A connector's upstream on its page: the URL and write-only header, ops' command, Sync tools.

Sync tools runs the real mcp-server-time, started as ops configure it (MCP_UPSTREAMS).
"""

from __future__ import annotations

import json
import re
import sys

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from agenwork.crypto import decrypt, encrypt
from audit.models import AuditEntry
from connectors.models import Connector, Tool
from tests.factories import ConnectorFactory, ToolFactory

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "upstream-panel"}
HEADER = "Bearer Zq9-upstream-secret-77"
TIME_SERVER = {
    "command": sys.executable,
    "args": ["-m", "mcp_server_time", "--local-timezone", "UTC"],
}


def html(response) -> str:
    return response.content.decode()


def upstream_url(connector: Connector, suffix: str = "") -> str:
    return f"/connectors/{connector.slug}/upstream/{suffix}"


def state() -> tuple:
    """Everything an upstream action could change."""
    return (
        sorted(Connector.objects.values_list()),
        sorted(Tool.objects.values_list()),
        AuditEntry.objects.count(),
    )


@pytest.fixture
def remote(db) -> Connector:
    return ConnectorFactory(
        slug="remote",
        name="Remote",
        status=Connector.Status.ERROR,
        upstream_url="https://mcp.example.com/mcp",
        upstream_auth_header_encrypted=encrypt(HEADER),
        upstream_error="ConnectError: All connection attempts failed",
    )


@pytest.fixture
def time_upstream(settings) -> Connector:
    settings.MCP_UPSTREAMS = json.dumps({"time": TIME_SERVER})
    return ConnectorFactory(slug="time", name="Time", status=Connector.Status.DISCONNECTED)


def save(client, connector: Connector, **data: str):
    form = {"url": "", "auth_header": "", **data}
    return client.post(upstream_url(connector), form, **HTMX)


# --- roles ---------------------------------------------------------------------------------


@pytest.mark.parametrize("persona_client", ["approver", "outsider"], indirect=True)
def test_approvers_and_outsiders_get_the_connectors_refusal(persona_client, remote):
    before = state()
    for response in (
        persona_client.get(upstream_url(remote)),
        persona_client.post(upstream_url(remote), {"url": "https://evil.example.com/mcp"}),
        persona_client.post(upstream_url(remote, "sync/")),
    ):
        assert response.status_code == 403
        assert "Only admins can see and change connectors." in html(response)
    assert state() == before


def test_anonymous_visitors_are_sent_to_log_in(client, remote):
    before = state()
    for response in (client.get(upstream_url(remote)), client.post(upstream_url(remote, "sync/"))):
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/")
    assert state() == before


# --- the panel -----------------------------------------------------------------------------


def test_an_http_upstream_shows_its_url_state_and_error_never_the_header(admin_client, remote):
    remote.upstream_auth_set_at = remote.updated_at
    remote.save()
    response = admin_client.get(upstream_url(remote), **HTMX)

    text = html(response)
    assert response.status_code == 200 and "<html" not in text
    assert 'value="https://mcp.example.com/mcp"' in text
    assert "Set on <time" in text and "Leave blank to keep it" in text
    assert "Clear the stored header" in text
    assert "Zq9-upstream-secret" not in text
    assert 'class="badge status-error">Error<' in text
    assert "ConnectError: All connection attempts failed" in text
    assert ">Sync tools<" in text


def test_an_ops_command_is_shown_read_only_without_a_form(admin_client, time_upstream):
    response = admin_client.get(upstream_url(time_upstream), **HTMX)

    text = html(response)
    assert "-m mcp_server_time --local-timezone UTC" in text
    assert "Commands are set by ops" in text
    assert set(re.findall(r'name="(\w+)"', text)) == {"csrfmiddlewaretoken"}  # Sync tools only
    assert "Not checked yet" in text and ">Sync tools<" in text


def test_no_form_names_a_command_to_run(admin_client, remote):
    fields = re.findall(r'name="(\w+)"', html(admin_client.get(upstream_url(remote), **HTMX)))
    assert set(fields) == {"csrfmiddlewaretoken", "url", "auth_header", "clear_auth_header"}


def test_a_connector_without_upstream_offers_the_url_form_and_no_sync(admin_client):
    plain = ConnectorFactory(slug="plain")
    text = html(admin_client.get(upstream_url(plain), **HTMX))
    assert 'name="url"' in text and "Not set" in text and ">Sync tools<" not in text


def test_the_panel_costs_a_fixed_number_of_queries(admin_client, remote):
    admin_client.get(upstream_url(remote), **HTMX)
    with CaptureQueriesContext(connection) as queries:
        admin_client.get(upstream_url(remote), **HTMX)
    assert len(queries) == 3  # session, user, connector


def test_the_connector_page_loads_the_panel_and_links_it_without_javascript(admin_client, remote):
    text = html(admin_client.get("/connectors/remote/"))
    assert 'hx-get="/connectors/remote/upstream/" hx-trigger="load"' in text
    assert '<a href="/connectors/remote/upstream/">' in text


def test_opened_directly_the_panel_is_a_page(admin_client, remote):
    text = html(admin_client.get(upstream_url(remote)))
    assert "<html" in text and 'href="/connectors/remote/"' in text


def test_the_tools_table_marks_missing_tools_and_shows_descriptions(admin_client, remote):
    ToolFactory(connector=remote, key="remote_echo", description="Echo the message back.")
    gone = ToolFactory(connector=remote, key="remote_gone")
    Tool.objects.filter(pk=gone.pk).update(missing_since=remote.created_at)

    text = html(admin_client.get("/connectors/remote/"))

    assert "Echo the message back." in text
    row = re.search(r'<tr data-tool="remote_gone".*?</tr>', text, re.S).group(0)
    assert "Missing upstream</span> since <time" in row
    echo = re.search(r'<tr data-tool="remote_echo".*?</tr>', text, re.S).group(0)
    assert "Missing upstream" not in echo


# --- the URL and the header ----------------------------------------------------------------


def test_saving_a_url_and_header_stores_the_header_encrypted_and_audits_no_secret(
    admin_client, admin_user
):
    plain = ConnectorFactory(slug="plain", name="Plain")
    response = save(admin_client, plain, url="https://mcp.example.com/mcp", auth_header=HEADER)

    assert response.status_code == 200 and response["HX-Redirect"] == "/connectors/plain/"
    plain.refresh_from_db()
    assert plain.upstream_url == "https://mcp.example.com/mcp"
    assert decrypt(plain.upstream_auth_header_encrypted) == HEADER
    assert plain.upstream_auth_set_at is not None
    assert plain.status == Connector.Status.DISCONNECTED and plain.upstream_checked_at is None
    entry = AuditEntry.objects.get(object_type="connector")
    assert entry.actor == admin_user
    assert entry.after == {
        "upstream_url": "https://mcp.example.com/mcp",
        "upstream_auth_header": "header replaced",
    }
    assert "Zq9" not in json.dumps([entry.before, entry.after])
    page = html(admin_client.get("/connectors/plain/"))
    assert "Saved the upstream of Plain" in page and "Zq9" not in page


def test_a_blank_header_keeps_the_stored_one_and_clear_removes_it(admin_client, remote):
    stored = remote.upstream_auth_header_encrypted
    save(admin_client, remote, url="https://mcp.example.com/v2/mcp")
    remote.refresh_from_db()
    assert remote.upstream_auth_header_encrypted == stored
    assert remote.upstream_url == "https://mcp.example.com/v2/mcp"
    assert remote.upstream_error == "" and remote.status == Connector.Status.DISCONNECTED

    save(admin_client, remote, url=remote.upstream_url, clear_auth_header="on")
    remote.refresh_from_db()
    assert remote.upstream_auth_header_encrypted == "" and remote.upstream_auth_set_at is None
    assert AuditEntry.objects.latest("id").after["upstream_auth_header"] == "header removed"


def test_a_blank_url_removes_the_upstream_and_its_header(admin_client, remote):
    response = admin_client.post(upstream_url(remote), {"url": "", "auth_header": ""}, follow=True)
    assert response.redirect_chain == [("/connectors/remote/", 302)]
    assert "Remote has no upstream MCP server now." in html(response)
    remote.refresh_from_db()
    assert (remote.upstream_url, remote.upstream_auth_header_encrypted) == ("", "")


def test_saving_the_same_values_changes_nothing(admin_client, remote):
    before = state()
    save(admin_client, remote, url=remote.upstream_url)
    assert state() == before


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"url": "ftp://files.example.com/mcp"}, "Enter an http:// or https:// URL"),
        ({"url": "javascript:alert(1)"}, "Enter an http:// or https:// URL"),
        ({"url": "file:///etc/passwd"}, "Enter an http:// or https:// URL"),
        ({"url": "not a url"}, "Enter an http:// or https:// URL"),
        ({"url": "https://" + "a" * 600 + ".example.com/"}, "at most 500 characters"),
        (
            {"url": "https://mcp.example.com/mcp", "auth_header": "Bearer x\r\nX-Evil: 1"},
            "one line",
        ),
        ({"url": "https://mcp.example.com/mcp", "auth_header": "   "}, "one line"),
        ({"url": "", "auth_header": HEADER}, "enter the server's URL too"),
        (
            {
                "url": "https://mcp.example.com/mcp",
                "auth_header": HEADER,
                "clear_auth_header": "on",
            },
            "not both",
        ),
    ],
)
def test_bad_input_is_refused_with_the_reason_and_stores_nothing(
    admin_client, remote, data, message
):
    before = state()
    response = save(admin_client, remote, **data)
    assert response.status_code == 400
    assert message in html(response).replace("&#x27;", "'")
    assert "Zq9" not in html(response)
    assert state() == before


def test_an_ops_command_cannot_be_changed_or_shadowed_from_the_console(admin_client, time_upstream):
    before = state()
    response = save(admin_client, time_upstream, url="https://evil.example.com/mcp")
    assert response.status_code == 400
    assert "Ops configured a local command" in html(response)
    extra = admin_client.post(upstream_url(time_upstream), {"command": "/bin/sh", "args": "-c"})
    assert extra.status_code == 400
    assert state() == before


# --- Sync tools ----------------------------------------------------------------------------


def test_sync_tools_reads_the_real_time_server_and_reports_the_counts(
    admin_client, admin_user, time_upstream
):
    ToolFactory(connector=time_upstream, key="time_old_tool")
    response = admin_client.post(upstream_url(time_upstream, "sync/"), follow=True)

    assert response.redirect_chain == [("/connectors/time/", 302)]
    text = html(response)
    assert "Synced the tools of Time: 2 added, 0 updated, 1 missing." in text
    assert set(time_upstream.tools.values_list("key", flat=True)) == {
        "time_get_current_time",
        "time_convert_time",
        "time_old_tool",
    }
    time_upstream.refresh_from_db()
    assert time_upstream.status == Connector.Status.CONNECTED
    assert "Get current time in a specific timezone" in text
    old = re.search(r'<tr data-tool="time_old_tool".*?</tr>', text, re.S).group(0)
    assert "Missing upstream" in old
    entry = AuditEntry.objects.get(object_type="connector")
    assert entry.actor == admin_user and entry.after["status"] == "connected"
    assert sorted(entry.after["tools_added"]) == ["time_convert_time", "time_get_current_time"]

    again = admin_client.post(upstream_url(time_upstream, "sync/"), **HTMX)
    assert again["HX-Redirect"] == "/connectors/time/"
    page = html(admin_client.get("/connectors/time/"))
    assert "Synced the tools of Time: 0 added, 0 updated, 0 missing." in page
    assert AuditEntry.objects.count() == 1  # nothing changed the second time


def test_an_upstream_that_fails_shows_error_with_the_error_and_when(admin_client, settings):
    settings.MCP_UPSTREAMS = json.dumps({"time": {"command": "/nonexistent/mcp-server-time"}})
    time = ConnectorFactory(slug="time", name="Time", status=Connector.Status.CONNECTED)

    response = admin_client.post(upstream_url(time, "sync/"), follow=True)

    text = html(response)
    assert "Could not sync the tools of Time:" in text
    time.refresh_from_db()
    assert time.status == Connector.Status.ERROR and time.upstream_error
    panel = html(admin_client.get(upstream_url(time), **HTMX))
    assert 'class="badge status-error">Error<' in panel and "Last error" in panel
    assert "checked <time" in panel
    assert AuditEntry.objects.get().after["status"] == "error"


def test_sync_without_an_upstream_is_refused_and_changes_nothing(admin_client):
    plain = ConnectorFactory(slug="plain")
    before = state()
    response = admin_client.post(upstream_url(plain, "sync/"), **HTMX)
    assert response.status_code == 400
    assert "no upstream MCP server to sync from" in html(response)
    assert state() == before


def test_sync_is_a_post(admin_client, time_upstream):
    before = state()
    assert admin_client.get(upstream_url(time_upstream, "sync/")).status_code == 405
    assert state() == before


def test_a_malformed_upstreams_setting_is_told_not_a_500(admin_client, settings, remote):
    settings.MCP_UPSTREAMS = "{not json"
    response = admin_client.get(upstream_url(remote), **HTMX)
    assert response.status_code == 200 and "MCP_UPSTREAMS is not valid" in html(response)

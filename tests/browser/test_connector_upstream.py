"""A connector's upstream in Chromium: Sync tools against the real mcp-server-time; an Error."""

from __future__ import annotations

import json
import re
import sys

import pytest
from playwright.sync_api import expect

from connectors.models import Connector
from tests.factories import ConnectorFactory, ToolFactory
from tests.support.ports import free_port

pytestmark = pytest.mark.browser

TIME_SERVER = {
    "command": sys.executable,
    "args": ["-m", "mcp_server_time", "--local-timezone", "UTC"],
}
SYNC_DEADLINE_MS = 60_000  # the first start of the server's Python process, on a busy machine


def test_sync_tools_reads_the_ops_command_and_marks_a_tool_gone_upstream(
    page, enter_as, admin_user, settings, problems
):
    settings.MCP_UPSTREAMS = json.dumps({"time": TIME_SERVER})
    time = ConnectorFactory(slug="time", name="Time", status=Connector.Status.DISCONNECTED)
    ToolFactory(connector=time, key="time_old_tool", description="Gone from the server.")
    enter_as("admin")
    page.goto("/connectors/time/")
    panel = page.locator("#upstream-panel")
    expect(panel.locator(".upstream-command")).to_contain_text("-m mcp_server_time")
    expect(panel).to_contain_text("Commands are set by ops")
    expect(panel.locator(".upstream-state")).to_contain_text("Not checked yet")
    expect(panel.locator("input[name=url]")).to_have_count(0)

    panel.get_by_role("button", name="Sync tools").click()

    expect(page.locator("#messages")).to_contain_text(
        "Synced the tools of Time: 2 added, 0 updated, 1 missing.", timeout=SYNC_DEADLINE_MS
    )
    expect(page.locator("#upstream-panel .upstream-state .badge")).to_have_text("Connected")
    current = page.locator('tr[data-tool="time_get_current_time"]')
    expect(current.locator(".tool-description")).to_have_text(
        re.compile("Get current time in a specific timezone")
    )
    expect(page.locator('tr[data-tool="time_old_tool"] .tool-missing')).to_contain_text(
        "Missing upstream since"
    )
    time.refresh_from_db()
    assert time.status == Connector.Status.CONNECTED
    assert problems.errors == []


def test_an_http_upstream_that_does_not_answer_shows_error_with_the_error(
    page, enter_as, admin_user, problems
):
    ConnectorFactory(slug="remote", name="Remote", status=Connector.Status.DISCONNECTED)
    enter_as("admin")
    page.goto("/connectors/remote/")
    panel = page.locator("#upstream-panel")
    panel.get_by_label("Server URL").fill("gopher://127.0.0.1/mcp")
    panel.get_by_role("button", name="Save upstream").click()
    expect(panel.locator(".field-error")).to_contain_text("Enter an http:// or https:// URL")
    assert Connector.objects.get(slug="remote").upstream_url == ""

    url = f"http://127.0.0.1:{free_port()}/mcp"
    panel.get_by_label("Server URL").fill(url)
    panel.get_by_label("Authorization header (optional)").fill("Bearer remote-secret-1")
    panel.get_by_role("button", name="Save upstream").click()
    expect(page.locator("#messages")).to_contain_text("Saved the upstream of Remote")
    expect(panel.locator(".secret-state")).to_contain_text("Set on")
    expect(panel.get_by_label("Authorization header (optional)")).to_have_value("")
    assert "remote-secret-1" not in page.content()

    panel.get_by_role("button", name="Sync tools").click()

    expect(page.locator("#messages")).to_contain_text(
        "Could not sync the tools of Remote:", timeout=SYNC_DEADLINE_MS
    )
    expect(panel.locator(".upstream-state .badge")).to_have_text("Error")
    expect(panel.locator(".upstream-error")).to_contain_text("Last error")
    expect(panel.locator(".upstream-state")).to_contain_text("checked")
    remote = Connector.objects.get(slug="remote")
    assert remote.status == Connector.Status.ERROR and remote.upstream_error
    # The refused first save answered 400, which Chromium logs; nothing else went wrong.
    assert [e for e in problems.errors if "status of 400 (Bad Request)" not in e] == []

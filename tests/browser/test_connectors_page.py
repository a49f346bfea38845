"""The Connectors pages in Chromium: search the list, open a connector, disable a tool."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from audit.models import AuditEntry
from connectors.models import Tool

pytestmark = pytest.mark.browser

ROWS = "#connectors-table tbody tr[data-row]"
LIST = "google-calendar_events_list"


def test_search_open_a_connector_and_disable_a_tool(page, open_as_admin, demo, problems):
    open_as_admin("/connectors/")
    expect(page.locator("h1")).to_have_text("Connectors")
    expect(page.locator(ROWS)).to_have_count(5)  # the demo's three, and time and repo

    page.get_by_label("Search").fill("calen")
    expect(page.locator(ROWS)).to_have_count(1)
    page.wait_for_url(re.compile(r"/connectors/\?q=calen"))
    row = page.locator(ROWS).first
    expect(row.locator(".status-connected")).to_have_text("Connected")

    row.locator(".connector-link").click()
    page.wait_for_url(re.compile(r"/connectors/google-calendar/$"))
    expect(page.locator("h1")).to_contain_text("Google Calendar")
    expect(page.locator("#redirect-uri")).to_have_value(
        re.compile(r"/connectors/google-calendar/oauth/callback/$")
    )
    expect(page.get_by_role("button", name="Copy")).to_be_visible()

    tool_row = page.locator(f'tr[data-tool="{LIST}"]')
    tool_row.get_by_role("button", name=f"Disable {LIST}").click()
    tool_row = page.locator(f'tr[data-tool="{LIST}"]')
    expect(tool_row.locator(".enabled-off")).to_have_text("Disabled")
    expect(tool_row.get_by_role("button", name=f"Enable {LIST}")).to_be_visible()
    assert Tool.objects.get(key=LIST).enabled is False
    assert AuditEntry.objects.filter(object_type="tool").count() == 1

    get_row = page.locator('tr[data-tool="google-calendar_events_get"]')
    get_row.get_by_label("Access of google-calendar_events_get").select_option("write")
    expect(page.locator('tr[data-tool="google-calendar_events_get"]')).to_contain_text(
        "set by hand"
    )
    changed = Tool.objects.get(key="google-calendar_events_get")
    assert (changed.access, changed.access_overridden) == ("write", True)

    page.reload()
    expect(page.locator(f'tr[data-tool="{LIST}"] .enabled-off')).to_have_text("Disabled")
    assert problems.errors == []

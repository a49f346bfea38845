"""The Users page in Chromium: search a user, open the details, lock, see the status change."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from directory.models import Person

pytestmark = pytest.mark.browser

ROWS = "#people-table tbody tr[data-row]"


def test_search_open_details_lock_and_see_the_status_change(page, open_as_admin, demo, problems):
    open_as_admin("/users/")
    expect(page.locator("h1")).to_have_text("Users")
    page.evaluate("window.__notReloaded = true")

    page.get_by_label("Search").fill("ana lopez")
    expect(page.locator(ROWS)).to_have_count(1)
    page.wait_for_url(re.compile(r"/users/\?q=ana"))
    row = page.locator(ROWS).first
    expect(row.locator(".person-status")).to_have_text("Active")

    row.get_by_role("link", name="View details").click()
    panel = page.locator("#panel")
    expect(panel.locator(".person-name")).to_have_text("Ana Lopez")
    expect(panel.locator(".person-policies")).to_contain_text("calendar", ignore_case=True)
    ana = Person.objects.get(email="ana@example.com")
    page.wait_for_url(re.compile(rf"/users/{ana.pk}/$"))

    page.once("dialog", lambda dialog: dialog.accept())
    panel.get_by_role("button", name="Lock user").click()
    expect(panel.locator(".person-status")).to_have_text("Locked")
    expect(panel.get_by_role("button", name="Unlock")).to_be_visible()
    # The table reloads itself on the event: the row says Locked too, without a page load.
    expect(row.locator(".person-status")).to_have_text("Locked")
    assert page.evaluate("window.__notReloaded === true"), "the page was reloaded"
    ana.refresh_from_db()
    assert ana.status == Person.Status.LOCKED
    assert not problems.errors

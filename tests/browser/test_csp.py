"""Under the Content-Security-Policy the console still works, and the browser reports nothing."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from policies.snapshot import clear_snapshot_cache
from requests_app.demo.scenario import seed_scenario

pytestmark = pytest.mark.browser


@pytest.fixture
def demo(admin_user):
    clear_snapshot_cache()
    yield seed_scenario()
    clear_snapshot_cache()


def test_row_menu_closes_when_its_link_loads_the_panel(page, log_in, demo, problems):
    log_in("admin")
    response = page.goto("/policies/")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    menu = page.locator("details.row-menu").first

    menu.locator("summary").click()
    expect(menu).to_have_attribute("open", "")
    menu.get_by_role("link", name="Edit").click()

    expect(page.locator("#panel h2")).to_have_text("Edit policy")
    expect(menu).not_to_have_attribute("open", "")
    assert problems.errors == []


def test_request_panel_opens_by_htmx_without_a_policy_violation(
    page, log_in, admin_user, access_request, problems
):
    log_in("admin")
    page.goto("/requests/")
    page.evaluate("window.__notReloaded = true")

    page.locator(f"tr[data-request='{access_request.public_id}'] a").first.click()

    expect(page.locator("#panel")).to_contain_text("Need to book the quarterly review")
    assert page.evaluate("window.__notReloaded === true")
    assert problems.errors == []

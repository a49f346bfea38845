"""Under the Content-Security-Policy the console still works, and the browser reports nothing."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


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


STEPS = ("General", "Channels", "Approvers", "Timing")


def step_to(page, number: int) -> None:
    """Go to a step of the flow form by its stepper, after a screenshot.

    - The screenshot is what a reviewer's tool takes: Playwright hides the caret with an inline
      style and leaves style="" on every input. htmx used to copy that attribute onto the
      swapped-in inputs, which the CSP refused: 15 errors a step.
    """
    page.screenshot()
    form = page.locator("#flow-panel")
    form.locator(f"button[value=goto-{number}]").click()
    expect(form.locator(".stepper-item.current")).to_contain_text(STEPS[number - 1])


def open_in_panel(page, list_url: str, link: str) -> None:
    page.goto(list_url)
    page.get_by_role("link", name=link).first.click()
    expect(page.locator("#panel h2")).to_be_visible()


@pytest.mark.parametrize("size", [(1280, 800), (390, 844)], ids=["desktop", "phone"])
def test_the_flow_and_policy_forms_load_without_a_console_error(
    page, log_in, demo, pick, problems, size
):
    page.set_viewport_size({"width": size[0], "height": size[1]})
    log_in("admin")
    # An existing flow, as a page and in its panel: every step.
    page.goto(f"/approval-flows/{demo.flow.pk}/edit/")
    for number in (2, 3, 4, 1):
        step_to(page, number)
    open_in_panel(page, "/approval-flows/", "Sales approvals")
    page.locator("#panel").get_by_role("link", name="Edit").click()
    for number in (4, 3, 2, 1):
        step_to(page, number)
    # A new flow, as a page and in the panel: every step, once it has approvers.
    for name, open_form in (
        ("Night shift", lambda: page.goto("/approval-flows/new/")),
        ("Day shift", lambda: open_in_panel(page, "/approval-flows/", "Create flow")),
    ):
        open_form()
        page.locator("#flow-panel").get_by_label("Name").fill(name)
        for number in (2, 3):
            step_to(page, number)
        pick(page.locator("#level-1"), "Groups", "sec", "Security")
        for number in (4, 1):
            step_to(page, number)
    # The policy form, as a page and in the panel; choosing a connector swaps its tools in.
    for open_form in (
        lambda: page.goto("/policies/new/"),
        lambda: open_in_panel(page, "/policies/", "Create policy"),
    ):
        open_form()
        page.screenshot()
        page.locator("#id_connector").select_option(label="GitHub")
        expect(page.get_by_label("github_repos_list (read)")).to_be_visible()
        page.locator("#id_name").fill("GitHub for everyone")
        page.locator("#id_all_users").check()
        page.screenshot()
        page.get_by_role("button", name="What would change").click()
        expect(page.locator(".preview-result")).to_be_visible()
    assert problems.errors == []

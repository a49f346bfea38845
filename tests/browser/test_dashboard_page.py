"""The Dashboard in Chromium: a widget row opens the review panel, a decision updates the widget."""

from __future__ import annotations

import pytest
from django.core.cache import cache

from requests_app.models import AccessRequest, RequestEvent

expect = pytest.importorskip("playwright.sync_api", reason="pip install -e '.[dev]'").expect

pytestmark = pytest.mark.browser


def test_a_widget_row_opens_the_panel_and_a_quick_approval_is_flagged(
    page, log_in, access_request, approver_user, problems
):
    log_in("dana")
    page.evaluate("window.__notReloaded = true")
    page.locator(".pending-widget a", has_text="Ana Lopez").click()
    panel = page.locator("#panel")
    expect(panel.locator("h2")).to_have_text("Review request")
    assert page.evaluate("window.__notReloaded === true"), "the page was reloaded"
    panel.get_by_role("button", name="Approve for user").click()
    expect(panel.locator(".decision-summary")).to_contain_text("Approved by Dana Levi")
    # The widget reloads itself on the decision's event: the request has left it, no page reload.
    expect(page.locator(".pending-widget")).not_to_contain_text("Ana Lopez")
    expect(page.locator(".pending-widget")).to_contain_text("Nothing is waiting for a decision.")
    assert page.evaluate("window.__notReloaded === true"), "the page was reloaded"
    access_request.refresh_from_db()
    assert access_request.status == AccessRequest.Status.APPROVED
    looked = RequestEvent.objects.get(request=access_request, kind="approved").response_ms
    assert looked is not None and looked < 5_000
    cache.clear()  # the figures are cached for a minute
    page.goto("/")
    expect(page.locator('tr.rubber-stamp[data-approver="Dana Levi"]')).to_contain_text(
        "1 possible rubber-stamp"
    )
    expect(page.locator("svg.chart-svg")).to_have_count(3)
    assert problems.errors == []

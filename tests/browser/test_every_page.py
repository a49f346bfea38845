"""Every page of the console, opened in Chromium: no script or Content-Security-Policy error, and
nothing wider than the window.

The pages come from the one URL table of the security suite (tests/security/url_table.py): every
route that answers an admin's GET with a page, built from the same World of objects, so a new
page is checked here as soon as it is classified there.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.test_console_layout import OVERFLOW
from tests.security.conftest import other_approver_user, world  # noqa: F401 (fixtures)
from tests.security.url_table import ROUTES

pytestmark = pytest.mark.browser

NOT_PAGES = ("api/v1/openapi.json", "activity/export.csv", "healthz", "admin/")
PAGES = sorted(
    route
    for route, answers in ROUTES.items()
    if answers.get.get("admin") == 200 and not route.startswith(NOT_PAGES)
)


def test_the_table_yields_the_console_pages():
    """The filter above keeps the pages people open (a guard against an empty parametrization)."""
    assert {"", "requests/", "policies/new/", "approval-flows/new/", "a/<path:token>/"} <= set(
        PAGES
    )


@pytest.mark.parametrize("route", PAGES)
def test_every_page_opens_without_an_error(page, log_in, world, problems, route):  # noqa: F811
    url = ROUTES[route].url(world) if ROUTES[route].url else f"/{route}"
    if not route.startswith("a/"):
        log_in("admin")
    response = page.goto(url)
    assert response.status == 200, url
    assert "text/html" in response.headers["content-type"]
    expect(page.locator("body")).not_to_be_empty()
    assert problems.errors == [], url
    assert page.evaluate(OVERFLOW) == [], url

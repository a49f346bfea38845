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

NOT_PAGES = ("api/v1/openapi.json", "activity/export.csv", "healthz", "admin/", ".well-known/")
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


def test_every_page_opens_without_an_error(page, enter_as, world, problems):  # noqa: F811
    """One pass over every page (one sign-in): what is wrong is listed page by page."""
    enter_as("admin")
    found = {}
    for route in PAGES:
        url = ROUTES[route].url(world) if ROUTES[route].url else f"/{route}"
        response = page.goto(url)
        wrong = [] if response.status == 200 else [f"status {response.status}"]
        if "text/html" not in response.headers.get("content-type", ""):
            wrong.append(f"content-type {response.headers.get('content-type')}")
        expect(page.locator("body")).not_to_be_empty()
        wrong += problems.errors + page.evaluate(OVERFLOW)
        problems.errors.clear()
        if wrong:
            found[url] = wrong
    assert found == {}

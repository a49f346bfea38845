"""The icon: linked from the page heads, and /favicon.ico answered, so no page logs a 404 for it."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

IMAGE_TYPES = {"image/svg+xml", "image/x-icon", "image/vnd.microsoft.icon"}


@pytest.mark.parametrize("path", ["/accounts/login/", "/api/v1/docs/"])
def test_the_page_links_icons_that_load(page, admin_user, problems, path):
    page.goto(path)

    icons = page.locator("link[rel=icon]")
    expect(icons).to_have_count(2)
    for href in icons.evaluate_all("links => links.map(link => link.href)"):
        answer = page.request.get(href)
        assert answer.status == 200, href
        assert answer.headers["content-type"] in IMAGE_TYPES, href
    assert problems.errors == []


def test_favicon_ico_leads_to_the_icon(page, problems):
    answer = page.request.get("/favicon.ico")

    assert answer.status == 200
    assert answer.headers["content-type"] in IMAGE_TYPES
    assert answer.body()[:4] == b"\x00\x00\x01\x00"  # an ICO file's header

"""Settings → API keys in Chromium: a new key and its signing secret are copied with one click."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from gateways.models import ApiKey
from gateways.services import api_key_authenticate

pytestmark = pytest.mark.browser


def test_the_copy_buttons_put_the_new_key_and_secret_on_the_clipboard(
    page, open_as_admin, admin_user, live_server, problems
):
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    open_as_admin("/settings/api-keys/new/")
    page.get_by_label("Name").fill("gateway-prod")
    page.get_by_label("Webhook URL").fill("https://gateway.example.com/hooks/agenwork")
    page.get_by_role("button", name="Create key").click()
    expect(page.locator("h1")).to_have_text("Key “gateway-prod” created")

    page.get_by_role("button", name="Copy API key").click()

    expect(page.get_by_role("button", name="Copy API key")).to_have_text("Copied")
    copied_key = page.evaluate("navigator.clipboard.readText()")
    assert copied_key == page.locator("#raw-key").input_value()
    assert api_key_authenticate(copied_key) == ApiKey.objects.get(name="gateway-prod")

    page.get_by_role("button", name="Copy Webhook signing secret").click()

    expect(page.get_by_role("button", name="Copy Webhook signing secret")).to_have_text("Copied")
    copied_secret = page.evaluate("navigator.clipboard.readText()")
    assert copied_secret == page.locator("#webhook-secret").input_value() != copied_key
    assert problems.errors == []

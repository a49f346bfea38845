"""A person's gateway tokens in Chromium: create one, see it once, reload, revoke it."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from mcp_gateway.models import GatewayToken
from mcp_gateway.tokens import gateway_token_authenticate
from tests.conftest import PASSWORD
from tests.factories import PersonFactory

pytestmark = pytest.mark.browser

RAW_TOKEN = re.compile(r"^agw_[a-z0-9]{10}_\S{20,}$")


@pytest.fixture
def ben(db):
    return PersonFactory(name="Ben Kim", email="ben@example.com")


@pytest.fixture
def log_in_plain(plain_page):
    """Log in through the form, with JavaScript off."""

    def log_in(username: str) -> None:
        plain_page.goto("/accounts/login/")
        plain_page.fill("#id_username", username)
        plain_page.fill("#id_password", PASSWORD)
        plain_page.click("button[type=submit]")
        plain_page.wait_for_url(lambda url: "/accounts/login/" not in url)

    return log_in


def test_create_shows_the_token_once_then_only_its_prefix_and_revoke_stops_it(
    page, enter_as, admin_user, ben, live_server, settings, problems
):
    settings.MCP_GATEWAY_URL = "http://127.0.0.1:8300/mcp"
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    enter_as("admin")
    page.goto("/users/?q=ben")
    page.locator("#people-table").get_by_role("link", name="View details").click()
    tokens = page.locator("#panel #gateway-tokens")
    expect(tokens.locator(".no-tokens")).to_have_text("No gateway tokens yet.")

    tokens.get_by_label("Expires in (days)").fill("30")
    tokens.get_by_role("button", name="Create token").click()

    expect(tokens.locator(".token-issued")).to_contain_text("it will not be shown again")
    raw = tokens.locator("#new-gateway-token").input_value()
    assert RAW_TOKEN.match(raw)
    token = GatewayToken.objects.get()
    assert gateway_token_authenticate(raw) == token and token.person == ben
    command = (
        "claude mcp add --transport http agenwork http://127.0.0.1:8300/mcp "
        f'--header "Authorization: Bearer {raw}"'
    )
    expect(tokens.locator("#claude-command")).to_have_value(command)
    tokens.get_by_role("button", name="Copy the claude mcp add command").click()
    expect(tokens.get_by_role("button", name="Copy the claude mcp add command")).to_have_text(
        "Copied"
    )
    assert page.evaluate("navigator.clipboard.readText()") == command
    row = tokens.locator(f'[data-token="{token.prefix}"]')
    expect(row.locator(".token-status")).to_have_text("Active")

    page.reload()  # the person's own page now (its URL was pushed): the token is gone for good
    tokens = page.locator("#gateway-tokens")
    expect(tokens.locator(f'[data-token="{token.prefix}"] .token-prefix')).to_have_text(
        f"agw_{token.prefix}_…"
    )
    expect(tokens.locator(".token-issued")).to_have_count(0)
    assert raw not in page.content()
    assert token.prefix in raw

    page.once("dialog", lambda dialog: dialog.accept())
    tokens.get_by_role("link", name=f"Revoke agw_{token.prefix}_…").click()

    expect(tokens.locator(".token-notice")).to_contain_text(f"Revoked agw_{token.prefix}_…")
    expect(tokens.locator(f'[data-token="{token.prefix}"] .token-status')).to_have_text("Revoked")
    token.refresh_from_db()
    assert token.revoked_at is not None and gateway_token_authenticate(raw) is None
    assert problems.errors == []


def test_without_javascript_tokens_are_created_and_revoked_through_plain_pages(
    plain_page, admin_user, ben, log_in_plain
):
    log_in_plain("admin")
    plain_page.goto(f"/users/{ben.pk}/")
    plain_page.get_by_role("link", name="Gateway tokens of Ben Kim").click()
    plain_page.get_by_role("button", name="Create token").click()

    raw = plain_page.locator("#new-gateway-token").input_value()
    assert RAW_TOKEN.match(raw)
    token = GatewayToken.objects.get()
    plain_page.get_by_role("link", name=f"Revoke agw_{token.prefix}_…").click()
    expect(plain_page.locator("h1")).to_have_text(f"Revoke agw_{token.prefix}_…?")
    assert GatewayToken.objects.get().revoked_at is None  # asking changed nothing
    plain_page.get_by_role("button", name="Revoke token").click()

    plain_page.wait_for_url(re.compile(rf"/users/{ben.pk}/$"))
    expect(plain_page.locator("#messages")).to_contain_text(f"Revoked agw_{token.prefix}_…")
    assert gateway_token_authenticate(raw) is None

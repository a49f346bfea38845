"""Signing in through the company's identity provider in Chromium, on its own pages.

The provider is oidc-provider (npm) in a Node process (tests/support/identity_provider.py);
Chromium clicks "Sign in with Acme SSO", types at the provider's login page, agrees on its
consent page and comes back to the console, or to the page that says why not.
"""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import expect

from audit.models import AuditEntry
from directory.models import Person

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def sso(request, settings, live_server, sso_people):
    """Single sign-on on the live server: its callback is the redirect URI registered."""
    settings.SITE_URL = live_server.url
    return request.getfixturevalue("single_sign_on")


@pytest.fixture
def at_provider(page, identity_provider):
    """Sign in at the provider's own pages as `login`, from the console's login page."""

    def at_provider(login: str, start: str = "/accounts/login/") -> None:
        page.goto(start)
        page.get_by_role("link", name="Sign in with Acme SSO").click()
        page.wait_for_url(re.compile("^" + re.escape(identity_provider.issuer)))
        page.locator("input[name=login]").fill(login)
        page.locator("input[name=password]").fill("any password")
        page.get_by_role("button", name="Sign-in").click()
        page.get_by_role("button", name="Continue").click()  # the provider's consent page

    return at_provider


def test_an_approver_signs_in_and_lands_where_they_were_going(page, live_server, sso, at_provider):
    at_provider("dana", start="/requests/")  # → the login page, `next` kept through the provider

    page.wait_for_url(f"{live_server.url}/requests/")
    expect(page.locator(".sidebar-user")).to_contain_text("Dana Levi")
    expect(page.locator(".sidebar-user")).to_contain_text("Approver")


def test_a_person_without_a_login_gets_one_linked_to_them(page, live_server, sso, at_provider):
    at_provider("ana")

    page.wait_for_url(f"{live_server.url}/me/")  # she decides nothing: her own page
    expect(page.get_by_role("heading", name="My agents")).to_be_visible()
    expect(page.locator(".sidebar-user")).to_contain_text("Ana Lopez")
    ana = Person.objects.select_related("user").get(email="ana@example.com")
    assert ana.user is not None and not ana.user.is_staff


@pytest.mark.parametrize(
    ("login", "title"),
    [
        ("oscar", "You are not in agenwork's directory"),
        ("mallory", "Your email address is not verified"),
        ("lena", "Your access is locked"),
    ],
)
def test_nobody_else_gets_in(page, sso, at_provider, login, title):
    users = get_user_model().objects.count()

    at_provider(login)

    expect(page.get_by_role("heading", name=title)).to_be_visible()
    expect(page.get_by_role("link", name="Back to the login page")).to_be_visible()
    assert get_user_model().objects.count() == users
    assert AuditEntry.objects.get().action == AuditEntry.Action.REFUSED
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=/$"))


def test_a_tampered_state_is_refused(page, sso, at_provider):
    """The state the provider sends back is not the one this browser's sign-in keeps."""

    def tamper(route) -> None:
        answer = route.fetch(max_redirects=0)
        location = re.sub(
            r"state=([^&]+)", lambda m: f"state={m.group(1)[::-1]}", answer.headers["location"]
        )
        route.fulfill(status=302, headers={"Location": location})

    page.route("**/accounts/oidc/start/**", tamper)
    at_provider("ana")

    expect(page.get_by_role("heading", name="This sign-in cannot be finished")).to_be_visible()
    assert Person.objects.get(email="ana@example.com").user_id is None
    assert AuditEntry.objects.get().after["reason"] == "state_mismatch"


def test_a_replayed_answer_is_refused(page, browser, live_server, sso, at_provider):
    answers: list[str] = []
    page.on("request", lambda r: answers.append(r.url) if "/oidc/callback/" in r.url else None)
    at_provider("ana")
    expect(page.locator(".sidebar-user")).to_contain_text("Ana Lopez")

    again = page.goto(answers[0])
    elsewhere = browser.new_context(base_url=live_server.url).new_page()
    stolen = elsewhere.goto(answers[0])

    assert again.status == 400 and stolen.status == 400
    expect(elsewhere.get_by_role("heading", name="This sign-in cannot be finished")).to_be_visible()
    elsewhere.context.close()
    assert AuditEntry.objects.filter(action=AuditEntry.Action.SIGNED_IN).count() == 1


def test_the_local_login_still_works_beside_the_provider(page, sso, log_in, admin_user):
    log_in("admin")

    expect(page.locator(".sidebar-user")).to_contain_text("Admin")

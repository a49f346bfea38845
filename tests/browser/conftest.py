"""Playwright fixtures: headless Chromium driving the real pages on pytest-django's live server.

- Chromium is the Debian package at /usr/bin/chromium (or CHROMIUM_PATH); no Playwright download.
- With CI=true a missing browser fails the run: these tests never skip there.
- The live server serves static files through Django's finders, so the pages use the plain static
  storage here (the manifest storage would link hashed names the finders do not know).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

# Playwright's sync API keeps an asyncio loop in the test thread; without this Django refuses the
# ORM calls that fixtures and assertions make ("You cannot call this from an async context").
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 10_000
PASSWORD = "correct-horse-battery"  # tests/factories.py UserFactory


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def _unavailable(reason: str) -> None:
    if _in_ci():
        pytest.fail(f"Browser tests must run when CI=true, but {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """One headless Chromium for the session."""
    try:
        from playwright.sync_api import Error, sync_playwright
    except ImportError:
        _unavailable("Playwright is not installed: pip install -e '.[dev]'")
    if not CHROMIUM.exists():
        _unavailable(
            f"Chromium is missing at {CHROMIUM}: apt-get install chromium, or set CHROMIUM_PATH"
        )
    with sync_playwright() as playwright:
        try:
            chromium = playwright.chromium.launch(
                executable_path=str(CHROMIUM), headless=True, args=LAUNCH_ARGS
            )
        except Error as exc:
            _unavailable(f"Chromium at {CHROMIUM} does not start: {exc}")
        yield chromium
        chromium.close()


@dataclass
class Problems:
    """What went wrong in the page: script errors and failed loads of our own files."""

    errors: list[str] = field(default_factory=list)

    def watch(self, page) -> None:
        page.on("pageerror", lambda exc: self.errors.append(f"script error: {exc}"))
        page.on("console", self._console)
        page.on(
            "response",
            lambda r: (
                self.errors.append(f"{r.status} {r.url}")
                if r.status >= 400 and "/static/" in r.url
                else None
            ),
        )

    def _console(self, message) -> None:
        if message.type == "error":
            self.errors.append(f"console: {message.text} ({message.location.get('url')})")


@pytest.fixture
def problems() -> Problems:
    return Problems()


def _static_from_source(settings) -> None:
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture
def page(browser, live_server, settings, problems) -> Iterator[object]:
    """A fresh browser tab (own cookies) on the live server."""
    _static_from_source(settings)
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1400, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    tab = context.new_page()
    problems.watch(tab)
    yield tab
    context.close()


@pytest.fixture
def plain_page(browser, live_server, settings) -> Iterator[object]:
    """A tab with JavaScript off, as some people browse: the console must work there too."""
    _static_from_source(settings)
    context = browser.new_context(base_url=live_server.url, java_script_enabled=False)
    context.set_default_timeout(TIMEOUT_MS)
    yield context.new_page()
    context.close()


@pytest.fixture
def log_in(page) -> Callable[[str], None]:
    """Log in through the login form, as a person would."""

    def log_in(username: str, password: str = PASSWORD) -> None:
        page.goto("/accounts/login/")
        page.fill("#id_username", username)
        page.fill("#id_password", password)
        page.click("button[type=submit]")
        page.wait_for_url(lambda url: "/accounts/login/" not in url)

    return log_in


@pytest.fixture
def enter_as(page, live_server) -> Callable[[str], None]:
    """Sign a login in without the form: its session cookie, made by Django's test client.

    For tests about pages rather than about logging in: it saves the login form and the
    Dashboard it leads to on every test.
    """
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.test import Client

    def enter_as(username: str) -> None:
        client = Client()
        client.force_login(get_user_model().objects.get(username=username))
        cookie = client.cookies[settings.SESSION_COOKIE_NAME]
        page.context.add_cookies(
            [{"name": cookie.key, "value": cookie.value, "url": live_server.url}]
        )

    return enter_as


@pytest.fixture
def demo(admin_user):
    """The demo scenario (people, connectors, policies, flows, requests), with fresh snapshots."""
    from policies.snapshot import clear_snapshot_cache
    from requests_app.demo.scenario import seed_scenario

    clear_snapshot_cache()
    yield seed_scenario()
    clear_snapshot_cache()


@pytest.fixture
def open_as_admin(page, log_in) -> Callable[[str], None]:
    """Log in as the admin, then open `path`."""

    def open_as_admin(path: str) -> None:
        log_in("admin")
        page.goto(path)

    return open_as_admin


@pytest.fixture
def pick(page) -> Callable[..., None]:
    """Choose in a people or group picker as a person does: type part of a name, click the match.

    `scope` holds the picker (the panel, a level); `label` is the list's label; the option whose
    text contains `chosen` must be offered, and ends as a removable chip.
    """
    from playwright.sync_api import expect

    def pick(scope, label: str, typed: str, chosen: str) -> None:
        box = scope.get_by_role("combobox", name=label)
        control = box.locator("xpath=..")  # the picker's box: its chips and the search input
        # Focus as the Tab key gives it (a click in the middle of the box may land on a chip,
        # which selects the chip instead).
        box.focus()
        box.press_sequentially(typed)
        offered = page.locator(f"#{box.get_attribute('aria-controls')}")
        offered.get_by_role("option", name=chosen).click()
        expect(control.locator(".item", has_text=chosen).locator(".remove")).to_be_visible()

    return pick

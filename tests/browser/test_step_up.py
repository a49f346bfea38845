"""Step-up end to end: an agent's Step-up tool refused through the gateway, the person opening
the link in Chromium and signing in again (at the identity provider, oidc-provider in Node, with
prompt=login; or with their console password), the same call then allowed, and refused again
once the window has passed."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from audit.models import AuditEntry
from directory.models import StepUp
from policies.models import Policy
from tests.conftest import PASSWORD
from tests.factories import UserFactory
from tests.mcp_gateway.test_gateway import scenario  # noqa: F401  (a fixture)
from tests.support.gateway import TIME_UPSTREAM, as_person, call, start_gateway, text_of, token_of

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

NOW_IN_UTC = ("time_get_current_time", {"timezone": "UTC"})
LINK = re.compile(r"https?://\S+/step-up/[A-Za-z0-9_-]+/")


@pytest.fixture
def gateway(live_server, settings, tmp_path) -> Iterator[str]:
    """The gateway, its step-up links pointing at the live server."""
    settings.SITE_URL = live_server.url
    running = start_gateway(TIME_UPSTREAM, tmp_path / "gateway.log", SITE_URL=live_server.url)
    yield running.base
    running.stop()


@pytest.fixture
def needs_step_up(scenario):  # noqa: F811
    """The time tool needs a step-up, for everyone (Ana, Sales, is an account of the provider)."""
    policy = Policy.objects.get(name="Time for everyone")
    policy.action = Policy.Action.STEP_UP
    policy.save()
    return scenario


def refused_with_link(gateway: str, token: str) -> str:
    result = as_person(gateway, token, call(*NOW_IN_UTC))
    assert result.is_error, text_of(result)
    found = LINK.search(text_of(result))
    assert found, text_of(result)
    return found.group(0)


def allowed(gateway: str, token: str) -> bool:
    result = as_person(gateway, token, call(*NOW_IN_UTC))
    return not result.is_error and "datetime" in text_of(result)


def sign_in_at(page, identity_provider, login: str) -> None:
    page.wait_for_url(re.compile("^" + re.escape(identity_provider.issuer)))
    page.locator("input[name=login]").fill(login)
    page.locator("input[name=password]").fill("any password")
    page.get_by_role("button", name="Sign-in").click()


def test_the_person_signs_in_again_at_the_provider_and_the_same_call_runs(
    page, gateway, needs_step_up, settings, identity_provider, request
):
    request.getfixturevalue("single_sign_on")  # registered with the live server's callback
    token = token_of(needs_step_up["ana"])
    link = refused_with_link(gateway, token)

    page.goto(link)  # not signed in: the login page, then the provider, then back to the link
    page.get_by_role("link", name="Sign in with Acme SSO").click()
    sign_in_at(page, identity_provider, "ana")
    page.get_by_role("button", name="Continue").click()  # the provider's consent page
    page.wait_for_url(link)
    expect(page.get_by_role("heading", name="Verify it's you")).to_be_visible()
    assert not StepUp.objects.exists()  # signing in to the console is no step-up

    page.get_by_role("button", name="Sign in again with Acme SSO").click()
    sign_in_at(page, identity_provider, "ana")  # prompt=login: the provider asks again
    expect(page.get_by_role("heading", name="Verified")).to_be_visible()
    expect(page.get_by_text("Go back to your agent and repeat the call")).to_be_visible()

    step_up = StepUp.objects.get()
    assert step_up.method == "oidc" and step_up.person == needs_step_up["ana"]
    assert allowed(gateway, token)
    StepUp.objects.update(authenticated_at=timezone.now() - timedelta(minutes=16))
    refused_with_link(gateway, token)
    actions = list(
        AuditEntry.objects.filter(object_type="step_up")
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert actions == ["step_up_started", "stepped_up"]


def test_without_sso_the_person_types_their_password_again(page, gateway, needs_step_up, log_in):
    ana = needs_step_up["ana"]
    ana.user = UserFactory(username="ana", password=PASSWORD)
    ana.save()
    token = token_of(ana)
    link = refused_with_link(gateway, token)
    log_in("ana")

    page.goto(link)
    page.get_by_label("Your console password").fill("not my password")
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_text("That is not your console password.")).to_be_visible()
    assert not StepUp.objects.exists()
    assert not allowed(gateway, token)

    page.get_by_label("Your console password").fill(PASSWORD)
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_role("heading", name="Verified")).to_be_visible()

    assert allowed(gateway, token)
    StepUp.objects.update(authenticated_at=timezone.now() - timedelta(minutes=16))
    refused_with_link(gateway, token)

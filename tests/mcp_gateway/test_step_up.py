"""Step-up through the gateway as its own process: a Step-up tool is refused with a link; once the
person signs in again there (the console password here; tests/browser/test_step_up.py goes
through the identity provider in Chromium) the same call runs, until the window ends."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from directory.models import StepUp, StepUpChallenge
from mcp_gateway.rules import call_verdict
from policies.models import DecisionLog, Policy
from policies.snapshot import current_snapshot
from tests.conftest import PASSWORD
from tests.factories import UserFactory
from tests.mcp_gateway.test_gateway import scenario  # noqa: F401  (a fixture)
from tests.support.gateway import TIME_UPSTREAM, as_person, call, start_gateway, text_of, token_of

pytestmark = pytest.mark.django_db(transaction=True)

NOW_IN_UTC = ("time_get_current_time", {"timezone": "UTC"})
LINK = re.compile(r"(https?://\S+/step-up/([A-Za-z0-9_-]+)/)")


@pytest.fixture(scope="module")
def gateway(django_db_setup, tmp_path_factory) -> Iterator[str]:
    """The gateway, with a 10-minute step-up window (STEP_UP_WINDOW_SECONDS in its env)."""
    log = tmp_path_factory.mktemp("step-up") / "gateway.log"
    running = start_gateway(TIME_UPSTREAM, log, STEP_UP_WINDOW_SECONDS="600")
    yield running.base
    running.stop()


@pytest.fixture
def needs_step_up(scenario):  # noqa: F811
    """The time tool needs a step-up, for everyone; Ben has a console password."""
    policy = Policy.objects.get(name="Time for everyone")
    policy.action = Policy.Action.STEP_UP
    policy.save()  # through save(): the snapshot version moves, the gateway sees it
    ben = scenario["ben"]
    ben.user = UserFactory(username="ben", password=PASSWORD)
    ben.save()
    return scenario


def refused_link(base: str, token: str) -> tuple[str, str]:
    """Call the Step-up tool; it must be refused with a link. The link and its token."""
    result = as_person(base, token, call(*NOW_IN_UTC))
    text = text_of(result)
    assert result.is_error, text
    assert "NOT executed" in text and "repeat the same call" in text
    found = LINK.search(text)
    assert found, text
    return found.group(1), found.group(2)


def step_up_with_password(person, link_token: str) -> None:
    browser = Client()
    browser.force_login(person.user)
    response = browser.post(f"/step-up/{link_token}/", {"password": PASSWORD})
    assert response.status_code == 200, response.content


def test_a_step_up_tool_runs_after_the_person_steps_up_and_until_the_window_ends(
    gateway, needs_step_up, settings
):
    ben = needs_step_up["ben"]
    token = token_of(ben)

    link, link_token = refused_link(gateway, token)
    assert link == f"{settings.SITE_URL}/step-up/{link_token}/"
    challenge = StepUpChallenge.objects.get()
    assert (challenge.person, challenge.tool_key) == (ben, "time_get_current_time")
    assert challenge.agent.startswith("test-agent")

    step_up_with_password(ben, link_token)
    allowed = as_person(gateway, token, call(*NOW_IN_UTC))
    again = as_person(gateway, token, call(*NOW_IN_UTC))

    assert not allowed.is_error and "datetime" in text_of(allowed)
    assert not again.is_error  # any number of calls within the window
    StepUp.objects.update(authenticated_at=timezone.now() - timedelta(minutes=11))  # the window
    refused_link(gateway, token)
    reasons = list(DecisionLog.objects.order_by("id").values_list("decision", "reason_code"))
    assert reasons == [
        ("step_up", "step_up_required"),
        ("allow", "allowed"),
        ("allow", "allowed"),
        ("step_up", "step_up_required"),
    ]
    assert StepUpChallenge.objects.count() == 2  # a new link for the new step-up


def test_a_step_up_of_another_person_lets_nothing_through(gateway, needs_step_up):
    ana, ben = needs_step_up["ana"], needs_step_up["ben"]
    _, link_token = refused_link(gateway, token_of(ben))
    step_up_with_password(ben, link_token)

    refused_link(gateway, token_of(ana))  # Ana's own calls still need her own step-up


def test_an_unused_link_lets_nothing_through(gateway, needs_step_up):
    token = token_of(needs_step_up["ben"])
    refused_link(gateway, token)

    refused_link(gateway, token)
    assert not StepUp.objects.exists()


def test_a_tool_without_a_step_up_policy_costs_no_step_up_query(
    needs_step_up, django_assert_num_queries
):
    """In process: an allowed call reads nothing more than before (the decision's log line);
    only a Step-up tool reads the person's latest step-up."""
    policy = Policy.objects.get(name="Time for everyone")
    policy.action = Policy.Action.ALLOW
    policy.save()
    version = current_snapshot().version
    ask = {"email": "ben@example.com", "arguments": {}, "agent": "a", "snapshot_version": version}
    call_verdict(key="time_get_current_time", **ask)  # the snapshot and its tools, once

    with django_assert_num_queries(1):  # the DecisionLog INSERT
        verdict = call_verdict(key="time_get_current_time", **ask)

    assert verdict.upstream is not None and not verdict.message


def test_a_fresh_step_up_costs_one_query_more(needs_step_up, django_assert_num_queries):
    ben = needs_step_up["ben"]
    StepUp.objects.create(person=ben, method="password", authenticated_at=timezone.now())
    version = current_snapshot().version
    ask = {"email": ben.email, "arguments": {}, "agent": "a", "snapshot_version": version}
    call_verdict(key="time_get_current_time", **ask)

    with django_assert_num_queries(2):  # the latest step-up, the DecisionLog INSERT
        verdict = call_verdict(key="time_get_current_time", **ask)

    assert verdict.upstream is not None and not verdict.message

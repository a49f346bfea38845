"""Calls held for an approval, through the gateway as its own process and the SDK's MCP client:
approved while waiting, denied, the window passing and the retry, identical calls at once, and a
client that goes away."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor

import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

from mcp_gateway.upstreams import run_blocking
from policies.models import DecisionLog, Policy
from requests_app.models import AccessRequest, RequestEvent
from tests.factories import UserFactory
from tests.mcp_gateway.test_gateway import scenario  # noqa: F401  (a fixture)
from tests.support.gateway import (
    AGENT,
    TIME_UPSTREAM,
    as_person,
    call,
    health,
    start_gateway,
    text_of,
    token_of,
)

pytestmark = pytest.mark.django_db(transaction=True)

NOW_IN_UTC = ("time_get_current_time", {"timezone": "UTC"})


@pytest.fixture
def needs_approval(scenario):  # noqa: F811
    """The time tool needs an approval by the Security group, for everyone."""
    policy = Policy.objects.get(name="Time for everyone")
    policy.action, policy.approval_flow = "approval_required", scenario["flow"]
    policy.save()  # through save(): the snapshot version moves, the gateway sees it
    return scenario


@pytest.fixture(scope="module")
def long_hold(django_db_setup, tmp_path_factory) -> Iterator[str]:
    """A gateway that holds calls for 30 s: long enough to decide while they wait."""
    log = tmp_path_factory.mktemp("long") / "gateway.log"
    running = start_gateway(TIME_UPSTREAM, log, MCP_HOLD_SECONDS="30")
    yield running.base
    running.stop()


@pytest.fixture(scope="module")
def short_hold(django_db_setup, tmp_path_factory) -> Iterator[str]:
    """A gateway that holds calls for 2 s: the window ends before anyone decides."""
    log = tmp_path_factory.mktemp("short") / "gateway.log"
    running = start_gateway(TIME_UPSTREAM, log, MCP_HOLD_SECONDS="2")
    yield running.base
    running.stop()


@pytest.fixture
def console(client):
    """An admin signed in to the console, deciding as the Requests page does."""
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    return client


def wait_for(condition: Callable[[], object], what: str, seconds: float = 30) -> object:
    """Poll `condition` until it is true; fail naming `what` after `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}")


def held_calls(base: str) -> int:
    """How many calls the gateway holds now (its /healthz says)."""
    return health(base)[1]["held_calls"]


def approve(console, request: AccessRequest, **extra) -> None:
    tool_ids = list(request.tools.values_list("tool_id", flat=True))
    data = {"tools": tool_ids, "duration": "once", **extra}
    response = console.post(f"/requests/{request.public_id}/approve/", data)
    assert response.status_code in (200, 302), response.content[:500]


def in_background(work: Callable[[], object]) -> Future:
    """Run blocking `work` on a thread; the returned future has its result."""
    pool = ThreadPoolExecutor(max_workers=1)
    future = pool.submit(work)
    pool.shutdown(wait=False)
    return future


def executions(request: AccessRequest) -> list[RequestEvent]:
    return list(request.events.filter(kind=RequestEvent.Kind.EXECUTED))


def test_a_call_approved_while_held_runs_once_and_the_history_shows_it(
    long_hold, needs_approval, console
):
    progress: list[str] = []

    async def work(client):
        async def on_progress(done, total, message):
            progress.append(message or "")

        return await client.call_tool(*NOW_IN_UTC, progress_callback=on_progress)

    ben = token_of(needs_approval["ben"])
    pending = in_background(lambda: as_person(long_hold, ben, work))
    request = wait_for(lambda: AccessRequest.objects.first(), "the approval request")
    wait_for(lambda: held_calls(long_hold) == 1, "the call to be held")
    approve(console, request)
    result = pending.result(timeout=30)
    assert not result.is_error, text_of(result)
    assert json.loads(text_of(result))["timezone"] == "UTC"
    request.refresh_from_db()
    assert request.status == "approved" and request.consumed_at is not None
    [execution] = executions(request)
    assert "answered in" in execution.message and execution.data["is_error"] is False
    assert execution.channel == "mcp" and execution.actor_name == "test-agent 1.2.3"
    assert request.events.get(kind=RequestEvent.Kind.CREATED).get_channel_display() == "MCP gateway"
    assert (
        progress
        and f"Waiting for approval by Security, request {request.public_id}" in (progress[0])
    )
    assert DecisionLog.objects.get().request_public_id == request.public_id


def test_a_held_call_denied_gets_the_comment_and_is_not_executed(
    long_hold, needs_approval, console
):
    ben = token_of(needs_approval["ben"])
    pending = in_background(lambda: as_person(long_hold, ben, call(*NOW_IN_UTC)))
    request = wait_for(lambda: AccessRequest.objects.first(), "the approval request")
    response = console.post(f"/requests/{request.public_id}/deny/", {"comment": "Not on Fridays"})
    assert response.status_code in (200, 302)
    result = pending.result(timeout=30)
    assert result.is_error
    text = text_of(result)
    assert "Not executed" in text and "denied" in text and "Not on Fridays" in text
    assert not executions(request)


def test_when_the_window_ends_the_retry_attaches_to_the_request_and_runs_once_approved(
    short_hold, needs_approval, console
):
    ben = token_of(needs_approval["ben"])
    first = as_person(short_hold, ben, call(*NOW_IN_UTC))
    request = AccessRequest.objects.get()
    assert first.is_error and str(request.public_id) in text_of(first)
    assert "NOT executed" in text_of(first) and "waits for Security" in text_of(first)
    assert request.agent == "test-agent 1.2.3" and not executions(request)

    still = as_person(short_hold, ben, call(*NOW_IN_UTC))  # pending: held again, same request
    assert still.is_error and str(request.public_id) in text_of(still)
    assert AccessRequest.objects.count() == 1

    approve(console, request)
    retry = as_person(short_hold, ben, call(*NOW_IN_UTC))
    assert not retry.is_error, text_of(retry)
    assert AccessRequest.objects.count() == 1 and len(executions(request)) == 1

    # The one-time approval is used: the same call again asks again, with a new request.
    again = as_person(short_hold, ben, call(*NOW_IN_UTC))
    assert again.is_error and AccessRequest.objects.count() == 2
    assert len(executions(request)) == 1


def test_a_time_bound_approval_lets_the_later_calls_through(short_hold, needs_approval, console):
    ben = token_of(needs_approval["ben"])
    as_person(short_hold, ben, call(*NOW_IN_UTC))
    request = AccessRequest.objects.get()
    approve(console, request, duration="1h")
    for _ in range(2):
        result = as_person(short_hold, ben, call(*NOW_IN_UTC))
        assert not result.is_error, text_of(result)
    assert AccessRequest.objects.count() == 1


def test_twenty_identical_calls_at_once_make_one_request_and_one_execution(
    long_hold, needs_approval, console
):
    ben = token_of(needs_approval["ben"])

    async def twenty():
        async def one():
            headers = {"Authorization": f"Bearer {ben}"}
            async with create_mcp_http_client(headers=headers) as http:
                transport = streamable_http_client(f"{long_hold}/mcp", http_client=http)
                async with Client(transport, client_info=AGENT) as client:
                    return await client.call_tool(*NOW_IN_UTC)

        return await asyncio.gather(*(one() for _ in range(20)))

    pending = in_background(lambda: run_blocking(twenty))
    wait_for(lambda: held_calls(long_hold) == 20, "the twenty calls to be held")
    request = AccessRequest.objects.get()
    assert DecisionLog.objects.filter(request_public_id=request.public_id).count() == 20
    approve(console, request)
    results = pending.result(timeout=60)
    ran = [r for r in results if not r.is_error]
    assert len(ran) == 1 and AccessRequest.objects.count() == 1
    assert all("used by another identical call" in text_of(r) for r in results if r.is_error)
    assert len(executions(request)) == 1


@pytest.mark.parametrize("mode", ["auto", "legacy"])
def test_a_client_that_goes_away_while_held_is_never_forwarded(
    long_hold, needs_approval, console, mode
):
    ben = token_of(needs_approval["ben"])

    async def leave_while_held():
        headers = {"Authorization": f"Bearer {ben}"}
        async with create_mcp_http_client(headers=headers) as http:
            transport = streamable_http_client(f"{long_hold}/mcp", http_client=http)
            async with Client(transport, client_info=AGENT, mode=mode) as client:
                task = asyncio.ensure_future(client.call_tool(*NOW_IN_UTC))
                while await asyncio.to_thread(held_calls, long_hold) != 1:
                    await asyncio.sleep(0.05)
                task.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await task

    run_blocking(leave_while_held)
    wait_for(lambda: held_calls(long_hold) == 0, "the gateway to drop the held call")
    request = AccessRequest.objects.get()
    approve(console, request)
    # The approval is still unused: the same call repeated now attaches to it and runs.
    retry = as_person(long_hold, ben, call(*NOW_IN_UTC))
    assert not retry.is_error, text_of(retry)
    request.refresh_from_db()
    assert AccessRequest.objects.count() == 1 and len(executions(request)) == 1

"""Upstream sessions kept open by the gateway (one process for the module): reuse, faults and
recovery, live health probes, and tools/list_changed told to open sessions.

Upstreams: the real mcp-server-time, and two stdio servers of these tests (servers/): `slow`
(an MCPServer whose `wait` tool takes its time) and `garbage` (answers text that is not MCP);
`remote`, a Streamable HTTP URL where `slow.py` listens only when a test starts it.
"""

from __future__ import annotations

import itertools
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path
from typing import Any

import anyio
import mcp_types
import pytest

from connectors.models import Connector
from policies.models import Policy
from tests.factories import ConnectorFactory, PersonFactory, PolicyFactory, ToolFactory
from tests.support.gateway import (
    TIME_UPSTREAM,
    Gateway,
    as_person,
    call,
    database_url,
    fresh_snapshot_version,
    health,
    start_gateway,
    text_of,
    token_of,
)
from tests.support.ports import free_port

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.xdist_group("mcp_gateway_upstream_sessions"),  # one gateway process for all
]

SERVERS = Path(__file__).resolve().parent / "servers"
UPSTREAMS = {
    **TIME_UPSTREAM,
    "slow": {"command": sys.executable, "args": [str(SERVERS / "slow.py")]},
    "garbage": {"command": sys.executable, "args": [str(SERVERS / "garbage.py")]},
}
TOOLS = ("time_get_current_time", "slow_echo", "slow_wait", "garbage_echo", "remote_echo")
NOW_IN_UTC = call("time_get_current_time", {"timezone": "UTC"})


@pytest.fixture(scope="module")
def gateway(django_db_setup, tmp_path_factory) -> Iterator[Gateway]:
    running = start_gateway(UPSTREAMS, tmp_path_factory.mktemp("gateway") / "gateway.log")
    yield running
    running.stop()


@pytest.fixture(scope="module")
def remote_port() -> int:
    return free_port()


@pytest.fixture
def token(gateway, remote_port) -> str:
    """Ben's token; every connector's tools are allowed to everyone."""
    fresh_snapshot_version()
    connectors = {
        slug: ConnectorFactory(slug=slug, name=slug.title(), status=Connector.Status.DISCONNECTED)
        for slug in UPSTREAMS
    }
    connectors["remote"] = ConnectorFactory(
        slug="remote",
        name="Remote",
        status=Connector.Status.DISCONNECTED,
        upstream_url=f"http://127.0.0.1:{remote_port}/mcp",
    )
    for key in TOOLS:
        slug = key.split("_", 1)[0]
        ToolFactory(connector=connectors[slug], key=key, input_schema={"type": "object"})
    for connector in connectors.values():
        PolicyFactory(name=f"{connector.name} for everyone", connector=connector)
    return token_of(PersonFactory(email="ben@example.com"))


def upstream_pids(gateway: Gateway, marker: str) -> list[int]:
    """The live processes the gateway started whose command line names `marker`."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            state, parent = stat.read_text().rsplit(")", 1)[1].split()[:2]
            command = (stat.parent / "cmdline").read_bytes()
        except (OSError, ValueError):
            continue  # it ended while we looked
        if int(parent) == gateway.pid and state != "Z" and marker.encode() in command:
            found.append(int(stat.parent.name))
    return sorted(found)


def wait_for(condition: Callable[[], Any], *, seconds: float = 20) -> Any:
    deadline = time.monotonic() + seconds
    while not (value := condition()):
        assert time.monotonic() < deadline, "the condition did not hold in time"
        time.sleep(0.05)
    return value


def connector(slug: str) -> Connector:
    return Connector.objects.get(slug=slug)


def test_allowed_calls_share_one_upstream_process(gateway, token):
    first = as_person(gateway.base, token, NOW_IN_UTC)
    assert not first.is_error
    pids = upstream_pids(gateway, "mcp_server_time")
    assert len(pids) == 1

    async def five_at_once(client):
        results = []

        async def one() -> None:
            results.append(await NOW_IN_UTC(client))

        async with anyio.create_task_group() as calls:
            for _ in range(5):
                calls.start_soon(one)
        return results

    results = as_person(gateway.base, token, five_at_once)  # another agent session
    assert len(results) == 5 and not any(r.is_error for r in results)
    assert upstream_pids(gateway, "mcp_server_time") == pids


def test_a_killed_upstream_is_an_error_then_restarted_and_connected_again(gateway, token):
    assert not as_person(gateway.base, token, NOW_IN_UTC).is_error
    [pid] = upstream_pids(gateway, "mcp_server_time")
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: pid not in upstream_pids(gateway, "mcp_server_time"))

    failed = as_person(gateway.base, token, NOW_IN_UTC)
    assert failed.is_error
    assert "The upstream server of time failed: it closed the connection" in text_of(failed)
    broken = connector("time")
    assert broken.status == Connector.Status.ERROR and "closed the connection" in (
        broken.upstream_error
    )
    assert broken.upstream_checked_at is not None

    again = as_person(gateway.base, token, NOW_IN_UTC)
    assert not again.is_error and '"timezone": "UTC"' in text_of(again)
    back = connector("time")
    assert back.status == Connector.Status.CONNECTED and back.upstream_error == ""
    [restarted] = upstream_pids(gateway, "mcp_server_time")
    assert restarted != pid


def test_a_slow_upstream_times_out_naming_its_connector_timeout(gateway, token):
    warm = as_person(gateway.base, token, call("slow_echo", {"text": "hello"}))
    assert not warm.is_error and text_of(warm) == "hello"
    slow_connector = connector("slow")
    slow_connector.upstream_timeout_seconds = 2
    slow_connector.save()  # as the admin saves it: the snapshot version moves, the gateway sees it

    slow = as_person(gateway.base, token, call("slow_wait", {"seconds": 120}))
    assert slow.is_error
    assert "The upstream server of slow timed out after 2 s" in text_of(slow)
    late = connector("slow")
    assert late.status == Connector.Status.ERROR and late.upstream_error == "timed out after 2 s"

    again = as_person(gateway.base, token, call("slow_echo", {"text": "again"}))
    assert not again.is_error and connector("slow").status == Connector.Status.CONNECTED


def test_an_upstream_answering_garbage_is_a_clear_tool_error(gateway, token):
    result = as_person(gateway.base, token, call("garbage_echo", {"text": "hello"}))
    assert result.is_error
    assert "The upstream server of garbage failed: it sent something that is not MCP" in (
        text_of(result)
    )
    assert connector("garbage").status == Connector.Status.ERROR
    assert "not MCP" in connector("garbage").upstream_error


def test_an_upstream_that_is_down_is_an_error_until_it_is_back(
    gateway, token, remote_port, tmp_path
):
    down = as_person(gateway.base, token, call("remote_echo", {"text": "hello"}))
    assert down.is_error
    assert "The upstream server of remote failed: ConnectError" in text_of(down)
    assert connector("remote").status == Connector.Status.ERROR

    command = [sys.executable, str(SERVERS / "slow.py"), "--port", str(remote_port)]
    with (tmp_path / "remote.log").open("wb") as log:
        server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: _listening(remote_port))
        back = as_person(gateway.base, token, call("remote_echo", {"text": "back"}))
        assert not back.is_error and text_of(back) == "back"
        assert connector("remote").status == Connector.Status.CONNECTED
    finally:
        server.terminate()
        server.wait(timeout=20)


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_healthz_probes_each_upstream_live(gateway, token):
    status, body = health(gateway.base)
    assert status == 200 and body["database"] == "ok" and body["status"] == "degraded"
    upstreams = body["upstreams"]
    assert upstreams["time"] == {"up": True, "status": "connected", "error": ""}
    assert upstreams["slow"]["up"] is True
    assert upstreams["garbage"]["up"] is False and "not MCP" in upstreams["garbage"]["error"]
    assert upstreams["remote"]["up"] is False and upstreams["remote"]["error"]  # nobody listens
    assert connector("time").status == Connector.Status.CONNECTED  # was Disconnected
    assert connector("garbage").status == Connector.Status.ERROR

    pids = upstream_pids(gateway, "mcp_server_time")
    assert health(gateway.base)[0] == 200
    assert len(pids) == 1 and upstream_pids(gateway, "mcp_server_time") == pids


def test_healthz_is_503_when_the_database_is_down(tmp_path):
    elsewhere = database_url("agenwork_no_such_database")
    stranded = start_gateway(TIME_UPSTREAM, tmp_path / "gateway.log", database=elsewhere)
    try:
        status, body = health(stranded.base)
    finally:
        stranded.stop()
    assert status == 503 and body["status"] == "error"
    assert "agenwork_no_such_database" in body["database"]


@pytest.mark.parametrize("mode", ["auto", "legacy"])  # the current revision and the previous one
def test_an_open_session_is_told_when_its_tools_change(gateway, token, mode):
    listening, told = threading.Event(), threading.Event()

    async def on_message(message: Any) -> None:
        if isinstance(message, mcp_types.ToolListChangedNotification):
            told.set()

    async def legacy(client) -> str:  # on the session's standalone stream
        assert client.server_capabilities.tools.list_changed
        listening.set()
        assert await anyio.to_thread.run_sync(told.wait, 60)
        return "tools/list_changed"

    async def current(client) -> str:  # on a subscriptions/listen stream
        assert client.server_capabilities.tools.list_changed
        async with client.listen(tools_list_changed=True) as subscription:
            listening.set()
            with anyio.fail_after(60):
                event = await anext(subscription)
        return type(event).__name__

    work = legacy if mode == "legacy" else current
    policy = Policy.objects.get(name="Time for everyone")
    with ThreadPoolExecutor(max_workers=1) as agent:
        session = agent.submit(
            as_person, gateway.base, token, work, mode, message_handler=on_message
        )
        assert listening.wait(timeout=60)
        for change in itertools.count():  # the session's stream may open just after a change
            policy.description = f"Change {change}"
            policy.save()
            try:
                heard = session.result(timeout=3)
                break
            except FutureTimeout:
                assert change < 20, "the session was never told"
    assert heard == ("tools/list_changed" if mode == "legacy" else "ToolsListChanged")

"""The upstream pool in process, in front of the tests' own stdio server (servers/slow.py)."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

from mcp_gateway.pool import UpstreamPool
from mcp_gateway.upstreams import Upstream, run_blocking

SLOW = str(Path(__file__).resolve().parent / "servers" / "slow.py")
UPSTREAM = Upstream(slug="slow", command=sys.executable, args=(SLOW,))


async def echo(client) -> str:
    result = await client.call_tool("echo", {"text": "hello"})
    return result.content[0].text


def test_sessions_are_kept_per_upstream_and_a_changed_command_replaces_the_old_one():
    async def scenario() -> list[list[Upstream]]:
        pool, seen = UpstreamPool(), []
        async with pool.run():
            assert await pool.request(UPSTREAM, echo) == "hello"
            seen.append(pool.open_upstreams)
            # Another timeout is the same upstream: the session stays.
            assert await pool.request(replace(UPSTREAM, timeout_seconds=7), echo) == "hello"
            seen.append(pool.open_upstreams)
            changed = replace(UPSTREAM, args=(SLOW, "--changed"))
            assert await pool.request(changed, echo) == "hello"
            seen.append(pool.open_upstreams)
        seen.append(pool.open_upstreams)
        return seen

    changed = replace(UPSTREAM, args=(SLOW, "--changed"))
    assert run_blocking(scenario) == [[UPSTREAM], [UPSTREAM], [changed], []]


def test_outside_the_gateway_a_request_has_a_session_of_its_own():
    async def scenario() -> tuple[str, list[Upstream]]:
        pool = UpstreamPool()
        return await pool.request(UPSTREAM, echo), pool.open_upstreams

    assert run_blocking(scenario) == ("hello", [])

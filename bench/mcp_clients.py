"""The client side of the gateway benchmark: the SDK's Client over Streamable HTTP, in one loop.

The benchmark's method is in bench_mcp_gateway's docstring; this module drives the sessions and
reads what the gateway process costs (/proc/PID/status, pg_stat_database).
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import anyio
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp_types import Implementation

AGENT = Implementation(name="agenwork-bench", version="1.0")
SESSIONS = 4  # concurrent sessions of allowed calls, on each server
BATCH = 25  # calls per session per round, part 1
WARMUP = 10  # calls per session before anything is measured
PART1_S = 45.0  # part 1 stops here even short of its calls (a slow host, a slow gateway)
FLOW_S = 8.0  # allowed calls flow this long, with none held and with all held
SETTLE_S = 11.0  # PostgreSQL flushes an idle backend's counters within 10 s
QUIET_S = 10.0  # the window in which only the held calls cost anything
OPENING = 50  # held sessions opened at once


@dataclass
class Target:
    """One server as the client sees it: its URL, the token, and the tool names to call."""

    base: str
    token: str = ""
    now_tool: str = "get_current_time"
    convert_tool: str = "convert_time"


@dataclass
class Figures:
    """Everything measured in one run."""

    held: int
    gateway_ms: list[float] = field(default_factory=list)
    proxy_ms: list[float] = field(default_factory=list)
    flow_ms: list[float] = field(default_factory=list)  # none held: before, then after
    flow_after_ms: list[float] = field(default_factory=list)  # the "after" part of flow_ms
    flow_held_ms: list[float] = field(default_factory=list)
    threads_before: int = 0
    threads_during: int = 0
    rss_held_mb: float = 0.0
    peak_rss_mb: float = 0.0
    quiet: tuple[int, int, float] = (0, 0, 0.0)  # transactions, tuples fetched, seconds
    quiet_held: tuple[int, int, float] = (0, 0, 0.0)
    cpu_idle: float = 0.0  # the gateway's share of one core in each quiet window
    cpu_held: float = 0.0
    approve_s: float = 0.0
    learned_ms: list[float] = field(default_factory=list)
    answered_ms: list[float] = field(default_factory=list)
    executed: int = 0
    load_before: str = ""
    load_after: str = ""

    @staticmethod
    def per_second(window: tuple[int, int, float]) -> float:
        return window[0] / window[2] if window[2] else float("inf")

    @property
    def held_queries_per_s(self) -> float:
        """What the waiting calls cost: queries a second with them held, less with none held."""
        return self.per_second(self.quiet_held) - self.per_second(self.quiet)


NOW_ARGS = {"timezone": "UTC"}


def convert_args(n: int) -> dict[str, str]:
    """The n-th held call's arguments: distinct for each n below 1,440, so one request each."""
    return {
        "source_timezone": "UTC",
        "time": f"{n // 60:02d}:{n % 60:02d}",
        "target_timezone": "Asia/Tokyo",
    }


@asynccontextmanager
async def session(target: Target) -> AsyncIterator[Client]:
    headers = {"Authorization": f"Bearer {target.token}"} if target.token else None
    async with create_mcp_http_client(headers=headers) as http:
        transport = streamable_http_client(f"{target.base}/mcp", http_client=http)
        async with Client(transport, client_info=AGENT) as client:
            yield client


async def timed_calls(client: Client, tool: str, n: int, out: list[float]) -> None:
    """n allowed calls in turn, each one's milliseconds appended to out."""
    for _ in range(n):
        started = time.perf_counter()
        result = await client.call_tool(tool, NOW_ARGS)
        out.append((time.perf_counter() - started) * 1000)
        if result.is_error:
            raise SystemExit(f"an allowed call failed: {result.content}")


async def round_of(clients: list[Client], tool: str, n: int, out: list[float]) -> None:
    async with anyio.create_task_group() as group:
        for client in clients:
            group.start_soon(timed_calls, client, tool, n, out)


async def side_by_side(
    gateway: list[Client], proxy: list[Client], calls: int, now: tuple[str, str]
):
    """Rounds on each server in turn, which one first swapping each round; (gateway, proxy) ms."""
    await round_of(gateway, now[0], WARMUP, [])
    await round_of(proxy, now[1], WARMUP, [])
    gateway_ms: list[float] = []
    proxy_ms: list[float] = []
    sides = [(gateway, now[0], gateway_ms), (proxy, now[1], proxy_ms)]
    deadline = time.monotonic() + PART1_S
    while len(gateway_ms) < calls and time.monotonic() < deadline:
        for clients, tool, out in sides:
            await round_of(clients, tool, BATCH, out)
        sides.reverse()
    return gateway_ms, proxy_ms


async def flow(clients: list[Client], tool: str, seconds: float) -> list[float]:
    """Allowed calls from every session for `seconds`; their milliseconds."""
    out: list[float] = []
    deadline = time.monotonic() + seconds

    async def one(client: Client) -> None:
        while time.monotonic() < deadline:
            await timed_calls(client, tool, 1, out)

    async with anyio.create_task_group() as group:
        for client in clients:
            group.start_soon(one, client)
    return out


def proc_status(pid: int, key: str) -> int:
    """A number from /proc/PID/status (Threads, or a Vm… size in kB)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{key}:"):
            return int(line.split()[1])
    raise SystemExit(f"no {key} in /proc/{pid}/status")


def db_counters() -> tuple[int, int]:
    """Transactions (commits + rollbacks) and tuples fetched so far in the benchmark database."""
    import dj_database_url
    import psycopg2

    config = dj_database_url.parse(os.environ["DATABASE_URL"])
    # Read from another database, so that reading adds nothing to the one measured.
    conn = psycopg2.connect(
        dbname="postgres",
        user=config["USER"],
        password=config["PASSWORD"],
        host=config["HOST"],
        port=config["PORT"] or 5432,
    )
    try:
        with conn.cursor() as cursor:
            cursor.execute(
                "SELECT xact_commit + xact_rollback, tup_fetched FROM pg_stat_database "
                "WHERE datname = %s",
                [config["NAME"]],
            )
            return cursor.fetchone()
    finally:
        conn.close()


def _held_calls(base: str) -> int:
    with urllib.request.urlopen(f"{base}/healthz", timeout=5) as response:
        return json.loads(response.read())["held_calls"]


def cpu_seconds(pid: int) -> float:
    """CPU time the process has used so far (user + system, all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def quiet_window(pid: int) -> tuple[tuple[int, int, float], float]:
    """Transactions and tuples fetched in the benchmark database over QUIET_S, after SETTLE_S,
    and the share of one core the gateway (`pid`) used meanwhile."""
    await anyio.sleep(SETTLE_S)
    before, started = await anyio.to_thread.run_sync(db_counters), time.monotonic()
    cpu = cpu_seconds(pid)
    await anyio.sleep(QUIET_S)
    after = await anyio.to_thread.run_sync(db_counters)
    seconds = time.monotonic() - started
    window = (after[0] - before[0], after[1] - before[1], seconds)
    return window, (cpu_seconds(pid) - cpu) / seconds


async def held_calls(base: str) -> int:
    """How many calls the gateway holds now, as its /healthz says."""
    return await anyio.to_thread.run_sync(_held_calls, base)


async def until_held(base: str, count: int, seconds: float = 120) -> None:
    with anyio.fail_after(seconds):
        while await held_calls(base) < count:
            await anyio.sleep(0.2)


def load() -> str:
    return " ".join(f"{n:.1f}" for n in os.getloadavg())


_started = [time.monotonic()]


def progress(what: str) -> None:
    """One line of progress: a run takes minutes."""
    print(f"  {time.monotonic() - _started[0]:5.0f} s  {what} (load {load()})", flush=True)


async def _measure(
    gateway: Target,
    held_by: Target,
    proxy: Target,
    pid: int,
    figures: Figures,
    calls: int,
    approve_all: Callable[[], int],
    approvals: Callable[[], dict[str, tuple[float, float | None]]],
) -> None:
    figures.load_before = load()
    async with AsyncExitStack() as stack:
        gw = [await stack.enter_async_context(session(gateway)) for _ in range(SESSIONS)]
        px = [await stack.enter_async_context(session(proxy)) for _ in range(SESSIONS)]
        now = (gateway.now_tool, proxy.now_tool)
        progress("sessions open; part 1: the gateway and the plain proxy in turn")
        figures.gateway_ms, figures.proxy_ms = await side_by_side(gw, px, calls, now)
        progress(f"part 1 done: {len(figures.gateway_ms)} calls each; allowed calls, none held")
        figures.flow_ms = await flow(gw, gateway.now_tool, FLOW_S)
        figures.threads_before = proc_status(pid, "Threads")
        progress("statements with none held")
        figures.quiet, figures.cpu_idle = await quiet_window(pid)
        answered = await _hold_and_approve(held_by, gw, pid, figures, approve_all)
        progress("allowed calls again, none held")
        figures.flow_after_ms = await flow(gw, gateway.now_tool, FLOW_S)
        figures.flow_ms += figures.flow_after_ms
    decided = await anyio.to_thread.run_sync(approvals)
    figures.learned_ms = [(c - d) * 1000 for d, c in decided.values() if c is not None]
    figures.answered_ms = [
        (at - decided[key][0]) * 1000 for key, at in answered.items() if key in decided
    ]
    figures.peak_rss_mb = proc_status(pid, "VmHWM") / 1024
    figures.load_after = load()


async def _hold_and_approve(
    held_by: Target, gw: list[Client], pid: int, figures: Figures, approve_all: Callable[[], int]
) -> dict[str, float]:
    """Hold `figures.held` calls of `held_by`, measure while they wait, approve them all.

    - The held calls come from a client process of their own (hold_many), as agents would: this
      process, which times the allowed calls, does not also read their progress notifications.
    - Returns when each held call was answered, by its `time` argument.
    """
    command = [sys.executable, "-m", "bench.mcp_clients", held_by.base, held_by.token]
    command += [held_by.convert_tool, str(figures.held)]
    holder = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        await until_held(held_by.base, figures.held)
        progress(f"{figures.held} calls held; allowed calls while they wait")
        figures.threads_during = proc_status(pid, "Threads")
        figures.rss_held_mb = proc_status(pid, "VmRSS") / 1024
        figures.flow_held_ms = await flow(gw, held_by.now_tool, FLOW_S)
        progress("statements while they wait")
        figures.quiet_held, figures.cpu_held = await quiet_window(pid)
        if await held_calls(held_by.base) != figures.held:
            raise SystemExit("some held calls stopped waiting before their approval")
        progress("approving them all")
        started = time.monotonic()
        await anyio.to_thread.run_sync(approve_all)
        figures.approve_s = time.monotonic() - started
        output, _ = await anyio.to_thread.run_sync(partial(holder.communicate, timeout=120))
    finally:
        if holder.poll() is None:
            holder.kill()
    if holder.returncode != 0:
        raise SystemExit(f"the held calls' client failed (exit {holder.returncode})")
    found = json.loads(output)
    figures.executed = found["executed"]
    return found["answered"]


async def hold_many(target: Target, count: int) -> dict[str, Any]:
    """`count` calls that need approval, each in a session of its own, until each is answered."""
    answered: dict[str, float] = {}
    executed = 0
    opening = anyio.Semaphore(OPENING)

    async def one(n: int) -> None:
        nonlocal executed
        arguments = convert_args(n)
        async with AsyncExitStack() as stack:
            async with opening:
                client = await stack.enter_async_context(session(target))
            result = await client.call_tool(target.convert_tool, arguments)
            answered[arguments["time"]] = time.time()
            executed += not result.is_error

    async with anyio.create_task_group() as group:
        for n in range(count):
            group.start_soon(one, n)
    return {"answered": answered, "executed": executed}


def _first_leaf(exc: BaseException) -> BaseException:
    while isinstance(exc, BaseExceptionGroup):
        exc = exc.exceptions[0]
    return exc


def measure(
    *,
    gateway: Target,
    held_by: Target,
    proxy: Target,
    pid: int,
    held: int,
    calls: int,
    approve_all: Callable[[], int],
    approvals: Callable[[], dict[str, tuple[float, float | None]]],
) -> Figures:
    """Run both parts against the running servers; the gateway's process is `pid`.

    - `gateway` makes the allowed calls, `held_by` the calls held for approval (same server).
    """
    logging.getLogger("httpx2").setLevel(logging.WARNING)  # not a line per request
    figures = Figures(held=held)
    _started[0] = time.monotonic()
    try:
        anyio.run(
            partial(_measure, gateway, held_by, proxy, pid, figures, calls, approve_all, approvals)
        )
    except BaseExceptionGroup as group:  # anyio nests them deeper than a traceback shows
        raise _first_leaf(group) from None
    return figures


if __name__ == "__main__":  # the held calls' own client: BASE TOKEN TOOL COUNT
    base, token, tool, count = sys.argv[1:5]
    held = anyio.run(hold_many, Target(base, token, convert_tool=tool), int(count))
    print(json.dumps(held), flush=True)

"""The MCP gateway against the same SDK's plain proxy, and 200 calls held for approval at once.

Method: one upstream, `mcp-server-time` over stdio (`python -m mcp_server_time`), behind two
servers started as their own processes: the gateway (`manage.py run_mcp_gateway` on the benchmark
database, its pooled upstream session, the default hold poll of MCP_HOLD_POLL_MS) and
bench/mcp_plain_proxy.py (the SDK's low-level Server forwarding tools/list and tools/call to one
persistent upstream session, no agenwork rules, the same uvicorn settings). The clients are the
SDK's `Client` over Streamable HTTP, in this process.
- Part 1: four sessions on each server, 10 calls each to warm up, then rounds of 25 calls per
  session (`time_get_current_time`, allowed for the caller's gateway token by a policy), the
  servers taking turns round by round, which one goes first swapping each round, until 2,000
  calls each or 45 s. Added latency: gateway p50 minus proxy p50; ratio: gateway p99 / proxy p99.
  Then the same with one session on each server (500 calls each or 15 s): the gateway's own
  path, without calls queueing for the host's two cores.
- Part 2, on the gateway: allowed calls flow from four sessions for 8 s; then a second client
  process opens 200 sessions as another person, each making one `time_convert_time` call with
  arguments of its own (200 requests; Request approval through a flow), and all 200 wait (the
  gateway's /healthz counts them); the allowed calls flow again for 8 s while they wait, and
  once more after they are done. Their p99 while calls are held is set against the p99 of the
  calls before and after, taken together.
- Threads: /proc/PID/status of the gateway before the calls are held and while they wait.
- Queries: the change in xact_commit + xact_rollback (autocommit: a transaction per statement)
  of the benchmark database in pg_stat_database over 10 s in which nothing but the gateway
  runs, after 11 s of quiet (PostgreSQL flushes an idle backend's counters within 10 s): once
  with none held, once while the 200 wait; the waiting calls cost the difference. The gateway's
  CPU in the same windows comes from /proc/PID/stat.
- Then an admin approves the 200 through the console's bulk service (requests_decide_bulk, a
  transaction per request, one after another); a held call learns of its approval when the
  gateway consumes it: its request's consumed_at minus decided_at. The answer reaching the
  client (after the call is forwarded) is given too.
- Memory: the gateway's VmHWM (peak resident set) at the end; the upstream's process is not
  counted.
- In process, before the servers start: the gateway's own work for an allowed call, the token
  check and the decision as its two hops run them (each hop starting as a request does), 2,000
  times in one thread; wall time and CPU time per call.

BENCH_MCP_CALLS and BENCH_MCP_HELD change the counts.

Where the time goes (py-spy --gil on the gateway; CPU per call from /proc/PID/stat; 2026-12-08).
Before this benchmark an allowed call cost the gateway 14 ms of CPU against 4 ms for the plain
proxy (which then listed its tools on every call too): on the 2026-07-28 protocol the SDK ran the
gateway's tools/list on every tools/call to check its Mcp-Param headers (the engine over every
tool, three queries), the tool and the token were read through freshly compiled ORM queries, and
every query of every session queued on one shared thread (asgiref's thread_sensitive default). Now
the schemas are in memory (mcp_gateway/schemas.py), the tools are read once per policy snapshot
(catalog.py), the token and the snapshot version come in one compiled query (tokens.py) and
database work runs on the loop's thread pool (database.py): about 4 ms of CPU per call against 2
ms. What is left is two hops to a thread per call, 1 ms and 1.5-2 ms each measured alone: the token
check (Django's connection health check, then the lookup) and the decision (the health check, then
the decision log's INSERT, which waits for its WAL flush); and the SDK's bearer middleware. One
session at a time the gateway adds 3 to 4 ms. With four sessions on each server it adds 8 to 9 ms
even on a quiet host: the measurement fills the two cores (the clients, both servers, the upstream,
PostgreSQL), and each of the gateway's extra wake-ups (a pool thread, a PostgreSQL backend) waits
for a core; a shorter GIL switch interval made no difference. Since then Django's health check
is made without a query (agenwork/postgres: the socket is polled), so each hop is one statement:
the gateway's in-process work per allowed call went from 0.86-0.94 ms p50 (0.34-0.42 ms CPU) to
0.72-0.79 ms (0.30-0.36 ms CPU), three runs of 1,500 calls each way, old and new code side by
side on 2026-12-08. Further steps, each a trade: the decision log written with synchronous_commit
off (a crash could lose its last lines), a short in-process cache of checked tokens (a revoked
token would then work for its lifetime), or an async driver for the two statements so that no
call leaves the event loop. With this little work per hop, thread_sensitive=True or False made
no difference in part 1 (A/B, twice each); with six queries per call it had: p50 100 against
157 ms under a load of 5 to 8. Repeated seven times after the changes before the health check's
(2026-12-08, the host's load 1 to 12 from other work):
added latency at p50 4.9 to 13.4 ms with four sessions, 3.5 to 5.6 ms with one; the p99 ratio 0.80
to 1.67, so on either side of its target. The held calls' figures hardly moved: 600 to 850 ms p95
to learn of an approval, 4 statements a second (two polls, each with Django's health check; 2 a
second since the check sends no query), 130 MB, no thread.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bench.common import Result, delete_requests, percentile, time_calls
from bench.mcp_clients import Figures, Target, measure

ROOT = Path(__file__).resolve().parent.parent
CONNECTOR = "bench-time"
UPSTREAM = [sys.executable, "-m", "mcp_server_time", "--local-timezone", "UTC"]
CALLS = int(os.environ.get("BENCH_MCP_CALLS") or 2000)
HELD = int(os.environ.get("BENCH_MCP_HELD") or 200)
HOLD_WINDOW_S = 180  # longer than part 2, so that no held call gives up before its approval
AREA = "MCP gateway"


@dataclass(frozen=True)
class Scenario:
    """The two callers' gateway tokens and the admin who approves."""

    allowed_token: str
    held_token: str
    admin_id: int


def prepare_scenario() -> Scenario:
    """The bench connector, its synced tools, two callers with their policies, an approval flow."""
    from django.conf import settings
    from django.contrib.auth import get_user_model

    from connectors.models import Connector
    from mcp_gateway.sync import sync_connector_tools
    from mcp_gateway.tokens import gateway_token_create
    from mcp_gateway.upstreams import stdio_upstreams
    from policies.snapshot import bump_snapshot_version

    settings.MCP_UPSTREAMS = upstreams_json()
    delete_requests(
        "connector_id IN (SELECT id FROM connectors_connector WHERE slug = %s)", CONNECTOR
    )
    connector, _ = Connector.objects.get_or_create(slug=CONNECTOR, defaults={"name": "Bench time"})
    synced = sync_connector_tools(connector, stdio_upstreams()[CONNECTOR])
    if synced.error:
        raise SystemExit(f"could not read the time upstream's tools: {synced.error}")
    allowed, held = _policies(connector)
    bump_snapshot_version()
    admin, _ = get_user_model().objects.get_or_create(
        username="bench-gateway-admin", defaults={"is_staff": True, "is_superuser": True}
    )
    return Scenario(
        allowed_token=gateway_token_create(person=allowed).raw_token,
        held_token=gateway_token_create(person=held).raw_token,
        admin_id=admin.pk,
    )


def _policies(connector):
    """One person allowed the current time; another whose conversions need a Security approval."""
    from approval_flows.models import ApprovalFlow, ApprovalLevel
    from directory.models import Group, Person
    from policies.models import Policy

    def person(name: str):
        email = f"bench-gateway-{name}@example.com"
        return Person.objects.get_or_create(email=email, defaults={"name": f"Bench {name}"})[0]

    allowed, held, approver = person("allowed"), person("held"), person("approver")
    security, _ = Group.objects.get_or_create(name="Bench gateway approvers")
    security.members.add(approver)
    flow, _ = ApprovalFlow.objects.get_or_create(name="Bench gateway approvals")
    level, _ = ApprovalLevel.objects.get_or_create(flow=flow, position=1)
    level.groups.set([security])
    tools = {t.key: t for t in connector.tools.all()}
    for name, caller, tool, action in (
        ("time", allowed, "get_current_time", "allow"),
        ("conversions", held, "convert_time", "approval_required"),
    ):
        policy, _ = Policy.objects.update_or_create(
            name=f"Bench gateway: {name}",
            defaults={
                "connector": connector,
                "action": action,
                "approval_flow": flow if action == "approval_required" else None,
            },
        )
        policy.tools.set([tools[f"{CONNECTOR}_{tool}"]])
        policy.users.set([caller])
    return allowed, held


def upstreams_json() -> str:
    command, *args = UPSTREAM
    return json.dumps({CONNECTOR: {"command": command, "args": args}})


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def served(
    name: str, command: list[str], folder: Path, env: dict[str, str], tail: tuple[str, ...] = ()
) -> Iterator[tuple[str, int]]:
    """Start `command --port N [tail…]` on a free port; yield (base URL, pid) once it answers."""
    port = free_port()
    log = (folder / f"{name}.log").open("wb")
    process = subprocess.Popen(
        [*command, "--port", str(port), *tail],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while not _healthy(base):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise SystemExit(f"{name} did not start:\n{(folder / f'{name}.log').read_text()}")
        time.sleep(0.2)
    try:
        yield base, process.pid
    except BaseException:
        tail = (folder / f"{name}.log").read_text(errors="replace").splitlines()[-40:]
        print(f"--- the last lines of the {name}'s log:", *tail, sep="\n", file=sys.stderr)
        raise
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def _healthy(base: str) -> bool:
    try:
        with urllib.request.urlopen(f"{base}/healthz", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


@dataclass(frozen=True)
class InProcess:
    """The gateway's own work per allowed call, measured in this process: wall and CPU time."""

    wall_ms: list[float]
    cpu_ms: float


def in_process(scenario: Scenario, runs: int = CALLS) -> InProcess:
    """Run an allowed call's token check and decision as the gateway runs them, `runs` times.

    - Each hop starts as a new request does (close_old_connections: the connection's check).
    """
    from django.db import close_old_connections

    from mcp_gateway.rules import call_verdict
    from mcp_gateway.tokens import gateway_token_authenticate

    key = f"{CONNECTOR}_get_current_time"

    def one_call() -> None:
        close_old_connections()
        found = gateway_token_authenticate(scenario.allowed_token)
        close_old_connections()
        verdict = call_verdict(
            email=found.person_email,
            key=key,
            arguments={"timezone": "UTC"},
            agent="bench",
            snapshot_version=found.snapshot_version,
        )
        if verdict.upstream is None:
            raise SystemExit(f"the bench's allowed call was not allowed: {verdict.message}")

    cpu = time.process_time()
    wall = time_calls(one_call, warmup=200, runs=runs)
    return InProcess(wall_ms=wall, cpu_ms=(time.process_time() - cpu) * 1000 / (runs + 200))


def run() -> list[Result]:
    """Start both servers, measure, and return the figures against their targets."""
    from django.db import connection

    scenario = prepare_scenario()
    own = in_process(scenario)
    connection.close()  # nothing of this process in the database's counters while they count
    env = {
        **os.environ,
        "MCP_UPSTREAMS": upstreams_json(),
        "MCP_HOLD_SECONDS": str(HOLD_WINDOW_S),
        "CELERY_BROKER_URL": "memory://",  # the approvers' messages go nowhere (bench.common)
        "PYTHONUNBUFFERED": "1",
    }
    gateway_cmd = [sys.executable, "manage.py", "run_mcp_gateway"]
    proxy_cmd = [sys.executable, "-m", "bench.mcp_plain_proxy"]
    tools = {
        "now_tool": f"{CONNECTOR}_get_current_time",
        "convert_tool": f"{CONNECTOR}_convert_time",
    }
    with (
        tempfile.TemporaryDirectory() as folder,
        served("gateway", gateway_cmd, Path(folder), env) as (gateway, pid),
        served("proxy", proxy_cmd, Path(folder), env, ("--", *UPSTREAM)) as (proxy, _),
    ):
        figures = measure(
            gateway=Target(gateway, scenario.allowed_token, **tools),
            held_by=Target(gateway, scenario.held_token, **tools),
            proxy=Target(proxy),
            pid=pid,
            held=HELD,
            calls=CALLS,
            approve_all=lambda: approve_all(scenario.admin_id),
            approvals=approvals,
        )
    return results(figures, own)


def approve_all(admin_id: int) -> int:
    """Approve every pending request of the bench connector as an admin would, in bulk."""
    from django.contrib.auth import get_user_model
    from django.db import connection

    from requests_app.deciding import requests_decide_bulk
    from requests_app.selectors import bulk_candidates

    admin = get_user_model().objects.get(pk=admin_id)
    pending, _ = bulk_candidates(admin, None, ids=None, connector_slug=CONNECTOR, limit=500)
    outcome = requests_decide_bulk(requests=pending, user=admin, approve=True, flow_ids=None)
    connection.close()
    return len(outcome.decided)


def approvals() -> dict[str, tuple[float, float | None]]:
    """Each approved request by its call's `time` argument: (decided at, consumed at or None)."""
    from django.db import connection

    from requests_app.models import AccessRequest

    rows = AccessRequest.objects.filter(
        connector__slug=CONNECTOR, decided_at__isnull=False
    ).values_list("arguments", "decided_at", "consumed_at")
    found = {
        arguments["time"]: (decided.timestamp(), consumed.timestamp() if consumed else None)
        for arguments, decided, consumed in rows
    }
    connection.close()
    return found


def _window(window: tuple[int, int, float]) -> str:
    transactions, tuples, seconds = window
    return f"{transactions} statements ({tuples} tuples fetched) in {seconds:.1f} s"


def results(f: Figures, own: InProcess) -> list[Result]:
    """The figures against the issue's targets, printed as they are measured."""
    gw50, gw99 = percentile(f.gateway_ms, 50), percentile(f.gateway_ms, 99)
    px50, px99 = percentile(f.proxy_ms, 50), percentile(f.proxy_ms, 99)
    base99, held99 = percentile(f.flow_ms, 99), percentile(f.flow_held_ms, 99)
    before = len(f.flow_ms) - len(f.flow_after_ms)
    learn95 = percentile(f.learned_ms, 95) if f.learned_ms else float("inf")
    load = f"load {f.load_before} → {f.load_after}"
    side = f"gateway p50 {gw50:.1f} ms, p99 {gw99:.1f} ms; proxy p50 {px50:.1f} ms, p99 {px99:.1f}"
    side += f" ms; {len(f.gateway_ms)} + {len(f.proxy_ms)} calls, 4 sessions each; {load}"
    rows = [
        Result(
            AREA,
            "allowed call: added latency at p50",
            gw50 - px50,
            "ms",
            "≤ 3 ms",
            gw50 - px50 <= 3.0,
            side,
        ),
        Result(
            AREA,
            "in-process work per allowed call (token check + decision), p50",
            percentile(own.wall_ms, 50),
            "ms",
            "—",
            True,
            f"p99 {percentile(own.wall_ms, 99):.2f} ms, CPU {own.cpu_ms:.2f} ms a call, "
            f"{len(own.wall_ms)} calls in one thread, before the servers start",
        ),
        Result(
            AREA,
            "allowed call: p99 gateway / p99 plain proxy",
            gw99 / px99,
            "x",
            "≤ 1.5",
            gw99 / px99 <= 1.5,
            side,
        ),
        Result(
            AREA,
            "allowed call, one session on each: added latency at p50",
            percentile(f.gateway_alone_ms, 50) - percentile(f.proxy_alone_ms, 50),
            "ms",
            "—",
            True,
            f"gateway p50 {percentile(f.gateway_alone_ms, 50):.1f} ms, p99 "
            f"{percentile(f.gateway_alone_ms, 99):.1f} ms; proxy p50 "
            f"{percentile(f.proxy_alone_ms, 50):.1f} ms, p99 {percentile(f.proxy_alone_ms, 99):.1f}"
            f" ms; {len(f.gateway_alone_ms)} + {len(f.proxy_alone_ms)} calls",
        ),
        Result(
            AREA,
            f"allowed p99 with {f.held} held / with none",
            held99 / base99,
            "x",
            "≤ 2",
            held99 / base99 <= 2.0,
            f"p99 {held99:.1f} ms ({len(f.flow_held_ms)} calls) vs {base99:.1f} ms "
            f"({len(f.flow_ms)} calls, p99 {percentile(f.flow_ms[:before], 99):.1f} before, "
            f"{percentile(f.flow_after_ms, 99):.1f} after); p50 "
            f"{percentile(f.flow_held_ms, 50):.1f} vs {percentile(f.flow_ms, 50):.1f} ms",
        ),
        Result(
            AREA,
            f"threads added while {f.held} calls are held",
            float(f.threads_during - f.threads_before),
            "threads",
            "0 per held call",
            f.threads_during - f.threads_before < max(2, f.held // 20),
            f"{f.threads_before} before, {f.threads_during} while held (the loop's thread pool "
            "grows with the database work, up to min(32, cores + 4), not with held calls)",
        ),
        Result(
            AREA,
            f"queries per second that {f.held} waiting calls cost",
            f.held_queries_per_s,
            "q/s",
            "a few (≤ 5)",
            f.held_queries_per_s <= 5.0,
            f"pg_stat_database, nothing else running: {_window(f.quiet_held)} with them held, "
            f"{_window(f.quiet)} with none; the gateway used {f.cpu_held:.1%} of a core with "
            f"them held, {f.cpu_idle:.1%} with none",
        ),
        Result(
            AREA,
            "held call learns of its approval, p95",
            learn95,
            "ms",
            "≤ 1,000 ms",
            learn95 <= 1000.0 and len(f.learned_ms) == f.held,
            f"{len(f.learned_ms)} of {f.held} consumed; p50 "
            f"{percentile(f.learned_ms or [0], 50):.0f} ms, max {max(f.learned_ms or [0]):.0f}"
            f" ms; approving all took {f.approve_s:.1f} s; {f.executed} executed, "
            f"client saw results p95 {percentile(f.answered_ms or [0], 95):.0f} ms after "
            "approval",
        ),
        Result(
            AREA,
            "gateway peak memory (VmHWM)",
            f.peak_rss_mb,
            "MB",
            "< 400 MB",
            f.peak_rss_mb < 400.0,
            f"RSS {f.rss_held_mb:.0f} MB while {f.held} held",
        ),
    ]
    for row in rows:
        print(row.line(), flush=True)
    return rows


if __name__ == "__main__":
    from bench.common import setup_django

    setup_django()
    run()

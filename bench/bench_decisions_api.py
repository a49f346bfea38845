"""The decisions API under gunicorn, driven by wrk on loopback.

Method: gunicorn as deployed (gunicorn.conf.py: three threaded workers with keep-alive) serves
agenwork with DEBUG off against the benchmark database, which holds the demo scenario plus 1,000
extra policies on a connector of their own. wrk (one thread) keeps 10 connections busy for the
configured duration, each request a POST /api/v1/decisions drawn in turn from a mix of calls
(allow, deny, no policy, step up, unknown user, and an approval-required call whose request is
already pending, so the dedupe path answers). The statements per decision are counted in-process
for each kind of call with Django's query capture.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from bench.common import Result

# Another checkout's benchmark may be running on the same host: BENCH_API_PORT moves this one.
PORT = int(os.environ.get("BENCH_API_PORT") or 8099)
EXTRA_POLICIES = 1000
CONNECTIONS = 10
TARGET_RPS = 1000.0
TARGET_P99_MS = 25.0
MAX_STATEMENTS = 4
# The web tier as docker-compose runs it (gunicorn.conf.py: threaded workers, keep-alive, and
# --workers 3 as in the compose file); BENCH_GUNICORN_ARGS overrides.
GUNICORN_ARGS = (os.environ.get("BENCH_GUNICORN_ARGS") or "--workers 3").split()

CALLS = {
    "allow": {
        "user": "ana@example.com",
        "connector": "google-calendar",
        "tools": ["google-calendar_events_list"],
    },
    "deny (policy)": {
        "user": "ana@example.com",
        "connector": "google-calendar",
        "tools": ["google-calendar_events_delete"],
    },
    "deny (no policy)": {
        "user": "ben@example.com",
        "connector": "google-calendar",
        "tools": ["google-calendar_events_create"],
    },
    "step up": {"user": "ben@example.com", "connector": "github", "tools": ["github_repos_delete"]},
    "deny (unknown user)": {
        "user": "nobody@example.com",
        "connector": "github",
        "tools": ["github_repos_list"],
    },
    "approval (pending, deduped)": {
        "user": "ana@example.com",
        "connector": "google-calendar",
        "tools": ["google-calendar_events_update"],
        "note": "bench",
    },
}

WRK_SCRIPT = """
local bodies = {%s}
local i = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer %s"
request = function()
  i = i %% #bodies + 1
  return wrk.format(nil, nil, nil, bodies[i])
end
"""


def prepare_policies() -> None:
    """A connector with 1,000 policies of its own, so the engine carries realistic weight."""
    from connectors.models import Connector, Tool
    from directory.models import Group
    from policies.models import Policy
    from policies.snapshot import bump_snapshot_version

    connector, _ = Connector.objects.get_or_create(
        slug="bench-load", defaults={"name": "Bench load", "status": "connected"}
    )
    tools = [
        Tool.objects.get_or_create(connector=connector, key=f"bench-load_op_{n}")[0]
        for n in range(20)
    ]
    missing = EXTRA_POLICIES - Policy.objects.filter(connector=connector).count()
    groups = list(Group.objects.all())
    for n in range(max(missing, 0)):
        policy = Policy.objects.create(
            name=f"Bench policy {n}", connector=connector, action="allow", all_users=False
        )
        policy.tools.set([tools[n % len(tools)]])
        policy.groups.set([groups[n % len(groups)]])
    bump_snapshot_version()


def statements_per_call() -> dict[str, int]:
    """SQL statements each kind of call runs, counted in-process."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from gateways.services import api_key_create

    key = api_key_create(name=f"bench-sql-{time.time_ns()}").raw_key
    client = Client()
    counts = {}
    for name, body in CALLS.items():
        for _ in range(2):  # the second call of each kind runs with warm caches
            with CaptureQueriesContext(connection) as captured:
                client.post(
                    "/api/v1/decisions",
                    json.dumps(body),
                    content_type="application/json",
                    HTTP_AUTHORIZATION=f"Bearer {key}",
                )
        counts[name] = len(captured.captured_queries)
    return counts


def _wait_until_up(url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"gunicorn did not answer on {url}")


def run_wrk(key: str, duration: int) -> str:
    bodies = ", ".join(json.dumps(json.dumps(body)) for body in CALLS.values())
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_SCRIPT % (bodies, key))
    # The approval calls' notifications go nowhere, as in the in-process benches (bench.common):
    # without a broker URL the server would publish to make run's folder, absent in a fresh clone.
    env = {"CELERY_BROKER_URL": "memory://", **os.environ}
    env.update(DEBUG="false", ALLOWED_HOSTS="127.0.0.1,localhost")
    command = [sys.executable, "-m", "gunicorn", "agenwork.wsgi", "--bind", f"127.0.0.1:{PORT}"]
    command += ["--config", str(Path(__file__).resolve().parent.parent / "gunicorn.conf.py")]
    command += [*GUNICORN_ARGS, "--log-level", "warning"]
    gunicorn = subprocess.Popen(command, env=env)
    try:
        _wait_until_up(f"http://127.0.0.1:{PORT}/api/v1/openapi.json")
        url = f"http://127.0.0.1:{PORT}/api/v1/decisions"
        subprocess.run(
            ["wrk", "-t1", f"-c{CONNECTIONS}", "-d5s", "-s", script.name, url],
            capture_output=True,
            check=True,
        )  # warm-up: workers, snapshot, plans
        done = subprocess.run(
            [
                "wrk",
                "-t1",
                f"-c{CONNECTIONS}",
                f"-d{duration}s",
                "--latency",
                "-s",
                script.name,
                url,
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        return done.stdout
    finally:
        gunicorn.send_signal(signal.SIGTERM)
        gunicorn.wait(timeout=30)
        Path(script.name).unlink(missing_ok=True)


def _ms(text: str) -> float:
    number, unit = re.match(r"([\d.]+)(us|ms|s)", text).groups()
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def parse_wrk(output: str) -> dict[str, float]:
    """Requests per second, latency percentiles, errors and non-2xx answers from wrk's report."""
    figures = {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))}
    for pct in ("50", "90", "99"):
        figures[f"p{pct}"] = _ms(re.search(rf"\s{pct}%\s+(\S+)", output).group(1))
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    figures["non_2xx"] = float(non_2xx.group(1)) if non_2xx else 0.0
    figures["socket_errors"] = float(sum(map(int, errors.groups()))) if errors else 0.0
    figures["requests"] = float(re.search(r"(\d+) requests in", output).group(1))
    return figures


def run(duration: int = int(os.environ.get("BENCH_API_SECONDS") or 60)) -> list[Result]:
    """Load the API for `duration` seconds and count statements; return the figures."""
    if shutil.which("wrk") is None:
        raise SystemExit("the API benchmark needs wrk: apt-get install wrk")
    from gateways.services import api_key_create

    prepare_policies()
    counts = statements_per_call()
    key = api_key_create(name=f"bench-load-{time.time_ns()}").raw_key
    figures = parse_wrk(run_wrk(key, duration))
    errors = figures["non_2xx"] + figures["socket_errors"]
    results = [
        Result(
            "Decisions API",
            f"throughput, {CONNECTIONS} connections, {duration} s",
            figures["rps"],
            "req/s",
            "≥ 1,000/s",
            figures["rps"] >= TARGET_RPS and not errors,
            f"{figures['requests']:.0f} requests, {errors:.0f} errors or non-2xx",
        ),
        Result(
            "Decisions API",
            "latency p99",
            figures["p99"],
            "ms",
            "≤ 25 ms",
            figures["p99"] <= TARGET_P99_MS,
            f"p50 {figures['p50']:.1f} ms, p90 {figures['p90']:.1f} ms",
        ),
        Result(
            "Decisions API",
            "SQL statements per decision (max)",
            float(max(counts.values())),
            "stmts",
            "≤ 4",
            max(counts.values()) <= MAX_STATEMENTS,
            ", ".join(f"{k}: {v}" for k, v in counts.items()),
        ),
    ]
    for result in results:
        print(result.line(), flush=True)
    return results


if __name__ == "__main__":
    from bench.common import setup_django

    setup_django()
    run(int(sys.argv[1]) if len(sys.argv) > 1 else 60)

"""The decisions API under gunicorn, driven by wrk on loopback, against Django's own floor.

Method: gunicorn as deployed (gunicorn.conf.py: three threaded workers with keep-alive) serves
agenwork with DEBUG off against the benchmark database, which holds the demo scenario plus 1,000
extra policies on a connector of their own. wrk (one thread) keeps 10 connections busy, in three
loads of one run, each for the configured duration (BENCH_API_SECONDS, 30 s) after a 5 s warm-up:
- the floor: a bare Django application (bench/floor: no installed apps, no middleware) under the
  same gunicorn settings, whose one view parses the same body, reads the API key by its prefix
  and inserts one decision log line — the two statements an allowed decision makes;
- allowed and denied calls, drawn in turn (allow, deny by policy, no policy, unknown user);
- approval-required calls whose request is already pending, so the dedupe path answers.
Both servers run side by side and the loads take turns, 10 s at a time (three slices each), so
that a change in the host's load weighs on all three alike. A load's throughput is its requests
over its seconds; its percentiles are those of its median slice. The API's throughput is reported
as a share of the floor's, which moves with the host as the API does; the absolute figures are
kept beside it. The statements per decision are counted in-process
for each kind of call with Django's query capture (a connection's health check is not counted).

Where the other half went (py-spy under the wrk load, --gil for CPU; 2026-12-08). Measured first
in this form, the API did 0.62 of the floor for allowed and denied calls (p99 1.95 times the
floor's) and 0.34 with the approval pending. Wall time: Django's connection health check, a
`SELECT 1` before each request's first query, took as long as the key lookup (37% of the
samples): one round trip of three. CPU: the middleware a Bearer call never uses (sessions,
messages with their cookie signer, CSRF, auth, clickjacking, htmx) and resolving the URL past
every console pattern before `api/v1/` took a quarter of the request's Python time; served
with only the request id middleware the API did 0.82 of the floor against 0.67 with them all.
The approval path read the person's grants and then the pending request: two round trips.
Now the health check polls the socket (agenwork/postgres), Bearer calls leave the stack after
the headers every answer needs (agenwork/endpoints.py), the API's URLs come first, and a
pending call is one read (its request and whether any grant could change the decision). Seven
runs since (some with other work on the host): allowed and denied 0.63 to 0.85 of the floor, five
of the seven at 0.70 or more, p99 1.1 to 1.7 times the floor's; approval pending, four runs since
its change, 0.41 to 0.50. gunicorn with 4 threads a worker instead of 8 measured the same within
that spread.
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
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench.common import Result

# Another checkout's benchmark may be running on the same host: BENCH_API_PORT moves this one.
PORT = int(os.environ.get("BENCH_API_PORT") or 8099)
EXTRA_POLICIES = 1000
CONNECTIONS = 10
SLICES = 3  # each load's time in this many slices, the loads taking turns
WARM_UP_SECONDS = 5
TARGET_SHARE = 0.7  # allowed and denied decisions, of the floor's throughput
TARGET_APPROVAL_SHARE = 0.5  # approval required, the pending request found
TARGET_P99_TIMES = 2.0  # the API's p99 at most this many times the floor's
MAX_STATEMENTS = 4
# The web tier as docker-compose runs it (gunicorn.conf.py: threaded workers, keep-alive, and
# --workers 3 as in the compose file); BENCH_GUNICORN_ARGS overrides, for the floor too.
GUNICORN_ARGS = (os.environ.get("BENCH_GUNICORN_ARGS") or "--workers 3").split()
ROOT = Path(__file__).resolve().parent.parent

ALLOW_DENY = {
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
    "deny (unknown user)": {
        "user": "nobody@example.com",
        "connector": "github",
        "tools": ["github_repos_list"],
    },
}
APPROVAL = {
    "approval (pending, deduped)": {
        "user": "ana@example.com",
        "connector": "google-calendar",
        "tools": ["google-calendar_events_update"],
        "note": "bench",
    },
}
CALLS = {
    **ALLOW_DENY,
    "step up": {"user": "ben@example.com", "connector": "github", "tools": ["github_repos_delete"]},
    **APPROVAL,
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
        except urllib.error.HTTPError:  # up: a GET on a POST endpoint is refused
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"gunicorn did not answer on {url}")


@contextmanager
def served(app: str, port: int) -> Iterator[str]:
    """Serve `app` (a WSGI module) with gunicorn as deployed; yield the decisions URL."""
    # The approval calls' notifications go nowhere, as in the in-process benches (bench.common):
    # without a broker URL the server would publish to make run's folder, absent in a fresh clone.
    env = {"CELERY_BROKER_URL": "memory://", **os.environ}
    env.update(DEBUG="false", ALLOWED_HOSTS="127.0.0.1,localhost")
    env.pop("DJANGO_SETTINGS_MODULE", None)  # each application's wsgi module names its own
    command = [sys.executable, "-m", "gunicorn", app, "--bind", f"127.0.0.1:{port}"]
    command += ["--config", str(ROOT / "gunicorn.conf.py")]
    command += [*GUNICORN_ARGS, "--log-level", "warning"]
    gunicorn = subprocess.Popen(command, env=env, cwd=ROOT)
    url = f"http://127.0.0.1:{port}/api/v1/decisions"
    try:
        _wait_until_up(url)
        yield url
    finally:
        gunicorn.send_signal(signal.SIGTERM)
        gunicorn.wait(timeout=30)


def wrk_script(calls: dict[str, dict], key: str) -> str:
    """A wrk script that sends these calls' bodies in turn; its path."""
    bodies = ", ".join(json.dumps(json.dumps(body)) for body in calls.values())
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_SCRIPT % (bodies, key))
    return script.name


def run_wrk(url: str, script: str, seconds: int) -> dict[str, float]:
    """Load `url` with wrk for `seconds`; wrk's figures."""
    command = ["wrk", "-t1", f"-c{CONNECTIONS}", f"-d{seconds}s", "--latency", "-s", script, url]
    return parse_wrk(subprocess.run(command, capture_output=True, text=True, check=True).stdout)


def combined(slices: list[dict[str, float]]) -> dict[str, float]:
    """One load's slices as one: throughput over all of them, the median slice's percentiles."""
    requests = sum(f["requests"] for f in slices)
    seconds = sum(f["requests"] / f["rps"] for f in slices)
    middle = sorted(slices, key=lambda f: f["p99"])[len(slices) // 2]
    return {
        **middle,
        "rps": requests / seconds,
        "requests": requests,
        "non_2xx": sum(f["non_2xx"] for f in slices),
        "socket_errors": sum(f["socket_errors"] for f in slices),
    }


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


def run(duration: int = int(os.environ.get("BENCH_API_SECONDS") or 30)) -> list[Result]:
    """Load the floor and the API for `duration` seconds each and count statements."""
    if shutil.which("wrk") is None:
        raise SystemExit("the API benchmark needs wrk: apt-get install wrk")
    from gateways.services import api_key_create

    prepare_policies()
    counts = statements_per_call()
    key = api_key_create(name=f"bench-load-{time.time_ns()}").raw_key
    scripts = {"allow/deny": wrk_script(ALLOW_DENY, key), "approval": wrk_script(APPROVAL, key)}
    loads = (("floor", "allow/deny"), ("api", "allow/deny"), ("api", "approval"))
    slices: dict[tuple[str, str], list[dict[str, float]]] = {load: [] for load in loads}
    try:
        with (
            served("bench.floor.wsgi", PORT) as floor_url,
            served("agenwork.wsgi", PORT + 1) as api_url,
        ):
            urls = {"floor": floor_url, "api": api_url}
            for app, mix in loads:  # warm-up: workers, snapshot, plans
                run_wrk(urls[app], scripts[mix], WARM_UP_SECONDS)
            # Each load in turn, a slice at a time: a change of the host's load weighs on all.
            for _ in range(SLICES):
                for app, mix in loads:
                    slices[app, mix].append(run_wrk(urls[app], scripts[mix], duration // SLICES))
    finally:
        for script in scripts.values():
            Path(script).unlink(missing_ok=True)
    floor, api, approval = (combined(slices[load]) for load in loads)
    floor_slices = ", ".join(f"{f['rps']:.0f}" for f in slices[loads[0]])
    share, approval_share = api["rps"] / floor["rps"], approval["rps"] / floor["rps"]
    p99_times = api["p99"] / floor["p99"]
    load = f"{CONNECTIONS} connections, {duration} s"
    results = [
        Result(
            "Decisions API",
            f"floor: bare Django, same statements, {load}",
            floor["rps"],
            "req/s",
            "(reference)",
            not _errors(floor),
            f"slices {floor_slices} req/s; p50 {floor['p50']:.1f} ms, p99 {floor['p99']:.1f} ms",
        ),
        Result(
            "Decisions API",
            "allowed and denied, share of the floor",
            share,
            "of floor",
            f"≥ {TARGET_SHARE}",
            share >= TARGET_SHARE and not _errors(api),
            f"{api['rps']:.0f} req/s; p50 {api['p50']:.1f} ms, {_errors(api):.0f} errors",
        ),
        Result(
            "Decisions API",
            "allowed and denied, p99 against the floor's",
            p99_times,
            "times",
            f"≤ {TARGET_P99_TIMES:g}",
            p99_times <= TARGET_P99_TIMES,
            f"p99 {api['p99']:.1f} ms against {floor['p99']:.1f} ms",
        ),
        Result(
            "Decisions API",
            "approval required (pending found), share of the floor",
            approval_share,
            "of floor",
            f"≥ {TARGET_APPROVAL_SHARE}",
            approval_share >= TARGET_APPROVAL_SHARE and not _errors(approval),
            f"{approval['rps']:.0f} req/s; p50 {approval['p50']:.1f} ms, "
            f"p99 {approval['p99']:.1f} ms, {_errors(approval):.0f} errors",
        ),
        Result(
            "Decisions API",
            "SQL statements per decision (max)",
            float(max(counts.values())),
            "stmts",
            f"≤ {MAX_STATEMENTS}",
            max(counts.values()) <= MAX_STATEMENTS,
            ", ".join(f"{k}: {v}" for k, v in counts.items()),
        ),
    ]
    for result in results:
        print(result.line(), flush=True)
    return results


def _errors(figures: dict[str, float]) -> float:
    return figures["non_2xx"] + figures["socket_errors"]


if __name__ == "__main__":
    from bench.common import setup_django

    setup_django()
    run(int(sys.argv[1]) if len(sys.argv) > 1 else 30)

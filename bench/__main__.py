"""Run every benchmark against the benchmark database and rewrite docs/benchmarks.md.

Usage: python -m bench [--requests N] [--skip-seed] [--only NAME] [--no-doc]

The whole run seeds the database once, then runs each benchmark in its own Python process and
rewrites docs/benchmarks.md; `--only NAME` replaces only that benchmark's rows there.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import (
    bench_console_pages,
    bench_decisions_api,
    bench_email_latency,
    bench_evaluation,
    bench_mcp_gateway,
    bench_requests_page,
    bench_sweep,
)
from bench.common import BENCH_DATABASE_URL, Result, setup_django

DOC = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"
BENCHES = {
    "evaluation": ("Policy evaluation in process", bench_evaluation),
    "requests_page": ("Requests page and review panel", bench_requests_page),
    "console_pages": ("Dashboard and Activity", bench_console_pages),
    "decisions_api": ("Decisions API under load", bench_decisions_api),
    "email_latency": ("Request to email, one worker", bench_email_latency),
    "sweep": ("The sweep over 100,000 due reminders", bench_sweep),
    "mcp_gateway": ("MCP gateway: allowed calls and held calls", bench_mcp_gateway),
}


def create_database(url: str) -> None:
    """Create the benchmark database if it does not exist yet."""
    import dj_database_url
    import psycopg2

    config = dj_database_url.parse(url)
    conn = psycopg2.connect(
        dbname="postgres",
        user=config["USER"],
        password=config["PASSWORD"],
        host=config["HOST"],
        port=config["PORT"] or 5432,
    )
    conn.autocommit = True
    with conn.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [config["NAME"]])
        if cursor.fetchone() is None:
            cursor.execute(f'CREATE DATABASE "{config["NAME"]}"')
    conn.close()


def prepare(requests: int) -> None:
    """Migrate, seed up to N requests, VACUUM ANALYZE and CHECKPOINT the benchmark database."""
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0, interactive=False)
    call_command("collectstatic", verbosity=0, interactive=False)
    call_command("seed_demo", requests=requests)
    connection.ensure_connection()
    old_autocommit = connection.get_autocommit()
    connection.set_autocommit(True)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
        # Write the seed's dirty pages out now, not during the first timed runs.
        cursor.execute("CHECKPOINT")
    connection.set_autocommit(old_autocommit)


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} cores ({cpu}), Python {platform.python_version()}"


def postgres_version() -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        return cursor.fetchone()[0]


def write_doc(results: list[Result], requests: int, seconds: float) -> None:
    """Rewrite docs/benchmarks.md with each figure against its target, and each method."""
    lines = [
        "# Benchmarks",
        "",
        "Written by `make bench` (`python -m bench`); do not edit by hand.",
        "",
        f"- Date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
        f"- Machine: {machine()}, PostgreSQL {postgres_version()}",
        f"- Data: `seed_demo --requests {requests:,}` in the benchmark database, VACUUM ANALYZE",
        f"- Run time: {seconds:.0f} s; each benchmark in its own Python process",
        "",
        "| Area | Figure | Measured | Target | Met | Detail |",
        "|---|---|---|---|---|---|",
    ]
    lines += [_row(r) for r in results]
    lines += _method()
    DOC.write_text("\n".join(lines))


def _row(r: Result) -> str:
    return (
        f"| {r.area} | {r.name} | {r.value:.2f} {r.unit} | {r.target} | "
        f"{'yes' if r.ok else '**no**'} | {r.note} |"
    )


def _method() -> list[str]:
    lines = ["", "## Method"]
    for title, module in BENCHES.values():
        lines += ["", f"### {title}", ""]
        lines += [line.strip() for line in (module.__doc__ or "").strip().splitlines()]
    return [*lines, ""]


def update_doc(name: str, results: list[Result], seconds: float) -> None:
    """Put one benchmark's figures into docs/benchmarks.md in place of its old rows; keep the rest.

    - The header says when that benchmark was last measured on its own, and the load then.
    """
    title = BENCHES[name][0]
    areas = {r.area for r in results}
    old = DOC.read_text().split("\n## Method")[0].rstrip("\n").split("\n")
    stamp = f"- {title}: measured on its own (`python -m bench --only {name}`)"
    header = [line for line in old if not line.startswith("|") and not line.startswith(stamp)]
    header = [line for line in header if line]  # the blank lines are put back below
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    load = " ".join(f"{n:.1f}" for n in os.getloadavg())
    header.append(f"{stamp} on {when}, {machine()}, in {seconds:.0f} s, load after {load}")
    rows = [line for line in old if line.startswith("|")]
    kept = [line for line in rows if line.split("|")[1].strip() not in areas]
    at = next((i for i, line in enumerate(rows) if line not in kept), len(rows))
    at = len([line for line in rows[:at] if line in kept])
    table = kept[:at] + [_row(r) for r in results] + kept[at:]
    title_lines, bullets = header[:2], header[2:]
    DOC.write_text(
        "\n".join([title_lines[0], "", title_lines[1], "", *bullets, "", *table, *_method()])
    )


def run_isolated(name: str) -> list[Result]:
    """One benchmark in a fresh interpreter, so that nothing an earlier one left behind weighs on
    its figures: the seed's objects, a worker's threads, warm caches, a grown heap."""
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "results.json"
        command = [sys.executable, "-m", "bench", "--only", name, "--skip-seed", "--results", out]
        code = subprocess.call(command)
        found = json.loads(out.read_text()) if out.exists() else None
    if found is None:
        raise SystemExit(f"benchmark {name} stopped (exit {code}) before reporting its figures")
    return [Result(**row) for row in found]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=1_000_000)
    parser.add_argument("--skip-seed", action="store_true")
    parser.add_argument("--no-doc", action="store_true", help="print only; keep docs/benchmarks.md")
    parser.add_argument("--only", choices=list(BENCHES), help="run one benchmark")
    parser.add_argument("--results", type=Path, help=argparse.SUPPRESS)  # set by run_isolated
    args = parser.parse_args()
    if not args.skip_seed:
        create_database(os.environ.get("DATABASE_URL", BENCH_DATABASE_URL))
    setup_django()
    started = time.perf_counter()
    if not args.skip_seed:
        prepare(args.requests)
    results: list[Result] = []
    if args.only:
        print(f"--- {args.only}", flush=True)
        results = BENCHES[args.only][1].run()
        if args.results:
            args.results.write_text(json.dumps([dataclasses.asdict(r) for r in results]))
    else:
        for name in BENCHES:
            results += run_isolated(name)
    if not args.no_doc and args.only is None:
        write_doc(results, args.requests, time.perf_counter() - started)
        print(f"wrote {DOC}")
    elif not args.no_doc and args.results is None and DOC.exists():
        update_doc(args.only, results, time.perf_counter() - started)
        print(f"updated {DOC}: {BENCHES[args.only][0]}")
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())

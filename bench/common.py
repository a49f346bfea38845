"""Shared pieces of the benchmarks: Django setup, timing, result rows."""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

BENCH_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/agenwork_bench"


def setup_django() -> None:
    """Configure Django for an in-process benchmark against the benchmark database."""
    os.environ.setdefault("DATABASE_URL", BENCH_DATABASE_URL)
    os.environ.setdefault("SECRET_KEY", "benchmark-only-secret-key-0123456789abcdefghijklmnop")
    os.environ.setdefault("ENCRYPTION_KEY", "benchmark-only-encryption-key-0123456789abcdefghij")
    os.environ.setdefault("ALLOWED_HOSTS", "testserver,127.0.0.1,localhost")
    os.environ.setdefault("STATIC_ROOT", os.path.join("var", "bench-static"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "agenwork.settings")

    os.environ["DEBUG"] = "false"
    import django

    django.setup()
    if not os.environ.get("CELERY_BROKER_URL"):
        # Tasks the benches cause (notifications of the requests they create) go nowhere, except
        # where a bench starts a worker and points the app at its broker. Not through the
        # environment: Celery prefers CELERY_BROKER_URL there to any later change of its config.
        from agenwork.celery import app

        app.conf.update(CELERY_BROKER_URL="memory://")  # the prefixed key: see celery_settings


@dataclass
class Result:
    """One measured figure against its target."""

    area: str
    name: str
    value: float
    unit: str
    target: str
    ok: bool
    note: str = ""

    def line(self) -> str:
        mark = "ok" if self.ok else "MISSED"
        figure = f"{self.value:>10.2f} {self.unit:<6}"
        return f"{self.area:<14} {self.name:<48} {figure} {self.target:<14} {mark} {self.note}"


def percentile(samples: list[float], pct: float) -> float:
    """The pct-th percentile (nearest rank) of the samples."""
    ordered = sorted(samples)
    rank = max(0, min(len(ordered) - 1, round(pct / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def time_calls(fn: Callable[[], object], *, warmup: int, runs: int) -> list[float]:
    """Milliseconds of each of `runs` calls of fn, after `warmup` unmeasured calls."""
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def summary(samples: list[float]) -> str:
    return (
        f"p50 {statistics.median(samples):.1f} ms, p95 {percentile(samples, 95):.1f} ms, "
        f"max {max(samples):.1f} ms over {len(samples)} runs"
    )


def delete_requests(where: str, param: str) -> None:
    """Delete the requests `where` selects (one %s parameter), with everything hanging off them.

    Raw SQL with triggers off for the transaction: request events are append-only.
    """
    from django.db import connection, transaction

    ours = f"SELECT id FROM requests_app_accessrequest WHERE {where}"
    statements = [
        "DELETE FROM approval_flows_notification WHERE request_public_id IN "
        f"(SELECT public_id FROM requests_app_accessrequest WHERE {where})",
        *(
            f"DELETE FROM requests_app_{table} WHERE request_id IN ({ours})"
            for table in ("approverlink", "requesttool", "requestevent", "requestapproval")
        ),
        f"DELETE FROM requests_app_webhookdelivery WHERE request_id IN ({ours})",
        f"DELETE FROM requests_app_accessrequest WHERE {where}",
    ]
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")
        for sql in statements:
            cursor.execute(sql, [param])

"""The gateway's database work, run off the event loop on a pool of threads.

- thread_sensitive=False, not asgiref's default (True), which runs the queries of every call of
  every session one after another on one shared thread, so concurrent calls queue behind each
  other's round trips (bench/bench_mcp_gateway.py measured it).
- Safe on any thread: each function run here starts with close_old_connections() and keeps its
  queries, and any transaction, within itself; each thread of the pool has its own connection.
- The health check has a thread of its own (`for_health`): a load balancer's probe is never
  queued behind a burst of calls creating their approval requests.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

from asgiref.sync import sync_to_async

P = ParamSpec("P")
R = TypeVar("R")
HEALTH_THREAD = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gateway-health")


def off_loop(work: Callable[P, R]) -> Callable[P, Awaitable[R]]:
    """`work` as an awaitable run on the event loop's thread pool."""
    return sync_to_async(work, thread_sensitive=False)


def for_health(work: Callable[P, R]) -> Callable[P, Awaitable[R]]:
    """`work` as an awaitable run on the health check's own thread."""
    return sync_to_async(work, thread_sensitive=False, executor=HEALTH_THREAD)

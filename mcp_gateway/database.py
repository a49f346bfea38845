"""The gateway's database work, run off the event loop on a pool of threads.

- thread_sensitive=False, not asgiref's default (True), which runs the queries of every call of
  every session one after another on one shared thread, so concurrent calls queue behind each
  other's round trips (bench/bench_mcp_gateway.py measured it).
- Safe on any thread: each function run here starts with close_old_connections() and keeps its
  queries, and any transaction, within itself; each thread of the pool has its own connection.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import ParamSpec, TypeVar

from asgiref.sync import sync_to_async

P = ParamSpec("P")
R = TypeVar("R")


def off_loop(work: Callable[P, R]) -> Callable[P, Awaitable[R]]:
    """`work` as an awaitable run on the event loop's thread pool."""
    return sync_to_async(work, thread_sensitive=False)

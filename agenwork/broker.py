"""Publishing after commit without waiting on a broker that is down.

- The outbox rows are already committed when their task is published: a message that is not
  published is only late, because the sweep hands out what may not have reached a worker
  (`handout_cutoff`). So a web request must not wait on a broker that refuses.
- After a refusal this process publishes nothing for `PAUSE`, then tries again. One refused
  publish costs Celery's publish retries (about half a second); without the pause a request
  queueing three messages would pay that three times while the broker is down.
- Tasks are published by name (`publish`): a service that enqueues need not import the task
  module that imports it. Every app registers its tasks when Django starts (its `ready()`), so
  the name resolves in the web process too, and an eager test runs the task in place.
- Each refusal that starts a pause is recorded (a heartbeat row), so the first sweep after the
  broker is back hands out every row created until then, not only those older than the grace
  that normally lets the after-commit task send a fresh row by itself.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime, timedelta
from typing import Any

from celery import current_app

from agenwork.heartbeat import heartbeat_last, heartbeat_mark

logger = logging.getLogger(__name__)

PAUSE_SECONDS = 5.0
BROKER_REFUSED = "broker_refused"

_lock = threading.Lock()
_paused_until = 0.0


def publish(task: str, *args: Any) -> None:
    """Publish the registered task named `task` with `args` (raises when the broker refuses)."""
    current_app.tasks[task].delay(*args)


def publish_after_commit(task: str, *args: Any) -> bool:
    """Publish the task named `task` unless the broker refused lately; False when not published."""
    global _paused_until
    if time.monotonic() < _paused_until:
        return False
    # Outside the try: an unknown task name is a bug to raise, not a broker to wait for.
    registered = current_app.tasks[task]
    try:
        registered.delay(*args)
    except Exception as exc:
        with _lock:
            _paused_until = time.monotonic() + PAUSE_SECONDS
        logger.warning(
            "the broker refused %s (%s: %s); publishing paused for %.0f s, the sweep sends it",
            task,
            type(exc).__name__,
            exc,
            PAUSE_SECONDS,
        )
        broker_refused()
        return False
    return True


def broker_refused() -> None:
    """Record that a publish was refused now (the database may be down too: then only log)."""
    try:
        heartbeat_mark(name=BROKER_REFUSED)
    except Exception as exc:
        logger.warning("could not record the broker's refusal (%s: %s)", type(exc).__name__, exc)


def handout_cutoff(*, now: datetime, grace: timedelta) -> datetime:
    """Messages created up to this time may not have reached a worker: the sweep hands them out.

    - Normally `now - grace`: a fresh row is the after-commit task's to send.
    - After a refusal, every row created until the pause that followed it ended: those were
      not published, or were published to a broker that may have lost them on restart.
    """
    cutoff = now - grace
    refused = heartbeat_last(name=BROKER_REFUSED)
    if refused is not None:
        cutoff = max(cutoff, min(now, refused + timedelta(seconds=PAUSE_SECONDS)))
    return cutoff


def resume_publishing() -> None:
    """Forget an earlier refusal (tests, or a process that knows the broker is back)."""
    global _paused_until
    with _lock:
        _paused_until = 0.0

"""Publishing after commit without waiting on a broker that is down.

- The outbox rows are already committed when their task is published: a message that is not
  published is only late, because the sweep hands out what is still pending after
  `FRESH_GRACE`. So a web request must not wait on a broker that refuses.
- After a refusal this process publishes nothing for `PAUSE`, then tries again. One refused
  publish costs Celery's publish retries (about half a second); without the pause a request
  queueing three messages would pay that three times while the broker is down.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

logger = logging.getLogger(__name__)

PAUSE_SECONDS = 5.0

_lock = threading.Lock()
_paused_until = 0.0


def publish_after_commit(task: Any, *args: Any) -> bool:
    """`task.delay(*args)` unless the broker refused lately; False when not published."""
    global _paused_until
    if time.monotonic() < _paused_until:
        return False
    try:
        task.delay(*args)
    except Exception as exc:
        with _lock:
            _paused_until = time.monotonic() + PAUSE_SECONDS
        logger.warning(
            "the broker refused %s (%s: %s); publishing paused for %.0f s, the sweep sends it",
            task.name,
            type(exc).__name__,
            exc,
            PAUSE_SECONDS,
        )
        return False
    return True


def resume_publishing() -> None:
    """Forget an earlier refusal (tests, or a process that knows the broker is back)."""
    global _paused_until
    with _lock:
        _paused_until = 0.0

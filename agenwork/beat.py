"""Celery beat's scheduler: the schedule file of Celery's own, in a folder made if missing."""

from __future__ import annotations

from pathlib import Path

from celery.beat import PersistentScheduler


class Scheduler(PersistentScheduler):
    """Celery's file-backed schedule, creating the file's folder first.

    - Beat started from a fresh checkout (no `var/` yet) would otherwise die opening the file.
    """

    def setup_schedule(self) -> None:
        Path(self.schedule_filename).parent.mkdir(parents=True, exist_ok=True)
        super().setup_schedule()

"""Celery beat started from a checkout that has no `var/` yet: it makes the folder and runs.

- A real `celery -A agenwork beat` in a folder of the test's own, its var folder missing; the
  sweep it schedules is seen in the broker (Redis, as deployed), then beat is stopped.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import redis

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
QUEUE = "celery"
SWEEP = "requests_app.tasks.sweep"
START_SECONDS = 60


def sweeps_queued(broker: redis.Redis, before: set[bytes]) -> list[bytes]:
    """The sweep messages in the queue that were not there before."""
    return [
        raw
        for raw in broker.lrange(QUEUE, 0, -1)
        if raw not in before and json.loads(raw)["headers"]["task"] == SWEEP
    ]


def test_beat_without_a_var_folder_makes_it_and_schedules_the_sweep(tmp_path):
    var = tmp_path / "checkout" / "var"
    env = {
        **os.environ,
        "AGENWORK_VAR_DIR": str(var),
        "PYTHONPATH": str(ROOT),
        "SWEEP_INTERVAL_SECONDS": "1",
        "DEBUG": "false",
    }
    broker = redis.Redis.from_url(os.environ["REDIS_URL"])
    before = set(broker.lrange(QUEUE, 0, -1))
    log = tmp_path / "beat.log"
    command = [str(BIN / "celery"), "-A", "agenwork", "beat", "--loglevel=info"]
    with log.open("wb") as out:
        beat = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=out, stderr=out)
    sent: list[bytes] = []
    try:
        deadline = time.monotonic() + START_SECONDS
        while not (sent := sweeps_queued(broker, before)):
            assert beat.poll() is None, f"beat stopped:\n{log.read_text()}"
            assert time.monotonic() < deadline, f"no sweep queued:\n{log.read_text()}"
            time.sleep(0.2)
    finally:
        beat.terminate()
        beat.wait(timeout=30)
        for raw in sweeps_queued(broker, before):
            broker.lrem(QUEUE, 0, raw)

    assert sent
    assert list(var.glob("celerybeat-schedule*")), sorted(p.name for p in tmp_path.rglob("*"))
    assert "Sending due task sweep" in log.read_text()

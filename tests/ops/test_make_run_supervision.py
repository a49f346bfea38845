"""`make run`: a worker or beat that dies is started again; the rest keeps running.

- Runs what `make run` runs (tests/support/make_run.py): its set-up, then honcho over
  Procfile.dev, on the embedded defaults (SQLite, the filesystem broker, mail to files) in a
  folder of the test's own.
- The Celery worker's main process is killed with SIGKILL, as the OOM killer would: a new worker
  reports ready, honcho and the web server never stop. Ctrl-C (SIGINT to honcho) then stops
  every process.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.make_run import Runner, command_line, descendants


def celery_worker_pids(root: int) -> list[int]:
    """The worker's main process (not its pool children, not the respawn loop around it)."""
    pids = []
    for pid in descendants(root):
        argv = command_line(pid)
        if "worker" in argv and any(part.endswith("celery") for part in argv[:2]):
            pids.append(pid)
    parents = {pid: _parent(pid) for pid in pids}
    return [pid for pid in pids if parents[pid] not in pids]


def _parent(pid: int) -> int:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat.rsplit(")", 1)[1].split()[1])


@pytest.fixture
def runner(tmp_path: Path) -> Iterator[Runner]:
    runner = Runner(tmp_path)
    runner.start()
    yield runner
    runner.stop()


def test_a_killed_worker_is_started_again_and_ctrl_c_stops_everything(runner):
    runner.wait_until_serving()
    runner.wait_for(r"beat: Starting")
    assert runner.process is not None
    [first] = celery_worker_pids(runner.process.pid)

    os.kill(first, signal.SIGKILL)

    runner.wait_for(r"celery@\S+ ready\.", count=2)
    assert "starting it again" in runner.log()
    [second] = celery_worker_pids(runner.process.pid)
    assert second != first
    assert runner.process.poll() is None and runner.web_answers()

    everything = descendants(runner.process.pid)
    os.killpg(runner.process.pid, signal.SIGINT)  # Ctrl-C in the terminal of `make run`
    runner.process.wait(timeout=60)
    deadline = time.monotonic() + 30  # pool children exit just after their parent
    while left := [pid for pid in everything if command_line(pid)]:
        assert time.monotonic() < deadline, [command_line(pid) for pid in left]
        time.sleep(0.1)

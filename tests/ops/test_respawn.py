"""agenwork.respawn: `make run`'s worker and beat are started again when they die.

- The loop's waits are checked with an injected clock; the restart and the stop with real
  processes (a small Python program that writes a line when it starts and when it is told to
  stop).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from agenwork import respawn
from agenwork.respawn import FIRST_WAIT, LONGEST_WAIT, STEADY, Respawner

ROOT = Path(__file__).resolve().parents[2]

CHILD = """
import os, signal, sys, time
log = sys.argv[1]
def stop(signum, frame):
    with open(log, "a") as f:
        f.write(f"stopped {os.getpid()}\\n")
    sys.exit(0)
signal.signal(signal.SIGTERM, stop)
with open(log, "a") as f:
    f.write(f"started {os.getpid()}\\n")
while True:
    time.sleep(0.1)
"""


class FakeClock:
    """Time that moves only when the loop sleeps (or a child is said to have run a while)."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def lines(log: Path) -> list[str]:
    return log.read_text().splitlines() if log.exists() else []


def wait_until(check, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_a_command_that_keeps_failing_is_restarted_with_doubling_waits():
    clock = FakeClock()
    logged: list[str] = []
    loop = Respawner([sys.executable, "-c", "raise SystemExit(3)"], log=logged.append)
    loop.clock, loop.sleep = clock, clock.sleep

    def log_and_stop_after_seven(line: str) -> None:
        logged.append(line)
        if len(logged) == 7:
            loop.stopping = True

    loop.log = log_and_stop_after_seven
    assert loop.run() == 3

    waits = [float(line.split(" in ")[1].split(" s")[0]) for line in logged]
    assert waits == [FIRST_WAIT, 2, 4, 8, 16, LONGEST_WAIT, LONGEST_WAIT]
    assert all("exited with code 3" in line for line in logged)


def test_after_a_steady_run_the_next_wait_is_the_first_one_again():
    clock = FakeClock()
    logged: list[str] = []
    loop = Respawner([sys.executable, "-c", "pass"], log=logged.append)
    loop.clock, loop.sleep = clock, clock.sleep
    loop._wait = LONGEST_WAIT  # as after many quick failures
    original_wait = loop._wait_for_child

    def child_ran_a_minute() -> int:
        code = original_wait()
        clock.now += STEADY
        loop.stopping = len(logged) == 1
        return code

    loop._wait_for_child = child_ran_a_minute
    loop.run()

    assert "starting it again in 1 s" in logged[0]


def test_without_a_command_it_says_how_to_use_it(capsys):
    assert respawn.main(["--"]) == 2
    assert "usage: python -m agenwork.respawn -- COMMAND" in capsys.readouterr().err


def test_a_command_that_cannot_start_is_not_retried(capsys):
    loop = Respawner(["/nonexistent/agenwork-command"], log=lambda line: print(line))

    assert loop.run() == 127
    assert "cannot start /nonexistent/agenwork-command" in capsys.readouterr().out


@pytest.fixture
def running(tmp_path: Path):
    """`python -m agenwork.respawn -- python CHILD LOG` as its own process."""
    log = tmp_path / "child.log"
    command = [sys.executable, "-m", "agenwork.respawn", "--", sys.executable, "-c", CHILD]
    process = subprocess.Popen(
        [*command, str(log)], cwd=ROOT, stderr=subprocess.PIPE, start_new_session=True
    )
    wait_until(lambda: len(lines(log)) == 1)
    yield process, log
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def test_a_killed_command_is_started_again(running):
    process, log = running
    first = int(lines(log)[0].split()[1])

    os.kill(first, signal.SIGKILL)
    wait_until(lambda: len(lines(log)) == 2)

    second = int(lines(log)[1].split()[1])
    assert lines(log)[1].startswith("started") and second != first
    assert process.poll() is None


def test_sigterm_stops_the_command_and_the_loop_without_a_restart(running):
    process, log = running
    child = int(lines(log)[0].split()[1])

    process.send_signal(signal.SIGTERM)

    assert process.wait(timeout=20) == 0
    assert lines(log) == [f"started {child}", f"stopped {child}"]
    with pytest.raises(ProcessLookupError):
        os.kill(child, 0)

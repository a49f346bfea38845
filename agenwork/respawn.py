"""Run one command and start it again whenever it exits: `make run`'s worker, beat and gateway.

    python -m agenwork.respawn -- celery -A agenwork worker --loglevel=info

- honcho, the Procfile runner of `make run`, stops every process as soon as one exits. A worker
  that dies (a broker outage, a crash, the kernel's OOM killer) must not stop the console, and
  the console must not go on without a worker: so the worker runs under this loop, as it runs
  under docker-compose's restart policy or systemd's `Restart=always` in production.
- The first restart comes after `FIRST_WAIT`, then the wait doubles up to `LONGEST_WAIT` while
  the command keeps dying; once it has run for `STEADY` the next wait is the first one again.
- SIGTERM, SIGINT or SIGHUP stops the loop: the signal goes on to the command, and this process
  exits with the command's code once it has stopped.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from types import FrameType

FIRST_WAIT = 1.0
LONGEST_WAIT = 30.0
STEADY = 60.0
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


@dataclass
class Respawner:
    """The loop: start, wait for the exit, wait a while, start again, until told to stop."""

    command: Sequence[str]
    log: Callable[[str], None] = lambda line: print(f"respawn: {line}", file=sys.stderr, flush=True)
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    stopping: bool = False
    child: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    _wait: float = field(default=FIRST_WAIT, repr=False)

    def run(self) -> int:
        """Keep the command running until a stop signal; return the command's last exit code."""
        for signum in STOP_SIGNALS:
            signal.signal(signum, self._stop)
        code = 0
        while not self.stopping:
            started = self.clock()
            try:
                self.child = subprocess.Popen(self.command)  # noqa: S603 (ops give the command)
            except OSError as exc:  # not found, not executable: no restart will mend that
                self.log(f"cannot start {self.command[0]}: {exc}")
                return 127
            code = self._wait_for_child()
            if self.stopping:
                break
            ran = self.clock() - started
            self._wait = FIRST_WAIT if ran >= STEADY else self._wait
            self.log(
                f"{self.command[0]} exited with code {code} after {ran:.0f} s; "
                f"starting it again in {self._wait:.0f} s"
            )
            self._pause(self._wait)
            self._wait = min(self._wait * 2, LONGEST_WAIT)
            self.restarts += 1
        return code

    def _wait_for_child(self) -> int:
        assert self.child is not None
        while True:
            try:
                return self.child.wait()
            except InterruptedError:  # pragma: no cover - PEP 475 retries wait() by itself
                continue

    def _pause(self, seconds: float) -> None:
        """Sleep in short steps, so that a stop signal during the wait ends it at once."""
        until = self.clock() + seconds
        while not self.stopping and self.clock() < until:
            self.sleep(min(0.2, until - self.clock()))

    def _stop(self, signum: int, frame: FrameType | None) -> None:
        self.stopping = True
        if self.child is not None and self.child.poll() is None:
            self.child.send_signal(signum)


def main(argv: Sequence[str]) -> int:
    """`python -m agenwork.respawn -- COMMAND…`: run COMMAND under the loop."""
    command = list(argv[1:] if argv[:1] == ["--"] else argv)
    if not command:
        print("usage: python -m agenwork.respawn -- COMMAND [ARGUMENTS…]", file=sys.stderr)
        return 2
    return Respawner(command).run()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

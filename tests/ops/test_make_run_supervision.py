"""`make run`: a worker or beat that dies is started again; the rest keeps running.

- Runs what `make run` runs after its set-up: honcho over Procfile.dev, on the embedded defaults
  (SQLite, the filesystem broker, mail to files) in a folder of the test's own.
- The Celery worker's main process is killed with SIGKILL, as the OOM killer would: a new worker
  reports ready, honcho and the web server never stop. Ctrl-C (SIGINT to honcho) then stops
  every process.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
START_SECONDS = 90


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def descendants(pid: int) -> list[int]:
    """Every process below `pid`, from /proc (children files list direct children)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        children = (task / "children").read_text().split() if (task / "children").exists() else []
        for child in map(int, children):
            found += [child, *descendants(child)]
    return found


def command_line(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes().decode()
    except (FileNotFoundError, ProcessLookupError):
        return []
    return [part for part in raw.split("\0") if part]  # a zombie's is empty


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


class Runner:
    """honcho over Procfile.dev, its output collected in a file."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self.output = folder / "honcho.log"
        self.process: subprocess.Popen[bytes] | None = None

    def env(self) -> dict[str, str]:
        env = {
            key: value
            for key, value in os.environ.items()
            if key not in {"DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "SECRET_KEY"}
        }
        env.update(
            AGENWORK_VAR_DIR=str(self.folder),
            DEBUG="true",
            SITE_URL=f"http://127.0.0.1:{self.port}",
            PORT=str(self.port),
            PATH=f"{BIN}:{env['PATH']}",
            PYTHONUNBUFFERED="1",
        )
        return env

    def start(self) -> None:
        for name in ("broker", "broker-processed", "broker-control", "mail"):
            (self.folder / name).mkdir(parents=True, exist_ok=True)
        manage = [sys.executable, "manage.py", "migrate", "--noinput"]
        subprocess.run(manage, cwd=ROOT, env=self.env(), check=True, capture_output=True)
        command = [str(BIN / "honcho"), "start", "-f", "Procfile.dev", "-e", "/dev/null"]
        command += ["-p", str(self.port)]
        self.process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=self.env(),
            stdout=self.output.open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def log(self) -> str:
        return self.output.read_text(errors="replace")

    def wait_for(self, pattern: str, count: int = 1) -> None:
        deadline = time.monotonic() + START_SECONDS
        while len(re.findall(pattern, self.log())) < count:
            assert self.process and self.process.poll() is None, f"honcho stopped:\n{self.log()}"
            if time.monotonic() > deadline:
                pytest.fail(f"no {pattern!r} (x{count}) after {START_SECONDS} s:\n{self.log()}")
            time.sleep(0.2)

    def web_answers(self) -> bool:
        url = f"http://127.0.0.1:{self.port}/healthz"
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return response.status in (200, 503)
        except urllib.error.HTTPError as error:
            return error.code == 503
        except OSError:
            return False


@pytest.fixture
def runner(tmp_path: Path) -> Iterator[Runner]:
    runner = Runner(tmp_path)
    runner.start()
    yield runner
    if runner.process and runner.process.poll() is None:
        os.killpg(runner.process.pid, signal.SIGKILL)
        runner.process.wait()
    for pid in descendants(os.getpid()):
        if any("agenwork" in part or "celery" in part for part in command_line(pid)):
            os.kill(pid, signal.SIGKILL)


def test_a_killed_worker_is_started_again_and_ctrl_c_stops_everything(runner):
    runner.wait_for(r"celery@\S+ ready\.")
    runner.wait_for(r"beat: Starting")
    deadline = time.monotonic() + START_SECONDS
    while not runner.web_answers():
        assert time.monotonic() < deadline, runner.log()
        time.sleep(0.2)
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

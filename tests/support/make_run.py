"""`make run` inside a test, and a person at the console and in a shell beside it.

- `Runner` does what the Makefile's `run` recipe does after installing: its set-up steps (read
  from the Makefile, so the tests follow it), then honcho over Procfile.dev, with `make run`'s
  environment (DEBUG, SITE_URL, PORT) and none of the suite's (PostgreSQL, Redis, its key), in a
  folder of the test's own (AGENWORK_VAR_DIR) and on a free port. `stop` leaves no process.
- `shell_env` is a terminal in the checkout while `make run` runs: none of make run's variables,
  only AGENWORK_VAR_DIR pointing at the runner's folder instead of var/.
- `Console` is a person logged in to the running console over HTTP (cookies and CSRF kept).
"""

from __future__ import annotations

import contextlib
import http.cookiejar
import os
import re
import shlex
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from pathlib import Path

import pytest

from tests.support.ports import free_port

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
START_SECONDS = 90
DEMO_PASSWORD = "agenwork-demo"
# Words in the command lines of what `make run` starts (web, worker, beat and their helpers).
OUR_PROCESSES = ("manage.py", "agenwork", "celery")
# What the suite's own environment sets (make pytest) and a terminal beside `make run` has not.
SUITE_VARIABLES = {
    "DATABASE_URL",
    "REDIS_URL",
    "CELERY_BROKER_URL",
    "SECRET_KEY",
    "ENCRYPTION_KEY",
    "ENCRYPTION_OLD_KEYS",
    "DEBUG",
    "SITE_URL",
    "PORT",
    "STATIC_ROOT",
    "DJANGO_ALLOW_ASYNC_UNSAFE",
    "DJANGO_SETTINGS_MODULE",
}


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


def make_run_steps() -> list[list[str]]:
    """The Makefile's `run` set-up: each `$(RUN_ENV) $(PY) …` line, as arguments of python."""
    makefile = (ROOT / "Makefile").read_text()
    recipe = re.search(r"^run:.*\n((?:\t.*\n)+)", makefile, re.MULTILINE)
    assert recipe, "the Makefile has no run target"
    steps = [
        shlex.split(line.split("$(PY)", 1)[1])
        for line in recipe[1].splitlines()
        if line.strip().startswith("$(RUN_ENV) $(PY) ")
    ]
    assert steps, "the run recipe has no set-up step"
    return steps


def shell_env(folder: Path) -> dict[str, str]:
    """A terminal in the checkout: none of make run's or the suite's variables; its var folder."""
    env = {key: value for key, value in os.environ.items() if key not in SUITE_VARIABLES}
    return {**env, "AGENWORK_VAR_DIR": str(folder)}


class Runner:
    """`make run` in `folder`: the Makefile's set-up, then honcho over Procfile.dev."""

    def __init__(
        self,
        folder: Path,
        processes: Sequence[str] = (),
        extra_env: dict[str, str] | None = None,
    ) -> None:
        self.folder = folder
        self.processes = list(processes)  # none: every process of Procfile.dev
        self.extra_env = extra_env or {}
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.output = folder / "honcho.log"
        self.process: subprocess.Popen[bytes] | None = None

    def env(self) -> dict[str, str]:
        """What `make run` gives every step and process (RUN_ENV, PORT, .venv/bin on PATH)."""
        env = shell_env(self.folder)
        env.update(
            DEBUG="true",
            SITE_URL=self.url,
            PORT=str(self.port),
            PATH=f"{BIN}:{env['PATH']}",
            PYTHONUNBUFFERED="1",
            **self.extra_env,
        )
        return env

    def set_up(self, steps: list[list[str]] | None = None) -> None:
        for step in make_run_steps() if steps is None else steps:
            done = subprocess.run(
                [sys.executable, *step], cwd=ROOT, env=self.env(), capture_output=True, text=True
            )
            assert done.returncode == 0, f"{step}: {done.stdout}{done.stderr}"

    def start(self, steps: list[list[str]] | None = None) -> None:
        self.set_up(steps)
        command = [str(BIN / "honcho"), "start", "-f", "Procfile.dev", "-e", "/dev/null"]
        command += ["-p", str(self.port), *self.processes]
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
        try:
            with urllib.request.urlopen(f"{self.url}/healthz", timeout=5) as response:
                return response.status in (200, 503)
        except urllib.error.HTTPError as error:
            return error.code == 503
        except OSError:
            return False

    def wait_until_serving(self) -> None:
        """The worker reports ready and the web server answers."""
        self.wait_for(r"celery@\S+ ready\.")
        deadline = time.monotonic() + START_SECONDS
        while not self.web_answers():
            assert time.monotonic() < deadline, self.log()
            time.sleep(0.2)

    def stop(self) -> None:
        """Ctrl-C, as in the terminal of `make run`; then kill whatever is left of it."""
        if self.process is None:
            return
        # honcho starts each process in a session of its own: once honcho is gone they would be
        # nobody's descendants, so they are listed first.
        started = descendants(self.process.pid)
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGINT)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        deadline = time.monotonic() + 10  # pool children exit just after their parent
        while [pid for pid in started if command_line(pid)] and time.monotonic() < deadline:
            time.sleep(0.1)
        for pid in {*started, *descendants(os.getpid())}:
            if any(name in part for part in command_line(pid) for name in OUR_PROCESSES):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)


class Console:
    """A person logged in to the console over HTTP, as a browser would be."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.cookies = http.cookiejar.CookieJar()
        handler = urllib.request.HTTPCookieProcessor(self.cookies)
        self.opener = urllib.request.build_opener(handler)

    def get(self, path: str) -> str:
        with self.opener.open(self.base_url + path, timeout=30) as response:
            return response.read().decode()

    def post(self, path: str, data: dict[str, str | list[str]]) -> str:
        """POST a form with the CSRF token, following the redirect; the final page."""
        token = next(cookie.value for cookie in self.cookies if cookie.name == "csrftoken")
        body = urllib.parse.urlencode({**data, "csrfmiddlewaretoken": token}, doseq=True)
        with self.opener.open(self.base_url + path, body.encode(), timeout=30) as response:
            return response.read().decode()

    def log_in(self, username: str, password: str = DEMO_PASSWORD) -> None:
        self.get("/accounts/login/")  # sets the CSRF cookie
        page = self.post("/accounts/login/", {"username": username, "password": password})
        assert 'name="password"' not in page, f"{username} could not log in"

    def approve(self, request_id: str) -> str:
        """Approve every tool of a request from its review panel; the panel afterwards."""
        panel = self.get(f"/requests/{request_id}/")
        tools = re.findall(r'name="tools" value="(\d+)"', panel)
        assert tools, f"{request_id} offers no tool to approve:\n{panel}"
        data = {"tools": tools, "duration": "once", "comment": ""}
        return self.post(f"/requests/{request_id}/approve/", data)

"""Faults: PostgreSQL restarted under a running web process, which recovers without a restart.

- A private PostgreSQL cluster (initdb into a temporary directory, its own port) serves a
  gunicorn running the app with DEBUG off: the shared server is never touched.
- The settings keep connections (CONN_MAX_AGE) and check them before each request
  (CONN_HEALTH_CHECKS): after a restart the dead connection is replaced, so the first request
  after the database is back is answered; while it is down an API call gets a 503
  "unavailable" with Retry-After at once (connection refused), never a hang.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.integration.conftest import ROOT, wait_for
from tests.support.ports import free_port

pytestmark = pytest.mark.integration

# No request may take longer than this, database down or not.
ANSWER_SECONDS = 10


def postgres_command(name: str) -> str:
    """A PostgreSQL server program: on PATH, or in Debian's versioned folder."""
    found = shutil.which(name) or sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))[-1:]
    if not found:
        pytest.fail(f"{name} is not installed (PostgreSQL's server programs)")
    return found if isinstance(found, str) else found[0]


class PrivatePostgres:
    """A PostgreSQL cluster of our own; as root, its programs run as the `postgres` user."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.data = directory / "data"
        self.port = free_port()
        self.url = f"postgres://postgres@127.0.0.1:{self.port}/agenwork"

    def run(self, name: str, *args: str) -> None:
        command = [postgres_command(name), *args]
        if os.geteuid() == 0:  # initdb and postgres refuse to run as root
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=120)

    def create(self) -> None:
        if os.geteuid() == 0:
            owner = pwd.getpwnam("postgres")
            os.chown(self.directory, owner.pw_uid, owner.pw_gid)
        self.run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "--no-sync")
        self.start()
        self.run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "agenwork")

    def start(self) -> None:
        options = f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 -c fsync=off"
        log = str(self.directory / "postgres.log")
        self.run("pg_ctl", "-D", str(self.data), "-o", options, "-l", log, "-w", "start")

    def stop(self) -> None:
        self.run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def restart(self) -> None:
        """`pg_ctl restart -m fast`, as stop and start: restart would forget the log file."""
        self.stop()
        self.start()


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    directory = Path(tempfile.mkdtemp(prefix="agenwork-pg-"))  # tmp_path is root's only
    cluster = PrivatePostgres(directory)
    try:
        cluster.create()
        yield cluster
    finally:
        if (cluster.data / "postmaster.pid").exists():
            cluster.stop()
        shutil.rmtree(directory, ignore_errors=True)


def app_env(database_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "DEBUG": "false",
        "CELERY_BROKER_URL": "memory://",
        "PYTHONUNBUFFERED": "1",
    }


def manage(env: dict[str, str], *args: str) -> str:
    python = str(ROOT / ".venv" / "bin" / "python")
    done = subprocess.run(
        [python, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture
def web(private_postgres, tmp_path) -> Iterator[tuple[str, str, PrivatePostgres]]:
    """gunicorn on the private cluster (migrated, with an API key): (base URL, key, cluster)."""
    env = app_env(private_postgres.url)
    manage(env, "migrate", "--noinput", "-v0")
    key = manage(env, "create_api_key", "database fault test").strip().splitlines()[-1]
    port = free_port()
    command = [str(ROOT / ".venv" / "bin" / "gunicorn"), "agenwork.wsgi"]
    command += ["--bind", f"127.0.0.1:{port}", "--workers", "1", "--timeout", "30"]
    log = (tmp_path / "gunicorn.log").open("ab")
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _answers(base), timeout=30, what="gunicorn to answer")
        yield base, key, private_postgres
    finally:
        process.terminate()
        process.wait(timeout=20)


def _answers(base: str) -> bool:
    try:
        return requests.get(f"{base}/accounts/login/", timeout=2).status_code == 200
    except (requests.ConnectionError, requests.Timeout):  # not up yet, or still loading its code
        return False


def ask_status(base: str, key: str) -> requests.Response:
    """GET a request's status through the API: the key and the request are read from PostgreSQL."""
    started = time.monotonic()
    response = requests.get(
        f"{base}/api/v1/requests/{uuid.uuid4()}",
        headers={"Authorization": f"Bearer {key}"},
        timeout=ANSWER_SECONDS,
    )
    assert time.monotonic() - started < ANSWER_SECONDS
    return response


def assert_answered_from_the_database(response: requests.Response) -> None:
    """The key was found (not 401) and the request looked up: this key never made it."""
    assert response.status_code == 404, (response.status_code, response.text[:500])
    assert response.json()["error"]["code"] == "not_found", response.text


def test_the_web_process_recovers_after_postgresql_restarts(web):
    base, key, cluster = web
    for _ in range(3):  # the connection is kept between requests (CONN_MAX_AGE)
        assert_answered_from_the_database(ask_status(base, key))

    cluster.restart()
    assert_answered_from_the_database(ask_status(base, key))  # the first request after it

    cluster.stop()
    down = [ask_status(base, key) for _ in range(3)]
    for response in down:  # at once, and in the API's own error format
        assert response.status_code == 503, response.text[:500]
        assert response.json()["error"]["code"] == "unavailable"
        assert response.headers["Retry-After"] == "5"

    cluster.start()
    assert_answered_from_the_database(ask_status(base, key))
    assert_answered_from_the_database(ask_status(base, key))

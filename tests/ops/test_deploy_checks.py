"""Deploying by hand: the app says at start that `collectstatic` has not run (or is stale).

- `manage.py check` warns (agenwork.W001-W003) under DEBUG off, naming collectstatic; silent
  once it has run, and with DEBUG on.
- gunicorn runs no system checks: a real gunicorn started without collected static files logs
  the problem as one ERROR line when its worker boots.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.core.management import call_command

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
MANIFEST_STORAGE = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
START_SECONDS = 60


@pytest.fixture(scope="module")
def collected(tmp_path_factory) -> Path:
    """A STATIC_ROOT filled by a real `manage.py collectstatic`."""
    root = tmp_path_factory.mktemp("collected")
    env = {**os.environ, "STATIC_ROOT": str(root), "DEBUG": "false"}
    command = [sys.executable, "manage.py", "collectstatic", "--noinput", "--verbosity", "0"]
    subprocess.run(command, cwd=ROOT, env=env, check=True, capture_output=True, timeout=120)
    return root


@pytest.fixture
def production(settings):
    settings.DEBUG = False
    settings.STORAGES = MANIFEST_STORAGE
    return settings


def check_output() -> str:
    out, err = io.StringIO(), io.StringIO()
    call_command("check", stdout=out, stderr=err)
    return out.getvalue() + err.getvalue()


def test_check_names_collectstatic_when_it_has_not_run(production, tmp_path):
    production.STATIC_ROOT = str(tmp_path / "never-collected")

    output = check_output()

    assert "agenwork.W001" in output
    assert f"no {tmp_path / 'never-collected' / 'staticfiles.json'}" in output
    assert "python manage.py collectstatic --noinput" in output


def test_check_is_silent_once_collectstatic_has_run(production, collected):
    production.STATIC_ROOT = str(collected)

    assert "agenwork." not in check_output()


def test_check_is_silent_with_debug_on(production, tmp_path):
    production.STATIC_ROOT = str(tmp_path / "never-collected")
    production.DEBUG = True

    assert "agenwork." not in check_output()


def test_check_names_files_added_since_collectstatic(production, collected, tmp_path):
    (tmp_path / "css").mkdir()
    (tmp_path / "css" / "new-page.css").write_text("main { margin: 0; }\n")
    production.STATIC_ROOT = str(collected)
    production.STATICFILES_DIRS = [*production.STATICFILES_DIRS, str(tmp_path)]

    output = check_output()

    assert "agenwork.W003" in output
    assert "1 static files are newer than the last collectstatic (css/new-page.css)" in output
    assert "collectstatic --noinput" in output


def test_check_names_an_unreadable_manifest(production, tmp_path):
    (tmp_path / "staticfiles.json").write_text("{half a manifest")
    production.STATIC_ROOT = str(tmp_path)

    output = check_output()

    assert "agenwork.W002" in output and "is unreadable" in output


def test_gunicorn_logs_the_problem_when_its_worker_starts(tmp_path):
    env = {
        **os.environ,
        "DEBUG": "false",
        "LOG_FORMAT": "json",
        "STATIC_ROOT": str(tmp_path / "never-collected"),
    }
    log = tmp_path / "gunicorn.log"
    command = [str(BIN / "gunicorn"), "agenwork.wsgi", "--bind", "127.0.0.1:0", "--workers", "1"]
    with log.open("wb") as out:
        server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        line = _wait_for_line(log, "agenwork.W001", server)
    finally:
        server.terminate()
        server.wait(timeout=30)

    entry = json.loads(line)
    assert (entry["level"], entry["logger"], entry["check"]) == (
        "ERROR",
        "agenwork.deploy",
        "agenwork.W001",
    )
    assert "Static files are not collected" in entry["message"]
    assert "python manage.py collectstatic --noinput" in entry["message"]


def _wait_for_line(log: Path, text: str, server: subprocess.Popen) -> str:
    deadline = time.monotonic() + START_SECONDS
    while True:
        found = [line for line in log.read_text().splitlines() if text in line]
        if found:
            return found[0]
        assert server.poll() is None, f"gunicorn stopped:\n{log.read_text()}"
        assert time.monotonic() < deadline, f"no {text} after {START_SECONDS} s:\n{log.read_text()}"
        time.sleep(0.2)

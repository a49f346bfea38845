"""`make run`'s embedded set-up: its folders under VAR_DIR and a secret key kept in a file there.

- `python -m agenwork.embedded` (the first step of `make run`) creates the folders and, once, the
  key file: a random key, mode 0600, never overwritten. The web server, the worker, beat and any
  `manage.py` command started from the checkout then sign with one key, and encrypt with it
  (settings make it ENCRYPTION_KEY too): a webhook secret stored by `create_api_key` is one the
  worker can read.
- Settings read the file only when SECRET_KEY is unset and DATABASE_URL is too (the embedded
  SQLite under VAR_DIR): a real deployment without SECRET_KEY or ENCRYPTION_KEY still fails at
  start.
- It also gives the demo's MCP connectors their upstream servers (DESIGN.md §9): a small git
  repository, VAR_DIR/demo-repo (made once, then left to the agents that change it), and the ops
  file VAR_DIR/mcp_upstreams.json (rewritten each time: this interpreter may have moved) that
  starts `mcp_server_time` and `mcp_server_git --repository <demo-repo>` with this interpreter.
  Settings read that file as MCP_UPSTREAMS only when MCP_UPSTREAMS, MCP_UPSTREAMS_FILE and
  DATABASE_URL are all unset: a deployment configures its own upstreams, never this demo's.
- Django is not configured when settings import this module: only `main` reads settings.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from django.core.exceptions import ImproperlyConfigured

KEY_FILE_NAME = "secret_key"
FOLDERS = ("broker", "broker-processed", "broker-control", "mail", "cache")
UPSTREAMS_FILE_NAME = "mcp_upstreams.json"
DEMO_REPO_NAME = "demo-repo"
_DEMO_README = (
    "# Demo repository\n\n"
    "A small repository that agenwork's demo connector `repo` serves through mcp-server-git.\n"
    "Agents may read it; their commits wait for a Security approver.\n"
)
# The demo repository's history: (file, its text, the commit's message, its date), oldest first.
DEMO_COMMITS = (
    ("README.md", _DEMO_README, "Start the demo repository", "2026-01-05T09:00:00+00:00"),
    ("CHECKLIST.md",
     "# Release checklist\n\n- [ ] Changelog updated\n- [ ] Version bumped\n- [ ] Tag pushed\n",
     "Add the release checklist", "2026-01-06T14:30:00+00:00"),
    ("README.md", _DEMO_README + "\nSee CHECKLIST.md before a release.\n",
     "Point the README at the checklist", "2026-01-07T10:15:00+00:00"),
)  # fmt: skip


def read_secret_key(var_dir: Path) -> str:
    """The key `make run` keeps under `var_dir`, or "" when it has not made one there."""
    path = var_dir / KEY_FILE_NAME
    try:
        key = path.read_text().strip()
    except FileNotFoundError:
        return ""
    except OSError as exc:
        raise ImproperlyConfigured(f"{path} cannot be read: {exc}") from exc
    if not key:
        raise ImproperlyConfigured(f"{path} is empty: delete it and run `make run` again")
    return key


def create_secret_key(var_dir: Path) -> bool:
    """Write a new random key file readable by its owner only, unless one exists (True: written).

    - Written to a temporary name, then linked into place: a process starting meanwhile sees
      either no file or the whole key, and two of these never both win.
    """
    path = var_dir / KEY_FILE_NAME
    descriptor, draft = tempfile.mkstemp(prefix=f".{KEY_FILE_NAME}.", dir=var_dir)  # mode 0600
    try:
        with os.fdopen(descriptor, "w") as handle:
            handle.write(secrets.token_urlsafe(50) + "\n")
        os.link(draft, path)
    except FileExistsError:
        return False
    finally:
        os.unlink(draft)
    return True


def read_demo_upstreams(var_dir: Path) -> str:
    """The upstreams file `make run` keeps under `var_dir` (JSON text), or "" when there is none."""
    try:
        return (var_dir / UPSTREAMS_FILE_NAME).read_text()
    except FileNotFoundError:
        return ""
    except OSError as exc:
        raise ImproperlyConfigured(
            f"{var_dir / UPSTREAMS_FILE_NAME} cannot be read: {exc}"
        ) from exc


def _git(folder: Path, *args: str, date: str = "") -> None:
    """Run git in `folder`, deaf to the user's and the system's git configuration."""
    env = {
        **os.environ,
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": "Ben Kim",
        "GIT_AUTHOR_EMAIL": "ben@example.com",
        "GIT_COMMITTER_NAME": "Ben Kim",
        "GIT_COMMITTER_EMAIL": "ben@example.com",
    }
    if date:
        env["GIT_AUTHOR_DATE"] = env["GIT_COMMITTER_DATE"] = date
    git = shutil.which("git") or "git"
    subprocess.run([git, *args], cwd=folder, env=env, check=True, capture_output=True)  # noqa: S603 (fixed arguments)


def create_demo_repository(path: Path) -> bool:
    """The demo's git repository at `path`, made unless one is there (True: made now).

    - Built under a temporary name beside it, then renamed into place: a repository half made by
      an interrupted run is never taken for the demo's.
    - Its commits have fixed authors and dates: every checkout's demo shows the same history.
    """
    if (path / ".git").is_dir():
        return False
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise ImproperlyConfigured(f"{path} is not a git repository: move it away and run again")
    path.parent.mkdir(parents=True, exist_ok=True)
    draft = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        _git(draft, "init", "--quiet", "--initial-branch=main")
        for name, text, message, date in DEMO_COMMITS:
            (draft / name).write_text(text)
            _git(draft, "add", name)
            _git(draft, "commit", "--quiet", "--message", message, date=date)
        draft.rename(path)
    except OSError:
        if (path / ".git").is_dir():  # another run won
            return False
        raise
    finally:
        shutil.rmtree(draft, ignore_errors=True)
    return True


def demo_upstreams(var_dir: Path, python: str) -> dict[str, Any]:
    """MCP_UPSTREAMS for the demo: the time server, and the git server over the demo repository."""
    repository = var_dir / DEMO_REPO_NAME
    return {
        "time": {"command": python, "args": ["-m", "mcp_server_time"]},
        "repo": {
            "command": python,
            "args": ["-m", "mcp_server_git", "--repository", str(repository)],
        },
    }


def write_demo_upstreams(var_dir: Path, python: str) -> dict[str, Any]:
    """Write the demo's upstreams file (replaced whole, never seen half written); what it holds.

    - Without git on the machine there is no demo repository, and `repo` has no upstream.
    """
    upstreams = demo_upstreams(var_dir, python)
    if shutil.which("git") is None:
        del upstreams["repo"]
    else:
        create_demo_repository(var_dir / DEMO_REPO_NAME)
    descriptor, draft = tempfile.mkstemp(prefix=f".{UPSTREAMS_FILE_NAME}.", dir=var_dir)
    with os.fdopen(descriptor, "w") as handle:
        json.dump(upstreams, handle, indent=2)
    os.replace(draft, var_dir / UPSTREAMS_FILE_NAME)
    return upstreams


def prepare(var_dir: Path) -> None:
    """The folders of the SQLite file, the filesystem broker, mail files and the cache; the key."""
    for name in FOLDERS:
        (var_dir / name).mkdir(parents=True, exist_ok=True)
    create_secret_key(var_dir)


def main() -> None:
    """Prepare settings' VAR_DIR (AGENWORK_VAR_DIR, else var/ in the checkout) and its upstreams."""
    from django.conf import settings

    prepare(settings.VAR_DIR)
    upstreams = write_demo_upstreams(settings.VAR_DIR, sys.executable)
    if "repo" in upstreams:
        print(f"The demo connector repo serves the git repository {upstreams['repo']['args'][-1]}")
    else:
        print("git is not installed: the demo connector repo has no upstream MCP server.")


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "agenwork.settings")
    main()

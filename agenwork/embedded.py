"""`make run`'s embedded set-up: its folders under VAR_DIR and a secret key kept in a file there.

- `python -m agenwork.embedded` (the first step of `make run`) creates the folders and, once, the
  key file: a random key, mode 0600, never overwritten. The web server, the worker, beat and any
  `manage.py` command started from the checkout then sign with one key, and encrypt with it
  (settings make it ENCRYPTION_KEY too): a webhook secret stored by `create_api_key` is one the
  worker can read.
- Settings read the file only when SECRET_KEY is unset and DATABASE_URL is too (the embedded
  SQLite under VAR_DIR): a real deployment without SECRET_KEY or ENCRYPTION_KEY still fails at
  start.
- Django is not configured when settings import this module: only `main` reads settings.
"""

from __future__ import annotations

import os
import secrets
import tempfile
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

KEY_FILE_NAME = "secret_key"
FOLDERS = ("broker", "broker-processed", "broker-control", "mail", "cache")


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


def prepare(var_dir: Path) -> None:
    """The folders of the SQLite file, the filesystem broker, mail files and the cache; the key."""
    for name in FOLDERS:
        (var_dir / name).mkdir(parents=True, exist_ok=True)
    create_secret_key(var_dir)


def main() -> None:
    """Prepare settings' VAR_DIR (AGENWORK_VAR_DIR, else var/ in the checkout)."""
    from django.conf import settings

    prepare(settings.VAR_DIR)


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "agenwork.settings")
    main()

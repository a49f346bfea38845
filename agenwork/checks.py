"""System checks for a deployment by hand: what would make every page fail before it does.

- With DEBUG off, pages link static files by the hashed names in the manifest that
  `collectstatic` writes; without it (or with files it does not list) a page is a 500.
- `manage.py check`, `migrate` and `runserver` show these; gunicorn runs no system checks, so
  `agenwork.wsgi` logs them as errors when a web worker starts.
- `check --deploy` also warns when ENCRYPTION_KEY is SECRET_KEY: then neither rotates alone.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from django.apps import apps
from django.conf import settings
from django.contrib.staticfiles import finders
from django.contrib.staticfiles.storage import ManifestFilesMixin, staticfiles_storage
from django.core.checks import CheckMessage, Tags, register
from django.core.checks import Warning as CheckWarning

logger = logging.getLogger("agenwork.deploy")

COLLECT = "Run `python manage.py collectstatic --noinput` (the Docker image runs it when built)."
SHOWN_MISSING = 3


@register()
def static_files_collected(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """A warning naming `collectstatic` when its manifest is missing, unreadable or stale."""
    if settings.DEBUG:
        return []
    manifest = os.path.join(settings.STATIC_ROOT, ManifestFilesMixin.manifest_name)
    try:  # the storage reads its manifest when it is first used
        if not isinstance(staticfiles_storage, ManifestFilesMixin):
            return []
        listed = staticfiles_storage.load_manifest()[0]
    except ValueError:
        return [_warning("agenwork.W002", f"The static files manifest {manifest} is unreadable")]
    if not listed:
        return [_warning("agenwork.W001", f"Static files are not collected: no {manifest}")]
    missing = sorted(set(_source_files()) - set(listed))
    if missing:
        names = ", ".join(missing[:SHOWN_MISSING]) + (", …" if len(missing) > SHOWN_MISSING else "")
        problem = f"{len(missing)} static files are newer than the last collectstatic ({names})"
        return [_warning("agenwork.W003", problem)]
    return []


@register(Tags.security, deploy=True)
def encryption_key_of_its_own(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """A warning when the stored secrets are encrypted with the signing key."""
    if settings.ENCRYPTION_KEY != settings.SECRET_KEY:
        return []
    hint = (
        "Set a new ENCRYPTION_KEY, put the current one in ENCRYPTION_OLD_KEYS and run "
        "`python manage.py reencrypt_secrets`."
    )
    problem = "ENCRYPTION_KEY is SECRET_KEY: rotating either would make stored secrets unreadable."
    return [CheckWarning(problem, hint=hint, id="agenwork.W004")]


def _warning(check_id: str, problem: str) -> CheckWarning:
    message = f"{problem}, so with DEBUG off the pages that use them fail (500)."
    return CheckWarning(message, hint=COLLECT, id=check_id)


def _source_files() -> list[str]:
    """The names `collectstatic` would collect, as the manifest spells them."""
    ignore = apps.get_app_config("staticfiles").ignore_patterns
    names = []
    for finder in finders.get_finders():
        for path, storage in finder.list(ignore):
            prefix = getattr(storage, "prefix", None)
            names.append((os.path.join(prefix, path) if prefix else path).replace(os.sep, "/"))
    return names


def log_problems_at_start() -> None:
    """Each deployment problem as one ERROR line in the web process's log."""
    for message in static_files_collected():
        logger.error("%s %s", message.msg, message.hint, extra={"check": message.id})

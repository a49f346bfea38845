"""Each pytest-xdist worker gets Redis databases of its own (`make test` runs two workers).

pytest-django already gives each worker its own PostgreSQL database (test_<name>_gw0, ...).
Redis is shared by number, so worker N (gwN) uses:
- REDIS_URL's db + N for the cache and the Celery broker, and
- INTEGRATION_REDIS_DB + N for tests/integration's worker broker (default 9; moved above the
  cache dbs when there are enough workers to reach it).
Servers that tests start themselves (SMTP, Twilio, webhooks, a private redis-server, live_server)
listen on ports the kernel picks, so workers do not meet there.
"""

from __future__ import annotations

import os
from urllib.parse import urlsplit, urlunsplit

DEFAULT_INTEGRATION_DB = 9


def worker_number() -> int:
    """0 for gw0 or for a run without xdist, N for gwN."""
    name = os.environ.get("PYTEST_XDIST_WORKER", "")
    return int(name[2:]) if name.startswith("gw") else 0


def worker_count() -> int:
    return int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))


def _with_db(url: str, number: int) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{number}"))


def _db_of(url: str) -> int:
    path = urlsplit(url).path.strip("/")
    return int(path) if path.isdigit() else 0


def pin_redis_databases() -> None:
    """Point this worker's environment and Django settings at its own Redis dbs."""
    from django.conf import settings

    number, count = worker_number(), worker_count()
    base_url = os.environ.get("REDIS_URL") or ""
    cache_base = _db_of(base_url) if base_url else 0
    integration_base = int(os.environ.get("INTEGRATION_REDIS_DB", DEFAULT_INTEGRATION_DB))
    if count > 1 and integration_base < cache_base + count:
        integration_base = max(integration_base, cache_base + count)
    os.environ["INTEGRATION_REDIS_DB"] = str(integration_base + number)
    if not base_url or number == 0:
        return
    url = _with_db(base_url, cache_base + number)
    os.environ["REDIS_URL"] = url
    settings.REDIS_URL = url
    if settings.CACHES["default"].get("LOCATION") == base_url:
        settings.CACHES = {"default": {**settings.CACHES["default"], "LOCATION": url}}
    if os.environ.get("CELERY_BROKER_URL") == base_url:
        os.environ["CELERY_BROKER_URL"] = url
    if base_url == settings.CELERY_BROKER_URL:
        settings.CELERY_BROKER_URL = url
        from agenwork.celery import app

        if app.configured:  # read the settings already: its own copy changes too
            app.conf.update(CELERY_BROKER_URL=url)

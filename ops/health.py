"""What /healthz reports: the database, the broker, the worker's heartbeat, the sweep's lag.

- Each check returns a small dict with a `state` of "ok" or "failing" and what it measured.
- The worker's heartbeat is the end of its last sweep (beat's only schedule, run by a worker).
- The sweep's lag is how long the oldest due deadline of a pending request has waited.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import redis
from django.conf import settings
from django.db import connection
from django.utils import timezone
from kombu import Connection

from agenwork.heartbeat import SWEEP, heartbeat_last
from requests_app.models import AccessRequest
from requests_app.sweep import DEADLINES

BROKER_TIMEOUT_SECONDS = 1.0
MAX_SWEEP_LAG_SECONDS = 300

Check = dict[str, Any]


def max_heartbeat_age() -> int:
    """A worker is missing when no sweep ended for ten intervals (two minutes at least)."""
    interval = settings.CELERY_BEAT_SCHEDULE["sweep"]["schedule"]
    return max(120, 10 * int(interval))


def check_database() -> Check:
    """One round trip to the database."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:
        return _failing(exc)
    return {"state": "ok"}


def check_broker(url: str | None = None) -> Check:
    """A ping with a short timeout; the filesystem broker of `make run` is always there."""
    url = url or settings.CELERY_BROKER_URL
    try:
        if url.startswith("filesystem://"):
            return {"state": "ok", "transport": "filesystem"}
        if url.startswith(("redis://", "rediss://")):
            client = redis.Redis.from_url(
                url,
                socket_connect_timeout=BROKER_TIMEOUT_SECONDS,
                socket_timeout=BROKER_TIMEOUT_SECONDS,
            )
            with client:
                client.ping()
            return {"state": "ok", "transport": "redis"}
        with Connection(url, connect_timeout=BROKER_TIMEOUT_SECONDS) as broker:
            broker.ensure_connection(max_retries=1)
        return {"state": "ok", "transport": url.split(":", 1)[0]}
    except Exception as exc:
        return _failing(exc)


def check_worker(now: datetime) -> Check:
    """The last sweep a worker finished, and whether it is recent enough."""
    last = heartbeat_last(name=SWEEP)
    if last is None:
        return {"state": "failing", "error": "no worker has finished a sweep yet"}
    age = (now - last).total_seconds()
    check: Check = {"state": "ok", "last_sweep_at": last.isoformat(), "age_seconds": round(age)}
    if age > max_heartbeat_age():
        check.update(state="failing", error=f"no sweep finished for {round(age)} s")
    return check


def check_sweep_lag(now: datetime) -> Check:
    """How long the oldest due deadline of a pending request has been waiting."""
    pending = AccessRequest.objects.filter(status=AccessRequest.Status.PENDING)
    oldest: datetime | None = None
    for _kind, column in DEADLINES:
        due = pending.filter(**{f"{column}__lte": now}).order_by(column)
        first = due.values_list(column, flat=True).first()
        if first is not None and (oldest is None or first < oldest):
            oldest = first
    lag = (now - oldest).total_seconds() if oldest else 0.0
    check: Check = {"state": "ok", "seconds": round(lag)}
    if oldest is not None:
        check["oldest_due_at"] = oldest.isoformat()
    if lag > MAX_SWEEP_LAG_SECONDS:
        check.update(state="failing", error=f"a deadline has waited {round(lag)} s")
    return check


def health_report(now: datetime | None = None) -> dict[str, Any]:
    """Every check; the database ones are skipped (failing) when the database is down."""
    now = now or timezone.now()
    checks = {"database": check_database(), "broker": check_broker()}
    if checks["database"]["state"] == "ok":
        checks["worker"] = _guarded(check_worker, now)
        checks["sweep_lag"] = _guarded(check_sweep_lag, now)
    else:
        unknown = {"state": "failing", "error": "the database is unreachable"}
        checks["worker"], checks["sweep_lag"] = dict(unknown), dict(unknown)
    failing = [name for name, check in checks.items() if check["state"] != "ok"]
    return {
        "status": "failing" if failing else "ok",
        "failing": failing,
        "time": now.isoformat(),
        "checks": checks,
    }


def _guarded(check: Any, now: datetime) -> Check:
    try:
        return check(now)
    except Exception as exc:
        return _failing(exc)


def _failing(exc: Exception) -> Check:
    reason = " ".join(str(exc).split()) or type(exc).__name__
    return {"state": "failing", "error": f"{type(exc).__name__}: {reason}"[:300]}

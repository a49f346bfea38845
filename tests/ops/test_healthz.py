"""/healthz: database, broker, the worker's heartbeat and the sweep's lag; 200 or 503."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import DatabaseError
from django.utils import timezone

from agenwork.heartbeat import SWEEP, heartbeat_mark
from ops import health
from requests_app.models import AccessRequest
from requests_app.tasks import sweep
from tests.support.ports import free_port


@pytest.fixture
def healthy(db, settings):
    """A broker that answers (the filesystem one) and a sweep that ended a moment ago."""
    settings.CELERY_BROKER_URL = "filesystem://"
    heartbeat_mark(name=SWEEP)


def test_healthy_is_200_with_every_part_ok(client, healthy, django_assert_max_num_queries):
    with django_assert_max_num_queries(5):
        response = client.get("/healthz")

    body = response.json()
    assert response.status_code == 200
    assert body["status"] == "ok" and body["failing"] == []
    assert {name: check["state"] for name, check in body["checks"].items()} == {
        "database": "ok",
        "broker": "ok",
        "worker": "ok",
        "sweep_lag": "ok",
    }
    assert "no-cache" in response.headers["Cache-Control"]
    assert "no-store" in response.headers["Cache-Control"]


def test_needs_no_login_and_answers_any_host_over_plain_http(client, healthy, settings):
    settings.SECURE_SSL_REDIRECT = True
    settings.ALLOWED_HOSTS = ["agenwork.example.com"]

    response = client.get("/healthz", HTTP_HOST="10.1.2.3:8000")

    assert response.status_code == 200


def test_only_get_and_head(client, healthy):
    assert client.head("/healthz").status_code == 200
    response = client.post("/healthz")

    assert response.status_code == 405
    assert response.headers["Allow"] == "GET, HEAD"


def test_redis_broker_answering_is_ok(client, healthy, settings):
    settings.CELERY_BROKER_URL = settings.REDIS_URL or "redis://127.0.0.1:6379/14"

    assert client.get("/healthz").json()["checks"]["broker"] == {
        "state": "ok",
        "transport": "redis",
    }


def test_broker_on_a_closed_port_is_503_naming_the_broker(client, healthy, settings):
    settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{free_port()}/0"

    response = client.get("/healthz")

    body = response.json()
    assert response.status_code == 503
    assert body["failing"] == ["broker"]
    assert "ConnectionError" in body["checks"]["broker"]["error"]


def test_an_old_heartbeat_is_503_naming_the_worker(client, healthy):
    heartbeat_mark(name=SWEEP, at=timezone.now() - timedelta(hours=1))

    response = client.get("/healthz")

    body = response.json()
    assert response.status_code == 503
    assert body["failing"] == ["worker"]
    assert body["checks"]["worker"]["age_seconds"] >= 3600


def test_no_sweep_ever_is_503_naming_the_worker(client, db, settings):
    settings.CELERY_BROKER_URL = "filesystem://"

    response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json()["checks"]["worker"]["error"] == "no worker has finished a sweep yet"


def test_the_sweep_task_is_the_workers_heartbeat(client, db, settings):
    settings.CELERY_BROKER_URL = "filesystem://"

    sweep.apply()  # inline, as a worker runs it

    assert client.get("/healthz").json()["checks"]["worker"]["state"] == "ok"


def test_a_deadline_overdue_for_long_is_503_naming_the_sweep_lag(client, healthy, access_request):
    overdue = timezone.now() - timedelta(minutes=30)
    AccessRequest.objects.filter(pk=access_request.pk).update(timeout_at=overdue)

    response = client.get("/healthz")

    body = response.json()
    assert response.status_code == 503
    assert body["failing"] == ["sweep_lag"]
    assert body["checks"]["sweep_lag"]["seconds"] >= 1800


def test_a_deadline_just_due_is_fine(client, healthy, access_request):
    AccessRequest.objects.filter(pk=access_request.pk).update(
        next_reminder_at=timezone.now() - timedelta(seconds=20)
    )

    check = client.get("/healthz").json()["checks"]["sweep_lag"]

    assert check["state"] == "ok" and 20 <= check["seconds"] < 60


def test_a_database_that_fails_is_503_naming_it(client, healthy, monkeypatch):
    def broken() -> dict:
        return health._failing(DatabaseError("connection refused"))

    monkeypatch.setattr(health, "check_database", broken)

    response = client.get("/healthz")

    body = response.json()
    assert response.status_code == 503
    assert body["failing"] == ["database", "worker", "sweep_lag"]
    assert "connection refused" in body["checks"]["database"]["error"]


def test_database_check_reports_a_failing_query(db, monkeypatch):
    class BrokenCursor:
        def __enter__(self):
            raise DatabaseError("server closed the connection")

        def __exit__(self, *exc):
            return False

    with monkeypatch.context() as patch:
        patch.setattr(health.connection, "cursor", lambda: BrokenCursor())
        check = health.check_database()

    assert check["state"] == "failing"
    assert "server closed the connection" in check["error"]

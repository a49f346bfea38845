"""JSON log lines carrying the request id, from the web request into the tasks it causes."""

from __future__ import annotations

import io
import json
import logging
import sys
import warnings

import pytest
from celery import shared_task
from celery.exceptions import AlwaysEagerIgnored
from django.test import Client

from agenwork import logs
from agenwork.celery import app

logger = logging.getLogger("agenwork.tests.ops")


@shared_task
def log_something() -> str:
    """A task that logs one line and returns the request id it ran under."""
    logger.info("task ran")
    return logs.request_id.get()


@pytest.fixture
def lines():
    """Records of `agenwork.tests.ops` formatted as in production, one JSON object each."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.JsonFormatter())
    handler.addFilter(logs.RequestIdFilter())
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    logger.removeHandler(handler)


def test_a_line_is_one_json_object_with_the_fields_and_extras(lines):
    token = logs.request_id.set("req-12345678")
    try:
        logger.warning("sent %s messages", 3, extra={"notification_id": 42})
    finally:
        logs.request_id.reset(token)

    (line,) = lines()
    assert line["level"] == "WARNING"
    assert line["logger"] == "agenwork.tests.ops"
    assert line["message"] == "sent 3 messages"
    assert line["request_id"] == "req-12345678"
    assert line["notification_id"] == 42
    assert line["time"].endswith("+00:00")


def test_an_exception_is_kept_in_the_line(lines):
    try:
        raise ValueError("boom")
    except ValueError:
        logger.exception("failed")

    (line,) = lines()
    assert "ValueError: boom" in line["exception"]


def test_a_sane_incoming_request_id_is_kept_and_returned(admin_client):
    response = admin_client.get("/", HTTP_X_REQUEST_ID="gateway-abc-123456")

    assert response.headers["X-Request-ID"] == "gateway-abc-123456"


@pytest.mark.parametrize(
    "incoming", ["", "short", "has spaces in it", "<script>x</script>", "a" * 200]
)
def test_an_insane_or_missing_request_id_is_replaced(client, incoming):
    response = client.get("/accounts/login/", HTTP_X_REQUEST_ID=incoming)

    generated = response.headers["X-Request-ID"]
    assert generated != incoming
    assert len(generated) == 32 and generated.isalnum()


def test_each_request_gets_its_own_id(client):
    first = client.get("/accounts/login/").headers["X-Request-ID"]
    second = client.get("/accounts/login/").headers["X-Request-ID"]

    assert first != second


def test_logs_during_a_request_carry_its_id(client, lines, monkeypatch):
    from django.contrib.auth import views as auth_views

    original = auth_views.LoginView.get

    def logging_get(self, request, *args, **kwargs):
        logger.info("rendering login")
        return original(self, request, *args, **kwargs)

    monkeypatch.setattr(auth_views.LoginView, "get", logging_get)

    response = client.get("/accounts/login/", HTTP_X_REQUEST_ID="trace-0000-1111")

    assert response.headers["X-Request-ID"] == "trace-0000-1111"
    assert [line["request_id"] for line in lines()] == ["trace-0000-1111"]


def test_a_published_task_carries_the_request_id_in_its_headers():
    published: list[dict] = []

    def capture(headers=None, **kwargs):
        published.append(dict(headers or {}))

    from celery.signals import before_task_publish

    before_task_publish.connect(capture, weak=False)
    token = logs.request_id.set("req-publish-0001")
    try:
        with app.connection_for_write("memory://") as connection, warnings.catch_warnings():
            # send_task publishes even where an earlier test left tasks eager
            warnings.simplefilter("ignore", AlwaysEagerIgnored)
            app.send_task(log_something.name, connection=connection)
    finally:
        logs.request_id.reset(token)
        before_task_publish.disconnect(capture)

    assert published[0][logs.TASK_HEADER] == "req-publish-0001"


def test_the_worker_restores_the_id_the_message_carried(lines):
    result = log_something.apply(headers={logs.TASK_HEADER: "req-from-web-0002"})

    assert result.result == "req-from-web-0002"
    assert lines()[0]["request_id"] == "req-from-web-0002"
    assert logs.request_id.get() == ""


def test_a_task_without_an_id_gets_a_fresh_one(lines):
    result = log_something.apply()

    assert len(result.result) == 32
    assert lines()[0]["request_id"] == result.result


def test_an_eager_task_keeps_the_callers_id(lines):
    token = logs.request_id.set("req-eager-000003")
    try:
        result = log_something.apply()
        after = logs.request_id.get()
    finally:
        logs.request_id.reset(token)

    assert result.result == "req-eager-000003"
    assert after == "req-eager-000003"


# --- refusals: one line each, no traceback -------------------------------------------------------


@pytest.fixture
def written():
    """What every log handler of the process (pytest's own aside) writes for `django.request`."""
    streams: list[tuple[logging.StreamHandler, io.StringIO, object]] = []
    node: logging.Logger | None = logging.getLogger("django.request")
    while node is not None:
        for handler in node.handlers:
            ours = not type(handler).__module__.startswith("_pytest")
            if ours and isinstance(handler, logging.StreamHandler):
                stream = io.StringIO()
                streams.append((handler, stream, handler.setStream(stream)))
        node = node.parent if node.propagate else None
    assert streams, "no log handler is configured"
    yield lambda: [line for _, s, _ in streams for line in s.getvalue().splitlines() if line]
    for handler, _, previous in streams:
        handler.setStream(previous)


@pytest.mark.parametrize("debug", [False, True], ids=["production", "make run (DEBUG)"])
def test_a_403_is_logged_once_as_one_line_without_a_traceback(
    client, outsider_user, settings, written, debug
):
    settings.DEBUG = debug
    client.force_login(outsider_user)

    assert client.get("/policies/").status_code == 403

    (line,) = written()
    entry = json.loads(line)
    assert entry["level"] == "WARNING"
    assert entry["logger"] == "django.request"
    assert entry["message"] == "Forbidden (Permission denied): /policies/"
    assert entry["status_code"] == 403
    assert entry["reason"] == "Only admins can see and change policies."
    assert "exception" not in entry


@pytest.mark.parametrize("debug", [False, True], ids=["production", "make run (DEBUG)"])
def test_a_csrf_refusal_is_logged_once_as_one_line(admin_user, settings, written, debug):
    settings.DEBUG = debug
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_user)

    assert client.post("/policies/new/", {"name": "x"}).status_code == 403

    (line,) = written()
    entry = json.loads(line)
    assert (entry["level"], entry["logger"], entry["status_code"]) == (
        "WARNING",
        "django.security.csrf",
        403,
    )
    assert entry["message"].startswith("Forbidden (CSRF cookie not set.)")
    assert "exception" not in entry


def test_a_server_error_keeps_its_traceback():
    refusal, failure = (_record(status) for status in (403, 500))

    logs.ClientErrorFilter().filter(refusal)
    logs.ClientErrorFilter().filter(failure)

    assert refusal.exc_info is None and refusal.reason == "boom"
    assert failure.exc_info is not None and "ValueError: boom" in logs.JsonFormatter().format(
        failure
    )


def _record(status: int) -> logging.LogRecord:
    try:
        raise ValueError("boom")
    except ValueError:
        exc_info = sys.exc_info()
    record = logging.LogRecord("django.request", logging.WARNING, "", 0, "x", (), exc_info)
    record.status_code = status
    return record

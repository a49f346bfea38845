"""Structured logs: one JSON object per line, each carrying the request id that caused it.

- The id comes from a sane incoming `X-Request-ID` header or is generated; it is returned in the
  response header and held in a contextvar for the duration of the request.
- Celery tasks published while it is set carry it in their message headers; the worker restores
  it before the task runs, so a request and the tasks it caused share one id in the logs.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from django.http import HttpRequest, HttpResponse

HEADER = "X-Request-ID"
TASK_HEADER = "agenwork_request_id"
SANE_ID = re.compile(r"^[A-Za-z0-9._:-]{8,128}$")

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="")

# Attributes every LogRecord has; anything else was passed with `extra=` and is logged too.
STANDARD_ATTRIBUTES = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", (), None)).keys() | {"message", "asctime"}
)


def incoming_or_new(value: str | None) -> str:
    """The caller's id when it is sane (short, no spaces or markup), else a fresh one."""
    if value and SANE_ID.match(value):
        return value
    return uuid.uuid4().hex


class RequestIdMiddleware:
    """Hold the request id in a contextvar while the request runs; echo it in the response."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        current = incoming_or_new(request.headers.get(HEADER))
        token = request_id.set(current)
        try:
            response = self.get_response(request)
        finally:
            request_id.reset(token)
        response[HEADER] = current
        return response


class RequestIdFilter(logging.Filter):
    """Put the current request id on every record (empty outside a request or task)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "request_id", ""):
            record.request_id = request_id.get()
        return True


class ClientErrorFilter(logging.Filter):
    """A 4xx answer logged by Django is one line: its reason instead of a traceback.

    - `django.request` logs a PermissionDenied (403) or BadRequest (400), and `django.security.*`
      a SuspiciousOperation, with the exception's traceback: noise for a refusal that is the
      client's doing. The exception's message is kept as `reason`; 5xx keep their traceback.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        status = getattr(record, "status_code", None)
        if isinstance(status, int) and 400 <= status < 500 and record.exc_info:
            record.reason = str(record.exc_info[1])
            record.exc_info = None
            record.exc_text = None
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request_id, then extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", "") or request_id.get(),
        }
        for key, value in vars(record).items():
            if key not in STANDARD_ATTRIBUTES and key not in entry:
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


# --- Celery: the id travels in the task message's headers -------------------------------------


def put_request_id_in_headers(headers: dict[str, Any] | None = None, **_: Any) -> None:
    """`before_task_publish`: copy the current request id into the outgoing message."""
    current = request_id.get()
    if current and headers is not None:
        headers[TASK_HEADER] = current


def restore_request_id(task: Any = None, **_: Any) -> None:
    """`task_prerun`: the id the message carried for the task's logs.

    - Without one, an eager task (run inline by its caller) keeps the caller's id; a task on a
      worker gets a fresh one.
    """
    if task is None:
        return
    carried = getattr(task.request, TASK_HEADER, None)
    if carried is None:
        carried = (getattr(task.request, "headers", None) or {}).get(TASK_HEADER)
    if carried is None and getattr(task.request, "is_eager", False):
        carried = request_id.get() or None
    task.request.agenwork_request_id_token = request_id.set(incoming_or_new(carried))


def forget_request_id(task: Any = None, **_: Any) -> None:
    """`task_postrun`: back to the id from before the task (none on a worker)."""
    token = getattr(task.request, "agenwork_request_id_token", None) if task else None
    if token is not None:
        request_id.reset(token)

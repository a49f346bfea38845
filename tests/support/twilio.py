"""A local HTTP server that answers the Twilio Messages API like Twilio, for the real SDK.

Use the `twilio_server` fixture (import it into a conftest): it starts the server and sets the
TWILIO_* settings so that `twilio.rest.Client` talks to it. Accepted messages are in
`twilio_server.messages` (the form fields: To, From, Body, StatusCallback…); queue error
answers with `twilio_server.fail_next(...)`. `twilio_signature()` signs callbacks to the app.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import pytest
from twilio.request_validator import RequestValidator

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "twilio-test-auth-token"
FROM_NUMBER = "+15005550006"
MESSAGES_PATH = re.compile(r"^/2010-04-01/Accounts/(?P<sid>[^/]+)/Messages\.json$")


def twilio_signature(url: str, params: Mapping[str, str], auth_token: str = AUTH_TOKEN) -> str:
    """The X-Twilio-Signature Twilio would send for a POST of `params` to `url`."""
    return RequestValidator(auth_token).compute_signature(url, dict(params))


def twilio_error(code: int, message: str, status: int = 400) -> dict[str, Any]:
    """An error body as Twilio's REST API returns it."""
    return {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }


@dataclass
class Reply:
    """A canned answer: HTTP status and JSON body."""

    status: int
    body: dict[str, Any]


class _Handler(BaseHTTPRequestHandler):
    server: _HttpServer

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
        reply = self.server.stand_in.answer(self.path, self.headers.get("Authorization", ""), form)
        body = json.dumps(reply.body).encode()
        self.send_response(reply.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Keep test output quiet."""


class _HttpServer(ThreadingHTTPServer):
    daemon_threads = True
    stand_in: TwilioServer


class TwilioServer:
    """A running Twilio stand-in: accepts messages, or answers with queued error replies."""

    account_sid = ACCOUNT_SID
    auth_token = AUTH_TOKEN
    from_number = FROM_NUMBER

    def __init__(self) -> None:
        self.messages: list[dict[str, str]] = []
        self.requests: list[dict[str, str]] = []
        self.replies: list[Reply] = []
        self._lock = threading.Lock()
        self._http = _HttpServer(("127.0.0.1", 0), _Handler)
        self._http.stand_in = self

    @property
    def base_url(self) -> str:
        host, port = self._http.server_address[:2]
        return f"http://{host}:{port}"

    def fail_next(self, status: int, code: int | None = None, message: str = "Error") -> None:
        """Answer the next Messages request with this error (code defaults to the status)."""
        self.replies.append(Reply(status, twilio_error(code or status, message, status)))

    def answer(self, path: str, authorization: str, form: dict[str, str]) -> Reply:
        """What Twilio would answer to a POST on `path` with this form."""
        with self._lock:
            self.requests.append({"path": path, **form})
            match = MESSAGES_PATH.match(path)
            if not match:
                return Reply(404, twilio_error(20404, "The requested resource was not found", 404))
            if not self._authorized(match["sid"], authorization):
                return Reply(401, twilio_error(20003, "Authenticate", 401))
            if self.replies:
                return self.replies.pop(0)
            message = self._message(form)
            self.messages.append(form)
            return Reply(201, message)

    def _authorized(self, sid: str, authorization: str) -> bool:
        expected = base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        return sid == self.account_sid and authorization == f"Basic {expected}"

    def _message(self, form: dict[str, str]) -> dict[str, Any]:
        sid = "SM" + uuid.uuid4().hex
        return {
            "sid": sid,
            "account_sid": self.account_sid,
            "to": form.get("To"),
            "from": form.get("From"),
            "body": form.get("Body"),
            "status": "queued",
            "num_segments": "1",
            "direction": "outbound-api",
            "api_version": "2010-04-01",
            "error_code": None,
            "error_message": None,
            "uri": f"/2010-04-01/Accounts/{self.account_sid}/Messages/{sid}.json",
        }

    def configure(self, settings: Any) -> None:
        """Set the TWILIO_* settings to this stand-in (`settings`: pytest-django's fixture)."""
        settings.TWILIO_ACCOUNT_SID = self.account_sid
        settings.TWILIO_AUTH_TOKEN = self.auth_token
        settings.TWILIO_FROM_NUMBER = self.from_number
        settings.TWILIO_API_BASE_URL = self.base_url


@contextmanager
def running_twilio_server() -> Iterator[TwilioServer]:
    """Start a TwilioServer for the duration of the block."""
    server = TwilioServer()
    thread = threading.Thread(target=server._http.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server._http.shutdown()
        server._http.server_close()
        thread.join()


@pytest.fixture
def twilio_server(settings) -> Iterator[TwilioServer]:
    """A Twilio stand-in for this test, with the TWILIO_* settings pointing at it."""
    with running_twilio_server() as server:
        server.configure(settings)
        yield server

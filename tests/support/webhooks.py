"""A gateway's webhook endpoint on 127.0.0.1: a real HTTP server that verifies signatures.

Use the `receiver` fixture (import it into a test module or conftest); set `receiver.secret` to
the key's webhook secret, read `receiver.hits`, set `receiver.status` to answer something else.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from requests_app.webhooks import SIGNATURE_HEADER, verify


@dataclass
class Hit:
    """One POST the receiver got."""

    path: str
    headers: dict[str, str]
    body: bytes
    verified: bool


@dataclass
class Receiver:
    """A gateway's webhook endpoint: verifies signatures, records hits, answers `status`."""

    server: ThreadingHTTPServer
    secret: str = ""
    status: int = 200
    hits: list[Hit] = field(default_factory=list)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/hooks/agenwork"


def _handler(receiver_ref: list[Receiver]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            receiver = receiver_ref[0]
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            header = self.headers.get(SIGNATURE_HEADER, "")
            receiver.hits.append(
                Hit(
                    path=self.path,
                    headers=dict(self.headers.items()),
                    body=body,
                    verified=verify(receiver.secret, body, header),
                )
            )
            self.send_response(receiver.status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    ref: list[Receiver] = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(ref))
    ref.append(Receiver(server=server))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield ref[0]
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)

"""A real SMTP server (aiosmtpd) on 127.0.0.1 and a random port that keeps what it receives.

Use the `smtp_server` fixture (import it into a conftest): it starts the server and points
Django's SMTP backend at it for the test. Refuse a recipient with `smtp_server.refuse(...)`,
every message with `smtp_server.refuse_data(...)`.
"""

from __future__ import annotations

import email
import email.policy
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller


@dataclass
class ReceivedMail:
    """One message as the SMTP server got it: the envelope and the parsed message."""

    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage

    @property
    def text(self) -> str:
        """The text/plain part."""
        part = self.message.get_body(preferencelist=("plain",))
        return part.get_content() if part else ""

    @property
    def html(self) -> str:
        """The text/html part ("" when there is none)."""
        part = self.message.get_body(preferencelist=("html",))
        return part.get_content() if part else ""


class _Handler:
    def __init__(self, server: SmtpServer) -> None:
        self.server = server

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options) -> str:
        reply = self.server.rcpt_replies.get(address.lower())
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope) -> str:
        if self.server.data_reply:
            return self.server.data_reply
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.server.messages.append(
            ReceivedMail(envelope.mail_from, list(envelope.rcpt_tos), message)  # type: ignore[arg-type]
        )
        return "250 Message accepted for delivery"


class _RandomPortController(Controller):
    """aiosmtpd's Controller bound to port 0: learn the real port before the readiness probe."""

    def _trigger_server(self) -> None:
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


class SmtpServer:
    """A running SMTP server; `messages` holds what it accepted, in order."""

    host = "127.0.0.1"

    def __init__(self) -> None:
        self.messages: list[ReceivedMail] = []
        self.rcpt_replies: dict[str, str] = {}
        self.data_reply = ""
        self._controller = _RandomPortController(_Handler(self), hostname=self.host, port=0)

    @property
    def port(self) -> int:
        return self._controller.port

    def refuse(self, address: str, reply: str = "550 5.1.1 No such user here") -> None:
        """Answer RCPT TO for this address with `reply` (e.g. "451 4.3.0 Try again later")."""
        self.rcpt_replies[address.lower()] = reply

    def refuse_data(self, reply: str = "554 5.7.1 Message rejected as spam") -> None:
        """Answer every DATA with `reply` instead of accepting the message."""
        self.data_reply = reply

    def configure(self, settings: Any) -> None:
        """Point Django's SMTP backend at this server (`settings`: pytest-django's fixture)."""
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST = self.host
        settings.EMAIL_PORT = self.port
        settings.EMAIL_HOST_USER = ""
        settings.EMAIL_HOST_PASSWORD = ""
        settings.EMAIL_USE_TLS = False
        settings.EMAIL_USE_SSL = False
        settings.EMAIL_TIMEOUT = 5


@contextmanager
def running_smtp_server() -> Iterator[SmtpServer]:
    """Start an SmtpServer for the duration of the block."""
    server = SmtpServer()
    server._controller.start()
    try:
        yield server
    finally:
        server._controller.stop()


@pytest.fixture
def smtp_server(settings) -> Iterator[SmtpServer]:
    """A real SMTP server for this test, with Django's email settings pointing at it."""
    with running_smtp_server() as server:
        server.configure(settings)
        yield server

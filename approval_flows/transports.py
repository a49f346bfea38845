"""Transports: hand one Notification to SMTP (Django's mail backend) or to Twilio.

- `send()` returns the provider's id (Message-ID, Twilio SID) or raises one of the outbox's
  errors (`agenwork.outbox`):
- `TransientError`: worth retrying later (network, timeouts, SMTP 4xx, Twilio 429/5xx).
- `PermanentError`: retrying cannot help (recipient refused, invalid number, body too long…).
- Without Twilio settings, SMS go to the "agenwork.sms" log and count as sent (`make run`).
"""

from __future__ import annotations

import logging
import re
import smtplib
from typing import Protocol
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.urls import reverse
from django.utils.crypto import salted_hmac
from twilio.base.exceptions import (
    TwilioException,
    TwilioRestException,
    TwilioServiceException,
)
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from agenwork.outbox import PermanentError, SendError, TransientError
from approval_flows.models import Notification

sms_log = logging.getLogger("agenwork.sms")

TWILIO_TIMEOUT_SECONDS = 10
E164 = re.compile(r"^\+[1-9]\d{1,14}$")

# GSM 03.38: the basic set costs one septet a character, the extension table two (escape + char).
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENDED = frozenset("\f^{}\\[~]|€")
SEGMENT_SEPTETS = 160
_TWILIO_SETTINGS = ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_FROM_NUMBER")


class Transport(Protocol):
    def send(self, notification: Notification) -> str: ...


def gsm7_length(text: str) -> int | None:
    """Septets `text` takes in GSM-7, or None when a character is not in GSM-7 at all."""
    length = 0
    for char in text:
        if char in GSM7_BASIC:
            length += 1
        elif char in GSM7_EXTENDED:
            length += 2
        else:
            return None
    return length


def fits_one_segment(text: str) -> bool:
    """True when `text` goes out as a single GSM-7 SMS segment (≤ 160 septets)."""
    length = gsm7_length(text)
    return length is not None and length <= SEGMENT_SEPTETS


def is_e164(address: str) -> bool:
    """True for an E.164 phone number such as +15550100."""
    return bool(E164.match(address))


class EmailTransport:
    """Email through Django's configured backend: a text body with an HTML alternative."""

    def send(self, notification: Notification) -> str:
        """Send the message; return its Message-ID (without angle brackets)."""
        message_id = _message_id(notification)
        message = EmailMultiAlternatives(
            subject=notification.subject,
            body=notification.body_text,
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[notification.address],
            headers={"Message-ID": f"<{message_id}>", "Auto-Submitted": "auto-generated"},
        )
        if notification.body_html:
            message.attach_alternative(notification.body_html, "text/html")
        try:
            message.send()
        except smtplib.SMTPRecipientsRefused as exc:
            raise _refused(exc) from exc
        except smtplib.SMTPDataError as exc:  # the message itself was refused
            raise _smtp_error(exc.smtp_code, exc.smtp_error) from exc
        except (smtplib.SMTPException, OSError) as exc:  # connection, login, sender: ops can fix
            raise TransientError(f"SMTP: {type(exc).__name__}: {exc}"[:500]) from exc
        return message_id


def _message_id(notification: Notification) -> str:
    """A Message-ID that fits `provider_id` (64 characters) and names this notification.

    - The same for every attempt of one notification: when a worker dies between the server's
      acceptance and our record of it, the retry carries the same Message-ID, and mailboxes that
      collapse copies of one Message-ID (Gmail, for one) show the message once.
    - Salted with SECRET_KEY, so two installations never share ids.
    """
    salt = salted_hmac("agenwork.message-id", str(notification.pk)).hexdigest()[:12]
    local = f"n{notification.pk}.{salt}"
    domain = urlsplit(settings.SITE_URL).hostname or "agenwork.invalid"
    if len(local) + 1 + len(domain) > 64:
        domain = "agenwork.invalid"
    return f"{local}@{domain}"


def _refused(exc: smtplib.SMTPRecipientsRefused) -> SendError:
    """The error for the refused recipient (a notification has exactly one)."""
    code, reply = next(iter(exc.recipients.values()), (450, b"refused"))
    return _smtp_error(code, reply)


def _smtp_error(code: int, reply: bytes | str) -> SendError:
    """Permanent for a 5xx reply to this message, transient for a 4xx one."""
    text = reply.decode(errors="replace") if isinstance(reply, bytes) else str(reply)
    message = f"SMTP {code}: {text}"[:500]
    return PermanentError(message) if 500 <= code < 600 else TransientError(message)


class SmsTransport:
    """SMS through Twilio's SDK; written to the log when Twilio is not configured."""

    def send(self, notification: Notification) -> str:
        """Send the message; return Twilio's SID ("" when it was only logged)."""
        _check_sms(notification)
        if not twilio_configured():
            sms_log.info("SMS to %s: %s", notification.address, notification.body_text)
            return ""
        try:
            message = twilio_client().messages.create(
                to=notification.address,
                from_=settings.TWILIO_FROM_NUMBER,
                body=notification.body_text,
                status_callback=settings.SITE_URL + reverse("twilio_webhooks:twilio_status"),
            )
        except (TwilioRestException, TwilioServiceException) as exc:
            raise _twilio_error(exc) from exc
        except (TwilioException, requests.RequestException) as exc:
            raise TransientError(f"Twilio: {type(exc).__name__}: {exc}"[:500]) from exc
        return str(message.sid)


def _check_sms(notification: Notification) -> None:
    """Refuse what Twilio would reject or split: no E.164 number, an empty or long body."""
    if not is_e164(notification.address):
        raise PermanentError(f"{notification.address!r} is not an E.164 phone number")
    if not notification.body_text:
        raise PermanentError("Empty SMS body")
    if not fits_one_segment(notification.body_text):
        raise PermanentError(
            f"SMS body does not fit one GSM-7 segment ({gsm7_length(notification.body_text)} "
            f"septets, or a character outside GSM-7)"
        )
    missing = [name for name in _TWILIO_SETTINGS if not getattr(settings, name)]
    if missing and len(missing) < len(_TWILIO_SETTINGS):
        raise PermanentError(f"Twilio is partly configured: set {', '.join(missing)}")


def twilio_configured() -> bool:
    """True when the account, the token and the sender number are all set."""
    return all(getattr(settings, name) for name in _TWILIO_SETTINGS)


def twilio_client() -> Client:
    """A Twilio client; TWILIO_API_BASE_URL replaces https://api.twilio.com (a local stand-in).

    - The SDK builds every Messages URL from `client.api.base_url` (a `Domain` attribute), so
      overriding it moves only the host; the /2010-04-01/Accounts/… path stays the SDK's.
    - Edge and region (TWILIO_EDGE / TWILIO_REGION in the environment) would rewrite that host,
      so they are cleared when a base URL is given.
    """
    client = Client(
        settings.TWILIO_ACCOUNT_SID,
        settings.TWILIO_AUTH_TOKEN,
        http_client=TwilioHttpClient(timeout=TWILIO_TIMEOUT_SECONDS),
    )
    if settings.TWILIO_API_BASE_URL:
        client.api.base_url = settings.TWILIO_API_BASE_URL.rstrip("/")
        client.edge = client.region = None
    return client


def _twilio_error(exc: TwilioRestException | TwilioServiceException) -> SendError:
    """Transient for 429 and 5xx (and Twilio's own rate-limit code), permanent for other 4xx."""
    text = getattr(exc, "msg", None) or getattr(exc, "detail", None) or getattr(exc, "title", "")
    message = f"Twilio {exc.status} (error {exc.code}): {text}"[:500]
    if exc.status == 429 or exc.status >= 500 or exc.code == 20429:
        return TransientError(message)
    return PermanentError(message)


TRANSPORTS: dict[str, type[Transport]] = {
    Notification.Channel.EMAIL: EmailTransport,
    Notification.Channel.SMS: SmsTransport,
}


def transport_for(channel: str) -> Transport:
    """The transport of a channel ("email" or "sms")."""
    return TRANSPORTS[channel]()

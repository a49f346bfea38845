"""Transports against real network stand-ins: what is sent, and which errors are permanent."""

from __future__ import annotations

import pytest

from approval_flows.models import Notification
from approval_flows.transports import (
    GSM7_BASIC,
    GSM7_EXTENDED,
    EmailTransport,
    PermanentError,
    SmsTransport,
    TransientError,
    fits_one_segment,
    gsm7_length,
    twilio_client,
)
from tests.support.ports import free_port


def email(**fields) -> Notification:
    defaults = {
        "pk": 41,
        "address": "dana@example.com",
        "channel": Notification.Channel.EMAIL,
        "subject": "Review a request",
        "body_text": "Plain text body",
        "body_html": "<p>HTML body</p>",
    }
    return Notification(**{**defaults, **fields})


def sms(**fields) -> Notification:
    defaults = {
        "pk": 42,
        "address": "+15550100",
        "channel": Notification.Channel.SMS,
        "body_text": "agenwork: Ana asks for Google Calendar. Reply A 4821 or D 4821",
    }
    return Notification(**{**defaults, **fields})


# --- GSM-7 --------------------------------------------------------------------------------------


def test_gsm7_tables_have_the_standard_sizes():
    assert len(GSM7_BASIC) == 127  # 128 codes, one of them the escape to the extension table
    assert len(GSM7_EXTENDED) == 10


@pytest.mark.parametrize(
    ("text", "length"),
    [
        ("", 0),
        ("Reply A 4821", 12),
        ("é", 1),  # in the basic set
        ("Ç", 1),
        ("€", 2),  # extension table: escape + character
        ("{x}", 5),
        ("line\nbreak", 10),
        ("ł", None),  # not in GSM-7 at all
        ("ç", None),  # only the capital is in the basic set
        ("✓ ok", None),
    ],
)
def test_gsm7_length(text, length):
    assert gsm7_length(text) == length


@pytest.mark.parametrize(
    ("text", "fits"),
    [
        ("a" * 160, True),
        ("a" * 161, False),
        ("€" * 80, True),
        ("€" * 80 + "a", False),
        ("a" * 159 + "[", False),
        ("Zażółć", False),
    ],
)
def test_fits_one_segment(text, fits):
    assert fits_one_segment(text) is fits


# --- Email --------------------------------------------------------------------------------------


def test_email_has_text_and_html_alternative(smtp_server, settings):
    message_id = EmailTransport().send(email())

    (mail,) = smtp_server.messages
    assert mail.rcpt_tos == ["dana@example.com"]
    assert mail.message["From"] == settings.DEFAULT_FROM_EMAIL
    assert mail.message["Auto-Submitted"] == "auto-generated"
    assert mail.message["Message-ID"] == f"<{message_id}>"
    assert mail.message.get_content_type() == "multipart/alternative"
    assert mail.text.strip() == "Plain text body"
    assert mail.html.strip() == "<p>HTML body</p>"


def test_email_without_html_is_plain_text(smtp_server):
    EmailTransport().send(email(body_html=""))

    (mail,) = smtp_server.messages
    assert mail.message.get_content_type() == "text/plain"


def test_message_id_fits_the_provider_id_column(smtp_server, settings):
    settings.SITE_URL = "https://" + "very-long-subdomain." * 5 + "example.com"

    message_id = EmailTransport().send(email(pk=2**40))

    assert len(message_id) <= 64
    assert message_id.startswith(f"n{2**40}.")


def test_every_attempt_of_one_notification_carries_the_same_message_id(smtp_server, settings):
    first = EmailTransport().send(email(pk=7))
    again = EmailTransport().send(email(pk=7))
    other = EmailTransport().send(email(pk=8))
    settings.SECRET_KEY = "another-installation-" + "x" * 40
    elsewhere = EmailTransport().send(email(pk=7))

    assert first == again
    assert other != first
    assert elsewhere != first
    assert [m.message["Message-ID"] for m in smtp_server.messages[:2]] == [f"<{first}>"] * 2


def test_refused_recipient_is_permanent(smtp_server):
    smtp_server.refuse("dana@example.com", "550 5.1.1 No such user here")

    with pytest.raises(PermanentError, match="SMTP 550"):
        EmailTransport().send(email())


def test_temporarily_refused_recipient_is_transient(smtp_server):
    smtp_server.refuse("dana@example.com", "452 4.2.2 Mailbox full")

    with pytest.raises(TransientError, match="SMTP 452"):
        EmailTransport().send(email())


def test_message_refused_at_data_is_permanent(smtp_server):
    smtp_server.refuse_data("554 5.7.1 Message rejected as spam")

    with pytest.raises(PermanentError, match="SMTP 554"):
        EmailTransport().send(email())


def test_unreachable_smtp_server_is_transient(smtp_server, settings):
    settings.EMAIL_PORT = free_port()

    with pytest.raises(TransientError, match="ConnectionRefusedError"):
        EmailTransport().send(email())


# --- SMS ----------------------------------------------------------------------------------------


def test_sms_reaches_the_stand_in_through_the_sdk(twilio_server, settings):
    sid = SmsTransport().send(sms())

    (message,) = twilio_server.messages
    assert message["To"] == "+15550100"
    assert message["From"] == "+15005550006"
    assert message["Body"] == "agenwork: Ana asks for Google Calendar. Reply A 4821 or D 4821"
    assert message["StatusCallback"] == f"{settings.SITE_URL}/webhooks/twilio/status"
    assert sid.startswith("SM") and len(sid) == 34


def test_base_url_setting_moves_only_the_host(settings):
    settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN = "AC1", "token"
    settings.TWILIO_API_BASE_URL = ""
    assert twilio_client().api.base_url == "https://api.twilio.com"

    settings.TWILIO_API_BASE_URL = "http://127.0.0.1:9999/"
    client = twilio_client()
    assert client.api.base_url == "http://127.0.0.1:9999"
    assert (client.edge, client.region) == (None, None)


def test_long_sms_is_refused_before_twilio(twilio_server):
    with pytest.raises(PermanentError, match="one GSM-7 segment"):
        SmsTransport().send(sms(body_text="x" * 161))

    assert twilio_server.requests == []


def test_sms_outside_gsm7_is_refused(twilio_server):
    with pytest.raises(PermanentError, match="one GSM-7 segment"):
        SmsTransport().send(sms(body_text="Zażółć gęślą jaźń"))


def test_sms_to_a_non_e164_number_is_refused(twilio_server):
    with pytest.raises(PermanentError, match=r"E\.164"):
        SmsTransport().send(sms(address="555-0100"))

    assert twilio_server.requests == []


def test_partly_configured_twilio_is_an_error_not_a_log_line(settings):
    settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN = "AC1", "token"
    settings.TWILIO_FROM_NUMBER = ""

    with pytest.raises(PermanentError, match="TWILIO_FROM_NUMBER"):
        SmsTransport().send(sms())


@pytest.mark.parametrize(
    ("status", "code", "error"),
    [
        (400, 21211, PermanentError),  # invalid To number
        (400, 21608, PermanentError),  # unverified number (trial account)
        (400, 21610, PermanentError),  # the recipient replied STOP
        (400, 21408, PermanentError),  # region not enabled
        (401, 20003, PermanentError),  # bad credentials
        (429, 20429, TransientError),
        (500, 20500, TransientError),
        (503, 20503, TransientError),
    ],
)
def test_twilio_errors_are_classified(twilio_server, status, code, error):
    twilio_server.fail_next(status, code, "Twilio says no")

    with pytest.raises(error, match=f"error {code}"):
        SmsTransport().send(sms())


def test_wrong_credentials_are_refused_by_the_stand_in(twilio_server, settings):
    settings.TWILIO_AUTH_TOKEN = "not-the-token"

    with pytest.raises(PermanentError, match="20003"):
        SmsTransport().send(sms())


def test_unreachable_twilio_is_transient(twilio_server, settings):
    settings.TWILIO_API_BASE_URL = f"http://127.0.0.1:{free_port()}"

    with pytest.raises(TransientError, match="ConnectionError"):
        SmsTransport().send(sms())

"""POST /webhooks/twilio/status: Twilio's signed delivery reports for the SMS we sent."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from approval_flows.models import Notification
from tests.support.twilio import AUTH_TOKEN, twilio_signature

PUBLIC = "https://agenwork.example.com"
PATH = "/webhooks/twilio/status"
SID = "SM0123456789abcdef0123456789abcdef"


@pytest.fixture(autouse=True)
def _public_site(settings):
    """The app as Twilio sees it: https on its public name, whatever the request's Host says."""
    settings.SITE_URL = PUBLIC
    settings.TWILIO_AUTH_TOKEN = AUTH_TOKEN
    settings.ALLOWED_HOSTS = ["agenwork.example.com", "web", "testserver"]


@pytest.fixture
def sms(queue) -> Notification:
    notification = queue(channel=Notification.Channel.SMS)
    Notification.objects.filter(pk=notification.pk).update(
        status=Notification.Status.SENT, provider_id=SID, provider_status="queued"
    )
    return notification


def report(status: str, sid: str = SID, **extra: str) -> dict[str, str]:
    """The form Twilio posts for a status change."""
    return {
        "MessageSid": sid,
        "SmsSid": sid,
        "AccountSid": "AC" + "0" * 32,
        "From": "+15005550006",
        "To": "+15550100",
        "MessageStatus": status,
        "SmsStatus": status,
        "ApiVersion": "2010-04-01",
        **extra,
    }


def post_signed(client: Client, form: dict[str, str], *, url: str = PUBLIC + PATH, **headers):
    """POST `form` to the callback as Twilio would, signed for `url`."""
    signature = twilio_signature(url, form)
    return client.post(PATH, form, HTTP_X_TWILIO_SIGNATURE=signature, **headers)


def test_url_name_is_the_callback_path():
    assert reverse("twilio_webhooks:twilio_status") == PATH


def test_signed_report_updates_the_provider_status(client, sms):
    response = post_signed(client, report("delivered"))

    assert response.status_code == 200
    sms.refresh_from_db()
    assert sms.provider_status == "delivered"
    assert sms.status == Notification.Status.SENT


@pytest.mark.parametrize("status", ["failed", "undelivered"])
def test_failed_delivery_fails_the_notification_with_the_error_code(client, sms, status):
    response = post_signed(client, report(status, ErrorCode="30003"))

    assert response.status_code == 200
    sms.refresh_from_db()
    assert sms.status == Notification.Status.FAILED
    assert sms.provider_status == status
    assert sms.last_error == f"Twilio reported {status} (error 30003)"


def test_bad_signature_is_forbidden_and_changes_nothing(client, sms):
    form = report("failed", ErrorCode="30003")
    signature = twilio_signature(PUBLIC + PATH, form, auth_token="someone-else")

    response = client.post(PATH, form, HTTP_X_TWILIO_SIGNATURE=signature)

    assert response.status_code == 403
    sms.refresh_from_db()
    assert (sms.status, sms.provider_status) == (Notification.Status.SENT, "queued")


def test_tampered_form_is_forbidden(client, sms):
    signature = twilio_signature(PUBLIC + PATH, report("delivered"))

    response = client.post(PATH, report("failed"), HTTP_X_TWILIO_SIGNATURE=signature)

    assert response.status_code == 403


def test_missing_signature_is_forbidden(client, sms):
    response = client.post(PATH, report("delivered"))

    assert response.status_code == 403
    sms.refresh_from_db()
    assert sms.provider_status == "queued"


def test_without_an_auth_token_nothing_is_trusted(client, sms, settings):
    settings.TWILIO_AUTH_TOKEN = ""

    assert post_signed(client, report("delivered")).status_code == 403


def test_behind_a_proxy_the_public_url_is_what_counts(client, sms):
    """The proxy forwards http://web:8000/…; Twilio signed https://agenwork.example.com/…."""
    response = post_signed(
        client, report("delivered"), HTTP_HOST="web:8000", HTTP_X_FORWARDED_PROTO="https"
    )

    assert response.status_code == 200
    sms.refresh_from_db()
    assert sms.provider_status == "delivered"


def test_signature_for_the_internal_url_is_refused(client, sms):
    response = post_signed(
        client, report("delivered"), url="http://web:8000" + PATH, HTTP_HOST="web:8000"
    )

    assert response.status_code == 403


def test_query_string_is_part_of_the_signed_url(client, sms):
    form = report("delivered")
    signature = twilio_signature(f"{PUBLIC}{PATH}?n=1", form)

    response = client.post(f"{PATH}?n=1", form, HTTP_X_TWILIO_SIGNATURE=signature)

    assert response.status_code == 200


def test_unknown_sid_is_acknowledged_and_changes_nothing(client, sms):
    response = post_signed(client, report("failed", sid="SM" + "f" * 32, ErrorCode="30005"))

    assert response.status_code == 200
    sms.refresh_from_db()
    assert (sms.status, sms.provider_status) == (Notification.Status.SENT, "queued")


def test_late_report_never_moves_the_status_back(client, sms):
    post_signed(client, report("delivered"))
    post_signed(client, report("sent"))

    sms.refresh_from_db()
    assert sms.provider_status == "delivered"


def test_csrf_is_not_required(sms):
    response = post_signed(Client(enforce_csrf_checks=True), report("sent"))

    assert response.status_code == 200


def test_get_is_not_allowed(client):
    assert client.get(PATH).status_code == 405

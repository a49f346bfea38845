"""SMS replies through Twilio's webhook: `A 4821` approves, `D 4821` denies, the rest is safe."""

from __future__ import annotations

import re
from xml.etree import ElementTree

import pytest
from django.test import Client
from twilio.request_validator import RequestValidator

from approval_flows.models import Notification
from approval_flows.transports import fits_one_segment
from directory.models import Person
from requests_app.links import link_create
from requests_app.models import AccessRequest, ApproverLink, RequestApproval, RequestTool
from requests_app.notify import ensure_sms_code
from requests_app.services import Actor, request_approve
from tests.factories import PersonFactory, make_request

URL = "/webhooks/twilio/sms"
SITE = "https://agenwork.example.com"
AUTH_TOKEN = "twilio-auth-token-for-tests"
DANA = "+15550100"
PAT = "+15550102"
Status = AccessRequest.Status


@pytest.fixture(autouse=True)
def _twilio(settings):
    settings.SITE_URL = SITE
    settings.TWILIO_AUTH_TOKEN = AUTH_TOKEN


@pytest.fixture
def pat(security_group) -> Person:
    person = PersonFactory(name="Pat Quinn", email="pat@example.com", phone="+1 (555) 010-2")
    person.groups.add(security_group)
    return person


@pytest.fixture
def pending(approver_user, pat, access_request) -> AccessRequest:
    """Ana's pending request with its SMS code, once Dana and Pat approve its flow."""
    ensure_sms_code(access_request)
    return access_request


@pytest.fixture
def twilio() -> Client:
    """A client that enforces CSRF like a browser would: the webhook must not need it."""
    return Client(enforce_csrf_checks=True)


def sms(client: Client, body: str, sender: str = DANA, *, token: str = AUTH_TOKEN, url=None):
    """POST what Twilio posts for a received SMS, signed for the public URL."""
    params = {"From": sender, "To": "+15559999", "Body": body, "MessageSid": "SM" + "0" * 32}
    signature = RequestValidator(token).compute_signature(url or SITE + URL, params)
    return client.post(URL, params, HTTP_X_TWILIO_SIGNATURE=signature)


def reply(response) -> str:
    """The text of the TwiML <Message>, or "" for an empty <Response/>."""
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/xml")
    root = ElementTree.fromstring(response.content)  # noqa: S314 (our own response)
    assert root.tag == "Response"
    return " ".join(message.text or "" for message in root.iter("Message"))


def snapshot(access_request: AccessRequest) -> tuple:
    return (
        AccessRequest.objects.filter(pk=access_request.pk).values().get(),
        sorted(RequestTool.objects.filter(request=access_request).values_list("id", "status")),
        list(access_request.events.values_list("id", flat=True)),
        sorted(ApproverLink.objects.values_list("id", "used_at")),
        RequestApproval.objects.count(),
        Notification.objects.count(),
    )


# --- deciding -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body", ["A {code}", "a {code}", "  approve   {code} ", "APPROVED {code}."]
)
def test_approve_reply_approves_as_that_person_by_sms(twilio, pending, body):
    text = reply(sms(twilio, body.format(code=pending.sms_code)))
    assert text == "Approved: Ana Lopez - Google Calendar"
    pending.refresh_from_db()
    assert (pending.status, pending.decided_by_name, pending.decided_via) == (
        Status.APPROVED,
        "Dana Levi",
        "sms",
    )
    event = pending.events.get(kind="approved")
    assert (event.actor_name, event.channel, event.actor) == ("Dana Levi", "sms", None)


def test_an_sms_approval_covers_every_tool_for_this_call_only(twilio, pending):
    reply(sms(twilio, f"A {pending.sms_code}"))
    pending.refresh_from_db()
    assert pending.grant_expires_at is None
    assert set(pending.tools.values_list("status", flat=True)) == {"approved"}
    assert pending.events.get(kind="approved").message == "Approved once"


@pytest.mark.parametrize("body", ["D {code}", "d{code}", "deny {code}", " Deny  {code} "])
def test_deny_reply_denies(twilio, pending, body):
    text = reply(sms(twilio, body.format(code=pending.sms_code)))
    assert text == "Denied: Ana Lopez - Google Calendar"
    pending.refresh_from_db()
    assert (pending.status, pending.decided_via) == (Status.DENIED, "sms")


def test_a_formatted_phone_number_is_recognised(twilio, pending):
    reply(sms(twilio, f"A {pending.sms_code}", sender=PAT))
    assert AccessRequest.objects.get(pk=pending.pk).decided_by_name == "Pat Quinn"


def test_deciding_by_sms_spends_that_persons_links(twilio, pending, approver_user):
    link_create(access_request=pending, person=approver_user.person, channel="sms")
    reply(sms(twilio, f"A {pending.sms_code}"))
    dana_links = ApproverLink.objects.filter(person=approver_user.person, request=pending)
    assert dana_links.exists()
    assert not dana_links.filter(used_at__isnull=True).exists()


def test_replies_fit_one_sms_segment(twilio, pending):
    AccessRequest.objects.filter(pk=pending.pk).update(
        requester_name="R" * 200, connector_name="C" * 200
    )
    assert fits_one_segment(reply(sms(twilio, f"A {pending.sms_code}")))


# --- already decided, refused -----------------------------------------------------------------


def test_already_decided_says_who_and_changes_nothing(twilio, pending, approver_user):
    request_approve(access_request=pending, actor=Actor.for_user(approver_user))
    before = snapshot(pending)
    text = reply(sms(twilio, f"D {pending.sms_code}", sender=PAT))
    assert text == "Already approved by Dana Levi via web"
    assert snapshot(pending) == before


def test_already_decided_by_sms_says_so(twilio, pending):
    reply(sms(twilio, f"A {pending.sms_code}"))
    before = snapshot(pending)
    assert reply(sms(twilio, f"D {pending.sms_code}", sender=PAT)) == (
        "Already approved by Dana Levi via SMS"
    )
    assert snapshot(pending) == before


def test_own_request_is_refused(twilio, requester, security_group, tools, flow, approver_user):
    Person.objects.filter(pk=requester.pk).update(phone="+15550177")
    security_group.members.add(requester)
    own = make_request(requester=requester, tools=tools[:1], flow=flow)
    ensure_sms_code(own)
    before = snapshot(own)
    text = reply(sms(twilio, f"A {own.sms_code}", sender="+15550177"))
    assert text == "agenwork: Nobody decides their own request. Nothing was changed."
    assert snapshot(own) == before


def test_a_code_of_another_flow_is_unknown(twilio, pending, outsider_user):
    outsider = outsider_user.person
    Person.objects.filter(pk=outsider.pk).update(phone="+15550188")
    before = snapshot(pending)
    # Olivia approves no flow at all: her number is treated as unknown.
    assert reply(sms(twilio, f"A {pending.sms_code}", sender="+15550188")) == ""
    assert snapshot(pending) == before


def test_an_unknown_code_changes_nothing(twilio, pending):
    wrong = "1000" if pending.sms_code != "1000" else "1001"
    before = snapshot(pending)
    assert f"no pending request has code {wrong}" in reply(sms(twilio, f"A {wrong}"))
    assert snapshot(pending) == before


# --- unknown numbers, malformed replies, bad signatures ---------------------------------------


def test_unknown_phone_gets_no_answer_and_changes_nothing(twilio, pending):
    before = snapshot(pending)
    assert reply(sms(twilio, f"A {pending.sms_code}", sender="+447700900123")) == ""
    assert snapshot(pending) == before


def test_locked_approver_is_treated_as_unknown(twilio, pending, approver_user):
    Person.objects.filter(pk=approver_user.person.pk).update(status=Person.Status.LOCKED)
    before = snapshot(pending)
    assert reply(sms(twilio, f"A {pending.sms_code}")) == ""
    assert snapshot(pending) == before


@pytest.mark.parametrize(
    "body", ["", "yes", "A", "4821", "A 12", "A 1234567", "OK thanks", "A 4821 D 4821", "é" * 500]
)
def test_malformed_reply_gets_help_and_changes_nothing(twilio, pending, body):
    before = snapshot(pending)
    text = reply(sms(twilio, body))
    assert "Reply A 1234 to approve or D 1234 to deny" in text
    assert fits_one_segment(text)
    assert snapshot(pending) == before


def test_bad_signature_is_forbidden(twilio, pending):
    before = snapshot(pending)
    assert sms(twilio, f"A {pending.sms_code}", token="not-the-token").status_code == 403
    assert snapshot(pending) == before


def test_missing_signature_is_forbidden(twilio, pending):
    before = snapshot(pending)
    params = {"From": DANA, "Body": f"A {pending.sms_code}"}
    assert twilio.post(URL, params).status_code == 403
    assert snapshot(pending) == before


def test_signature_is_checked_against_the_public_url(twilio, pending):
    before = snapshot(pending)
    internal = "http://testserver" + URL
    assert sms(twilio, f"A {pending.sms_code}", url=internal).status_code == 403
    assert snapshot(pending) == before


def test_a_tampered_body_breaks_the_signature(twilio, pending):
    params = {"From": DANA, "Body": f"D {pending.sms_code}"}
    signature = RequestValidator(AUTH_TOKEN).compute_signature(SITE + URL, params)
    params["Body"] = f"A {pending.sms_code}"
    response = twilio.post(URL, params, HTTP_X_TWILIO_SIGNATURE=signature)
    assert response.status_code == 403
    assert AccessRequest.objects.get(pk=pending.pk).is_pending


def test_without_an_auth_token_every_request_is_forbidden(twilio, pending, settings):
    settings.TWILIO_AUTH_TOKEN = ""
    assert sms(twilio, f"A {pending.sms_code}", token="").status_code == 403
    assert AccessRequest.objects.get(pk=pending.pk).is_pending


def test_get_is_not_allowed(twilio, pending):
    assert twilio.get(URL).status_code == 405


def test_query_string_is_part_of_the_signed_url(twilio, pending):
    params = {"From": DANA, "Body": f"A {pending.sms_code}"}
    signature = RequestValidator(AUTH_TOKEN).compute_signature(SITE + URL + "?x=1", params)
    response = twilio.post(URL + "?x=1", params, HTTP_X_TWILIO_SIGNATURE=signature)
    assert re.match("Approved", reply(response))

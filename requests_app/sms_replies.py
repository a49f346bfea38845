"""Inbound SMS from Twilio: an approver replies `A 4821` or `D 4821` to decide a request.

- Only requests signed by Twilio with our auth token are read; the URL is rebuilt from SITE_URL,
  so the signature holds behind a proxy that rewrites the host or the scheme.
- Unknown numbers get an empty answer and change nothing; a malformed reply gets the help text.
"""

from __future__ import annotations

import logging
import re

from django.conf import settings
from django.db.models import Case, F, Value, When
from django.db.models.functions import Replace
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse

from approval_flows.selectors import flow_ids_for_approver
from directory.models import Person
from requests_app.deciding import person_decide
from requests_app.links import person_may_not_decide
from requests_app.models import AccessRequest, Channel
from requests_app.services import RequestAlreadyDecided
from requests_app.voting import VoteRefused, approval_progress

log = logging.getLogger(__name__)

REPLY = re.compile(
    r"(?P<verb>a|d|approve|approved|deny|denied)\s*[:#.,-]?\s*(?P<code>\d{4,6})[.!]?",
    re.IGNORECASE,
)
HELP = "agenwork: Reply A 1234 to approve or D 1234 to deny (1234: the code in our SMS)."
NAME_CHARS = 40


@csrf_exempt
@require_POST
def twilio_sms(request: HttpRequest) -> HttpResponse:
    """Twilio's webhook for a received SMS; answers with TwiML (a reply, or nothing)."""
    if not signature_valid(request):
        return HttpResponseForbidden("Invalid Twilio signature.")
    text = sms_reply(phone=request.POST.get("From", ""), body=request.POST.get("Body", ""))
    return twiml(text)


def signature_valid(request: HttpRequest) -> bool:
    """Whether X-Twilio-Signature signs this public URL and these parameters."""
    signature = request.headers.get("X-Twilio-Signature", "")
    if not (settings.TWILIO_AUTH_TOKEN and signature):
        return False
    url = settings.SITE_URL + request.get_full_path()
    return RequestValidator(settings.TWILIO_AUTH_TOKEN).validate(url, request.POST, signature)


def twiml(text: str) -> HttpResponse:
    """A TwiML answer: one message, or an empty <Response/> to say nothing."""
    response = MessagingResponse()
    if text:
        response.message(text)
    return HttpResponse(str(response), content_type="text/xml; charset=utf-8")


def sms_reply(*, phone: str, body: str) -> str:
    """Act on one SMS and return the answer to send back ("" for none)."""
    people = approvers_by_phone(phone)
    if not people:
        log.info("SMS from an unknown number ending %s ignored", phone[-4:])
        return ""
    match = REPLY.fullmatch(body.strip())
    if match is None:
        return HELP
    approve = match["verb"].lower().startswith("a")
    return _decide_by_code(people, match["code"], approve)


def approvers_by_phone(phone: str) -> list[Person]:
    """The active people whose phone is this number, compared as E.164 digits."""
    digits = re.sub(r"\D", "", phone)
    if len(digits) < 6:
        return []
    plain = F("phone")
    for char in " -().":
        plain = Replace(plain, Value(char), Value(""))
    people = Person.objects.annotate(phone_plain=plain).filter(
        status=Person.Status.ACTIVE, phone_plain__in=[f"+{digits}", digits]
    )
    return [person for person in people if flow_ids_for_approver(person)]


def _decide_by_code(people: list[Person], code: str, approve: bool) -> str:
    access_request = _request_for_code(people, code)
    if access_request is None:
        return f"agenwork: no pending request has code {code}. {HELP[10:]}"
    if not access_request.is_pending:
        return already_decided(access_request)
    reasons = [person_may_not_decide(person, access_request) for person in people]
    if all(reasons):
        return f"agenwork: {reasons[0]} Nothing was changed."
    person = people[reasons.index("")]
    try:
        person_decide(
            access_request=access_request, person=person, approve=approve, channel=Channel.SMS
        )
    except RequestAlreadyDecided as exc:
        return already_decided(exc.access_request)
    except VoteRefused as exc:
        return f"agenwork: {exc} Nothing was changed."
    if access_request.is_pending:
        return f"Vote recorded ({approval_progress(access_request)}): {_names(access_request)}"
    verb = "Approved" if approve else "Denied"
    return f"{verb}: {_names(access_request)}"


def _request_for_code(people: list[Person], code: str) -> AccessRequest | None:
    """The pending request with this code, else the latest decided one, in these people's flows.

    - A request is named only to the approvers of its flow: others learn nothing from a code.
    """
    flow_ids = {flow_id for person in people for flow_id in flow_ids_for_approver(person)}
    pending_first = Case(When(status=AccessRequest.Status.PENDING, then=Value(0)), default=1)
    candidates = (
        AccessRequest.objects.filter(sms_code=code)
        .select_related("flow", "connector")
        .order_by(pending_first, "-requested_at")
    )
    for access_request in candidates[:5]:
        if access_request.flow_id in flow_ids:
            return access_request
    return None


def already_decided(access_request: AccessRequest) -> str:
    """ "Already approved by Dana Levi via web", as short as an SMS should be."""
    status = access_request.get_status_display().lower()
    if access_request.decided_via == Channel.TIMEOUT:
        return f"Already {status} at the timeout: {_names(access_request)}"
    who = (access_request.decided_by_name or "the system")[:NAME_CHARS]
    via = access_request.get_decided_via_display() if access_request.decided_via else ""
    via = via if access_request.decided_via == Channel.SMS else via.lower()
    return f"Already {status} by {who}" + (f" via {via}" if via else "")


def _names(access_request: AccessRequest) -> str:
    requester = access_request.requester_name[:NAME_CHARS]
    return f"{requester} - {access_request.connector_name[:NAME_CHARS]}"

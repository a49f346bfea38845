"""What approvers and requesters are told about a request, queued in the caller's transaction.

- Each function renders the messages (emails/<name>_*, sms/<name>.txt) and writes them to the
  outbox through `notification_queue`; nothing is sent here. They return how many were queued.
- Every approver message carries that approver's own single-use link, one per channel.
- An SMS always fits one GSM-7 segment: names are shortened (and accents dropped) until it does.
"""

from __future__ import annotations

import logging
import re
import secrets
import unicodedata
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.utils import timezone

from approval_flows.models import ApprovalFlow, ApprovalLevel, Notification
from approval_flows.notifications import notification_queue
from approval_flows.transports import fits_one_segment
from directory.models import Person
from requests_app.links import link_create, link_url
from requests_app.models import AccessRequest, ApproverLink, RequestApproval, RequestTool

log = logging.getLogger(__name__)

Occasion = Notification.Occasion
EMAIL = Notification.Channel.EMAIL
SMS = Notification.Channel.SMS
SMS_CODE_ATTEMPTS = 8
SMS_CODE_SHORT_ATTEMPTS = 4
# Successive (requester, connector, tool) lengths tried until an SMS fits one segment.
# The tool goes first (cut, then replaced by a count), then the names shrink.
SMS_SHORTENINGS = (
    (200, 200, 200),
    (200, 200, 16),
    (200, 200, 0),
    (24, 20, 0),
    (16, 16, 0),
    (12, 12, 0),
    (8, 8, 0),
    (0, 0, 0),
)
PERSON_DECIDERS = frozenset({"web", "email", "sms"})


def notify_new_request(access_request: AccessRequest) -> int:
    """Ask the approvers of the request's current level, by every channel of its flow."""
    if access_request.flow is None:
        return 0
    people = level_approvers(access_request, [access_request.current_level])
    return _ask(access_request, people, Occasion.NEW_REQUEST, 0)


def notify_reminder(access_request: AccessRequest, sequence: int) -> int:
    """Remind the approvers of every level so far who have not voted yet."""
    if access_request.flow is None:
        return 0
    levels = range(1, access_request.current_level + 1)
    people = _not_voted(access_request, level_approvers(access_request, levels))
    return _ask(access_request, people, Occasion.REMINDER, sequence)


def notify_escalation(access_request: AccessRequest, level: int) -> int:
    """Ask the approvers of the level the request escalated to."""
    if access_request.flow is None:
        return 0
    people = _not_voted(access_request, level_approvers(access_request, [level]))
    return _ask(access_request, people, Occasion.ESCALATION, level)


def notify_resolution(access_request: AccessRequest) -> int:
    """Tell the notified approvers (but the decider) who decided, and the requester the outcome."""
    if access_request.is_pending or access_request.flow is None:
        return 0
    context = request_context(access_request)
    queued = 0
    for person, channel in _notified_except_decider(access_request):
        queued += _queue(access_request, person, channel, Occasion.DECIDED_ELSEWHERE, 0, context)
    # A cancelled request was withdrawn by the gateway: the requester learns nothing new.
    cancelled = access_request.status == AccessRequest.Status.CANCELLED
    if access_request.flow.notify_requester and not cancelled:
        requester = access_request.requester
        queued += _queue(access_request, requester, EMAIL, Occasion.OUTCOME, 0, context)
    return queued


def level_approvers(access_request: AccessRequest, positions: Iterable[int]) -> list[Person]:
    """The people named in or members of a group of these levels: active, not the requester.

    - Backup approvers may decide but are never notified.
    """
    levels = ApprovalLevel.objects.filter(
        flow_id=access_request.flow_id, position__in=list(positions)
    )
    return list(
        Person.objects.filter(Q(approver_levels__in=levels) | Q(groups__approver_levels__in=levels))
        .filter(status=Person.Status.ACTIVE)
        .exclude(pk=access_request.requester_id)
        .distinct()
        .order_by("name", "id")
    )


def _not_voted(access_request: AccessRequest, people: list[Person]) -> list[Person]:
    voted = set(
        RequestApproval.objects.filter(request=access_request).values_list("person_id", flat=True)
    )
    return [person for person in people if person.pk not in voted]


def _ask(access_request: AccessRequest, people: list[Person], occasion: str, seq: int) -> int:
    """Queue an approval message with a fresh link per person and channel."""
    flow = access_request.flow
    if flow.channel_sms:
        ensure_sms_code(access_request)
    context = request_context(access_request, occasion=occasion)
    queued = 0
    for person in people:
        for channel in flow_channels(flow, person):
            token = link_create(access_request=access_request, person=person, channel=channel)
            personal = {**context, "person": person, "link": link_url(token)}
            queued += _queue(access_request, person, channel, occasion, seq, personal)
    return queued


def flow_channels(flow: ApprovalFlow, person: Person) -> list[str]:
    """The channels a flow asks this approver by: Email, and SMS when they have a phone."""
    channels = [EMAIL] if flow.channel_email else []
    return channels + ([SMS] if flow.channel_sms and e164(person.phone) else [])


def _notified_except_decider(access_request: AccessRequest) -> list[tuple[Person, str]]:
    """Each (person, channel) that carried a link for this request, but the person who decided.

    - A person deciding by link or SMS acts under their own name, so the name tells them apart;
      a console login is matched by its user.
    """
    pairs = (
        ApproverLink.objects.filter(request=access_request)
        .values_list("person_id", "channel")
        .distinct()
    )
    channels: dict[int, set[str]] = {}
    for person_id, channel in pairs:
        channels.setdefault(person_id, set()).add(channel)
    people = Person.objects.filter(pk__in=channels).order_by("name", "id")
    return [
        (person, channel)
        for person in people
        if not _is_decider(access_request, person)
        for channel in sorted(channels[person.pk])
    ]


def _is_decider(access_request: AccessRequest, person: Person) -> bool:
    if access_request.decided_by_id is not None and person.user_id == access_request.decided_by_id:
        return True
    return (
        access_request.decided_via in PERSON_DECIDERS
        and person.name == access_request.decided_by_name
    )


def _queue(
    access_request: AccessRequest,
    person: Person,
    channel: str,
    occasion: str,
    sequence: int,
    context: dict[str, Any],
) -> int:
    """Render one message and put it in the outbox; 1 when queued, 0 when skipped."""
    name = _TEMPLATES[occasion]
    context = {**context, "person": context.get("person", person)}
    if channel == SMS:
        address, texts = e164(person.phone), {"body_text": sms_text(f"sms/{name}.txt", context)}
    else:
        address, texts = person.email, email_texts(name, context)
    queued = notification_queue(
        request_public_id=access_request.public_id,
        recipient=person,
        address=address,
        channel=channel,
        occasion=occasion,
        sequence=sequence,
        **texts,
    )
    return 1 if queued else 0


_TEMPLATES = {
    Occasion.NEW_REQUEST: "approval_request",
    Occasion.REMINDER: "approval_request",
    Occasion.ESCALATION: "approval_request",
    Occasion.DECIDED_ELSEWHERE: "decided_elsewhere",
    Occasion.OUTCOME: "outcome",
}


def request_context(access_request: AccessRequest, occasion: str = "") -> dict[str, Any]:
    """What every message about this request may show."""
    tools = list(RequestTool.objects.filter(request=access_request).select_related("tool"))
    first = tools[0].tool.key if tools else access_request.first_tool_key
    return {
        "req": access_request,
        "occasion": occasion,
        "requester_name": access_request.requester_name,
        "requester_email": access_request.requester_identifier,
        "connector_name": access_request.connector_name,
        "tools": tools,
        "first_tool": tool_label(access_request, first),
        "extra_tools": max(access_request.tool_count - 1, 0),
        "requested_at": _stamp(access_request.requested_at),
        "code": access_request.sms_code,
        "status": access_request.get_status_display(),
        "decided_by": access_request.decided_by_name or "the system",
        "decided_via": access_request.get_decided_via_display(),
        "decided_at": _stamp(access_request.decided_at),
        "grant_expires_at": _stamp(access_request.grant_expires_at),
    }


def _stamp(moment: datetime | None) -> str:
    return timezone.localtime(moment).strftime("%d %b %Y %H:%M %Z") if moment else ""


def tool_label(access_request: AccessRequest, key: str) -> str:
    """A tool's key without its connector's prefix ("events_create"), for short messages."""
    slug = access_request.connector.slug if access_request.connector_id else ""
    for prefix in (f"{slug}_", f"{slug.replace('-', '_')}_"):
        if slug and key.startswith(prefix) and len(key) > len(prefix):
            return key[len(prefix) :]
    return key


def email_texts(name: str, context: dict[str, Any]) -> dict[str, str]:
    """The subject (one line), text body and HTML body of an email template set."""
    subject = render_to_string(f"emails/{name}_subject.txt", context)
    return {
        "subject": " ".join(subject.split())[:300],
        "body_text": render_to_string(f"emails/{name}_body.txt", context).strip() + "\n",
        "body_html": render_to_string(f"emails/{name}_body.html", context),
    }


def sms_text(template: str, context: dict[str, Any]) -> str:
    """Render an SMS, shortening names (then dropping accents) until it fits one segment."""
    text = ""
    for step, limits in enumerate(SMS_SHORTENINGS):
        short = _short_names(context, *limits, fold=step > 0)
        text = " ".join(render_to_string(template, {**context, **short}).split())
        if fits_one_segment(text):
            return text
    log.warning("SMS longer than one segment (is SITE_URL very long?): %s", text)
    return text


def _short_names(
    context: dict[str, Any], name: int, connector: int, tool: int, *, fold: bool
) -> dict[str, str]:
    person = context.get("person")
    extra = context.get("extra_tools", 0)
    if tool:
        tools = context["first_tool"][:tool].strip() + (f" (+{extra})" if extra else "")
    else:
        tools = f"({extra + 1} tools)" if extra else ""
    values = {
        "sms_requester": _shorten_name(context["requester_name"], name),
        "sms_connector": _shorten_words(context["connector_name"], connector),
        "sms_tools": tools,
        "sms_decider": _shorten_name(context["decided_by"], name),
        "sms_person": _shorten_name(person.name, name) if person else "",
    }
    return {key: _gsm_fold(value) if fold else value for key, value in values.items()}


def _shorten_name(full: str, limit: int) -> str:
    """ "Ana Lopez" as is, else "Ana L.", else cut to the limit."""
    if len(full) <= limit:
        return full
    parts = full.split()
    if len(parts) > 1 and len(f"{parts[0]} {parts[-1][0]}.") <= limit:
        return f"{parts[0]} {parts[-1][0]}."
    return full[:limit].strip()


def _shorten_words(text: str, limit: int) -> str:
    """Cut at a word boundary when one is not too far back ("Google Calendar" → "Google")."""
    if len(text) <= limit:
        return text
    cut = text[:limit]
    space = cut.rfind(" ")
    return (cut[:space] if space >= limit // 2 else cut).strip()


def _gsm_fold(value: str) -> str:
    """Drop accents and other characters that would turn an SMS into UCS-2."""
    plain = unicodedata.normalize("NFKD", value).encode("ascii", "ignore").decode()
    return re.sub(r"[^A-Za-z0-9 .,'&()+_@:/-]", "", plain)


def e164(phone: str) -> str:
    """A phone number as +<digits> ("" when there is none)."""
    digits = re.sub(r"\D", "", phone or "")
    return f"+{digits}" if digits else ""


def ensure_sms_code(access_request: AccessRequest) -> str:
    """Give a pending request its SMS reply code: 4 digits, 6 after a few collisions."""
    for attempt in range(SMS_CODE_ATTEMPTS):
        if access_request.sms_code:
            break
        digits = 4 if attempt < SMS_CODE_SHORT_ATTEMPTS else 6
        code = str(10 ** (digits - 1) + secrets.randbelow(9 * 10 ** (digits - 1)))
        pending = AccessRequest.objects.filter(
            pk=access_request.pk, status=AccessRequest.Status.PENDING, sms_code=""
        )
        try:
            # A savepoint: a collision must not break the caller's transaction.
            with transaction.atomic():
                assigned = pending.update(sms_code=code)
        except IntegrityError:
            continue
        if not assigned:  # someone else gave it a code, or it is no longer pending
            access_request.refresh_from_db(fields=["sms_code", "status"])
            break
        access_request.sms_code = code
    return access_request.sms_code

"""Every link of every message, opened in Chromium as a mail scanner would: nothing changes.

The demo-like scenario: Ana's request goes to Dana (Email and SMS) and Lee (Email); a reminder
follows; Dana approves through her link; Lee is told it was decided elsewhere and Ana is told
the outcome. Every message goes out through the real transports (Django's locmem mail backend,
the Twilio SDK against the local Twilio stand-in); every href of the HTML bodies and every URL
of the text and SMS bodies is opened by GET in Chromium against the live server.

Part of the security suite (tests/security/), kept here to share the one Chromium of the session.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from django.core import mail
from django.db import transaction
from playwright.sync_api import expect

from approval_flows.models import Notification
from approval_flows.notifications import notification_send
from requests_app.models import AccessRequest, ApproverLink, RequestEvent
from requests_app.notify import notify_reminder
from tests.factories import PersonFactory, make_request
from tests.security.world import changed_tables, db_fingerprint
from tests.support.twilio import twilio_server  # noqa: F401 (a fixture)

pytestmark = pytest.mark.browser

URL_IN_TEXT = re.compile(r"https?://[^\s<>\"')]+")


class _Hrefs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.hrefs += [value for name, value in attrs if name == "href" and value]


def hrefs(html: str) -> list[str]:
    parser = _Hrefs()
    parser.feed(html)
    return parser.hrefs


def send_outbox() -> None:
    """Send every pending notification through its real transport."""
    for notification_id in Notification.objects.filter(
        status=Notification.Status.PENDING
    ).values_list("id", flat=True):
        assert notification_send(notification_id=notification_id) == "sent"


def links_in_messages(twilio_server, already: set[str]) -> dict[str, str]:  # noqa: F811
    """Every URL of the messages sent so far that was not seen before, with where it was found."""
    found: dict[str, str] = {}
    for message in mail.outbox:
        where = f"email to {message.to[0]}: {message.subject}"
        for url in URL_IN_TEXT.findall(message.body):
            found.setdefault(url, f"{where} (text)")
        for html, _ in message.alternatives:
            for url in hrefs(html):
                found.setdefault(url, f"{where} (html)")
    for sms in twilio_server.messages:
        for url in URL_IN_TEXT.findall(sms["Body"]):
            found.setdefault(url, f"SMS to {sms['To']}")
    return {url: where for url, where in found.items() if url not in already}


def open_like_a_scanner(page, problems, links: dict[str, str], site: str) -> None:
    for url, where in links.items():
        assert url.startswith(site + "/"), f"{where} links off the site: {url}"
        response = page.goto(url)
        assert response is not None and response.status < 500, f"{url} ({where})"
        page.reload()
    # Chromium logs a 4xx of the page itself (a used or decided link) as a console error.
    assert [e for e in problems.errors if not re.search(r"status of 4\d\d", e)] == []


@pytest.fixture
def scenario(
    settings,
    live_server,
    twilio_server,  # noqa: F811
    approver_user,
    requester,
    tools,
    flow,
    security_group,
) -> AccessRequest:
    """Ana's request, notified to Dana (Email, SMS) and Lee (Email), with one reminder."""
    settings.SITE_URL = live_server.url
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    PersonFactory(name="Lee Park", email="lee@example.com").groups.add(security_group)
    created = make_request(
        requester=requester,
        tools=tools[:2],
        flow=flow,
        note="Need to book the quarterly review with the customer.",
    )
    with transaction.atomic():
        notify_reminder(created, 1)
    send_outbox()
    return created


def test_opening_every_link_of_every_message_changes_nothing_then_one_click_decides(
    page,
    problems,
    live_server,
    twilio_server,  # noqa: F811
    scenario: AccessRequest,
):
    asked = links_in_messages(twilio_server, set())
    kinds = {where.split(":")[0].split(" (")[0] for where in asked.values()}
    assert kinds == {"email to dana@example.com", "email to lee@example.com", "SMS to +15550100"}
    assert len(asked) == 6  # a new-request and a reminder link per person and channel
    before = db_fingerprint()

    open_like_a_scanner(page, problems, asked, live_server.url)

    assert changed_tables(before, db_fingerprint()) == []
    scenario.refresh_from_db()
    assert scenario.status == AccessRequest.Status.PENDING
    assert not ApproverLink.objects.filter(used_at__isnull=False).exists()

    dana_email = next(u for u, w in asked.items() if w.startswith("email to dana"))
    page.goto(dana_email)
    page.get_by_role("button", name="Approve").click()
    expect(page.get_by_role("heading", name="Approved")).to_be_visible()
    scenario.refresh_from_db()
    assert (scenario.status, scenario.decided_via) == ("approved", "email")
    decisions = RequestEvent.objects.filter(request=scenario, kind=RequestEvent.Kind.APPROVED)
    assert decisions.count() == 1

    send_outbox()  # Lee: decided elsewhere; Ana: the outcome
    told = links_in_messages(twilio_server, set(asked))
    recipients = {m.to[0] for m in mail.outbox}
    assert {"ana@example.com", "lee@example.com"} <= recipients
    after_decision = db_fingerprint()
    open_like_a_scanner(page, problems, {**asked, **told}, live_server.url)
    assert changed_tables(after_decision, db_fingerprint()) == []
    assert decisions.count() == 1

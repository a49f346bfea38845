"""Approver links: stored hashed; GET only shows, POST decides once, misuse changes nothing."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.test import Client
from django.utils import timezone

from agenwork.crypto import hash_token
from approval_flows.models import Notification
from directory.models import Person
from requests_app.links import (
    LinkSpent,
    Problem,
    link_create,
    link_decide,
    link_resolve,
    link_spend,
    link_url,
)
from requests_app.models import AccessRequest, ApproverLink, RequestApproval, RequestTool
from requests_app.services import Actor, RequestAlreadyDecided, request_approve
from tests.factories import PersonFactory

Status = AccessRequest.Status


@pytest.fixture(autouse=True)
def _static_without_manifest(settings):
    """`make test` runs collectstatic first; a bare pytest run resolves {% static %} from source."""
    if not (Path(settings.STATIC_ROOT) / "staticfiles.json").exists():
        settings.STORAGES = {
            **settings.STORAGES,
            "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
        }


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def dana(approver_user) -> Person:
    return approver_user.person


@pytest.fixture
def pending(dana, access_request) -> AccessRequest:
    """Ana's pending request, created once Dana approves its flow."""
    return access_request


@pytest.fixture
def token(pending, dana) -> str:
    return link_create(access_request=pending, person=dana, channel="email")


def page(token: str) -> str:
    return f"/a/{token}/"


def text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def snapshot(access_request: AccessRequest) -> tuple:
    """Everything a link could change: the request, its tools, history, links, votes, outbox."""
    return (
        AccessRequest.objects.filter(pk=access_request.pk).values().get(),
        sorted(RequestTool.objects.filter(request=access_request).values_list("id", "status")),
        list(access_request.events.values_list("id", flat=True)),
        sorted(ApproverLink.objects.values_list("id", "used_at")),
        RequestApproval.objects.count(),
        Notification.objects.count(),
    )


# --- issuing and resolving ------------------------------------------------------------------------


def test_link_stores_only_the_hash_and_expires_with_the_request(pending, dana, token):
    link = ApproverLink.objects.get(token_hash=hash_token(token))
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", token)
    assert not ApproverLink.objects.filter(token_hash=token).exists()
    assert (link.person, link.channel, link.expires_at) == (dana, "email", pending.timeout_at)


def test_link_without_a_timeout_expires_in_seven_days(pending, dana):
    AccessRequest.objects.filter(pk=pending.pk).update(timeout_at=None)
    pending.refresh_from_db()
    token = link_create(access_request=pending, person=dana, channel="sms")
    link = ApproverLink.objects.get(token_hash=hash_token(token))
    assert abs(link.expires_at - (timezone.now() + timedelta(days=7))) < timedelta(minutes=1)


def test_link_url_is_absolute_on_the_site_url(settings):
    settings.SITE_URL = "https://agenwork.example.com"
    assert link_url("abc") == "https://agenwork.example.com/a/abc/"


def test_tokens_are_never_reused(pending, dana):
    tokens = {link_create(access_request=pending, person=dana, channel="email") for _ in range(20)}
    assert len(tokens) == 20


def test_resolve_reports_each_problem(pending, dana, token):
    assert link_resolve(token).ok
    assert link_resolve(token[:-1] + ("A" if token[-1] != "A" else "B")).problem == Problem.UNKNOWN
    assert link_resolve("x" * 5000).problem == Problem.UNKNOWN
    ApproverLink.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert link_resolve(token).problem == Problem.EXPIRED


def test_a_spent_link_cannot_be_spent_again(token):
    link = link_resolve(token).link
    assert link_spend(link) is True
    assert link_spend(link) is False


def test_deciding_through_a_spent_link_changes_nothing(pending, token):
    check = link_resolve(token)
    link_spend(ApproverLink.objects.get(pk=check.link.pk))
    before = snapshot(pending)
    with pytest.raises(LinkSpent):
        link_decide(link=check.link, approve=True)
    assert snapshot(pending) == before


def test_losing_the_race_leaves_the_link_unspent(pending, token, admin_user):
    check = link_resolve(token)
    request_approve(access_request=pending, actor=Actor.for_user(admin_user))
    with pytest.raises(RequestAlreadyDecided):
        link_decide(link=check.link, approve=False)
    assert ApproverLink.objects.get(pk=check.link.pk).used_at is None
    assert AccessRequest.objects.get(pk=pending.pk).status == Status.APPROVED


# --- GET shows, changes nothing -------------------------------------------------------------------


def test_get_shows_the_request_and_changes_nothing(client, pending, token):
    before = snapshot(pending)
    response = client.get(page(token))
    assert response.status_code == 200
    body = text(response)
    for expected in (
        "Ana Lopez",
        "ana@example.com",
        "Google Calendar",
        "google-calendar_events_create",
        "google-calendar_events_update",
        "Write",
        "Need to book the quarterly review with the customer.",
        "calendarId",
        "QBR",
        'value="approve"',
        'value="deny"',
        "csrfmiddlewaretoken",
    ):
        assert expected in body, expected
    assert snapshot(pending) == before


def test_link_pages_are_private(client, token):
    for response in (client.get(page(token)), client.get(page("nope"))):
        assert response["Cache-Control"] == "no-store"
        assert response["Referrer-Policy"] == "no-referrer"
        assert "noindex" in response["X-Robots-Tag"]


def test_a_mail_scanner_opening_the_link_twice_changes_nothing(client, pending, token):
    before = snapshot(pending)
    client.get(page(token))
    client.head(page(token))
    assert client.get(page(token)).status_code == 200
    assert snapshot(pending) == before


def test_other_methods_are_refused(client, pending, token):
    before = snapshot(pending)
    assert client.put(page(token)).status_code == 405
    assert client.delete(page(token)).status_code == 405
    assert snapshot(pending) == before


# --- POST decides once ----------------------------------------------------------------------------


def test_post_approve_decides_as_the_person_through_the_links_channel(client, pending, token):
    response = client.post(page(token), {"decision": "approve", "comment": "ok for the QBR"})
    assert response.status_code == 200
    pending.refresh_from_db()
    assert (pending.status, pending.decided_by_name, pending.decided_via) == (
        Status.APPROVED,
        "Dana Levi",
        "email",
    )
    assert pending.decided_by is None
    assert pending.comment == "ok for the QBR"
    assert "Approved by Dana Levi via Email" in text(response)
    assert ApproverLink.objects.get(token_hash=hash_token(token)).used_at is not None
    event = pending.events.get(kind="approved")
    assert (event.actor_name, event.channel) == ("Dana Levi", "email")


def test_post_deny_denies_every_tool(client, pending, dana):
    sms_token = link_create(access_request=pending, person=dana, channel="sms")
    response = client.post(page(sms_token), {"decision": "deny"})
    assert response.status_code == 200
    pending.refresh_from_db()
    assert (pending.status, pending.decided_via) == (Status.DENIED, "sms")
    assert set(pending.tools.values_list("status", flat=True)) == {RequestTool.Status.DENIED}
    assert "Denied by Dana Levi via SMS" in text(response)


def test_deciding_spends_every_link_of_that_person(client, pending, dana, token):
    other = link_create(access_request=pending, person=dana, channel="sms")
    client.post(page(token), {"decision": "approve"})
    assert ApproverLink.objects.get(token_hash=hash_token(other)).used_at is not None


def test_post_without_a_choice_changes_nothing(client, pending, token):
    before = snapshot(pending)
    response = client.post(page(token), {"decision": "maybe"})
    assert response.status_code == 400
    assert "Choose Approve or Deny" in text(response)
    assert snapshot(pending) == before


def test_csrf_missing_is_refused(pending, token):
    client = Client(enforce_csrf_checks=True)
    client.get(page(token))
    before = snapshot(pending)
    assert client.post(page(token), {"decision": "approve"}).status_code == 403
    assert snapshot(pending) == before


def page_csrf(client: Client, token: str) -> str:
    body = client.get(page(token)).content.decode()
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', body)[1]


@pytest.mark.parametrize(
    "headers",
    [
        {},
        # What a browser sends for a page served with Referrer-Policy: no-referrer.
        {"HTTP_ORIGIN": "null"},
        {"HTTP_ORIGIN": "null", "secure": True},
        {"HTTP_ORIGIN": "http://testserver"},
    ],
)
def test_the_form_of_the_page_decides_with_its_csrf_token(pending, token, headers):
    client = Client(enforce_csrf_checks=True)
    csrf = page_csrf(client, token)
    data = {"csrfmiddlewaretoken": csrf, "decision": "approve"}
    response = client.post(page(token), data, **headers)
    assert response.status_code == 200
    assert AccessRequest.objects.get(pk=pending.pk).status == Status.APPROVED


def test_a_post_from_a_foreign_origin_is_refused(pending, token):
    client = Client(enforce_csrf_checks=True)
    csrf = page_csrf(client, token)
    before = snapshot(pending)
    data = {"csrfmiddlewaretoken": csrf, "decision": "approve"}
    assert client.post(page(token), data, HTTP_ORIGIN="https://evil.example").status_code == 403
    referer = {"HTTP_REFERER": "https://evil.example/", "secure": True}
    assert client.post(page(token), data, **referer).status_code == 403
    assert snapshot(pending) == before


def test_csrf_with_a_wrong_token_is_refused(pending, token):
    client = Client(enforce_csrf_checks=True)
    page_csrf(client, token)
    before = snapshot(pending)
    data = {"csrfmiddlewaretoken": "x" * 64, "decision": "approve"}
    assert client.post(page(token), data, HTTP_ORIGIN="null").status_code == 403
    assert snapshot(pending) == before


# --- reused, expired, tampered, decided, not allowed ----------------------------------------------


def test_reused_link_changes_nothing_and_says_who_decided(client, pending, token):
    client.post(page(token), {"decision": "approve"})
    before = snapshot(pending)
    response = client.post(page(token), {"decision": "deny"})
    assert response.status_code == 410
    assert "This link was already used" in text(response)
    assert "Approved by Dana Levi via Email" in text(response)
    assert snapshot(pending) == before
    assert client.get(page(token)).status_code == 410


def test_expired_link_changes_nothing_and_says_so(client, pending, token):
    ApproverLink.objects.update(expires_at=timezone.now() - timedelta(minutes=1))
    before = snapshot(pending)
    assert "This link has expired" in text(client.get(page(token)))
    response = client.post(page(token), {"decision": "approve"})
    assert response.status_code == 410
    assert snapshot(pending) == before
    assert 'value="approve"' not in text(response)


@pytest.mark.parametrize(
    "bad",
    [
        "tampered",
        "x" * 43,
        "A" * 10_000,
        "%C3%A9t%C3%A9-%F0%9F%94%91",
        "..%2F..%2Fetc%2Fpasswd",
        "%00",
        "' OR 1=1 --",
    ],
)
def test_bad_tokens_get_a_friendly_404(client, pending, token, bad):
    before = snapshot(pending)
    for response in (client.get(page(bad)), client.post(page(bad), {"decision": "approve"})):
        assert response.status_code == 404
        assert "This link is not valid" in text(response)
    assert snapshot(pending) == before


def test_a_tampered_token_does_not_decide(client, pending, token):
    tampered = token[:10] + ("a" if token[10] != "a" else "b") + token[11:]
    before = snapshot(pending)
    assert client.post(page(tampered), {"decision": "approve"}).status_code == 404
    assert snapshot(pending) == before


def test_link_of_a_decided_request_says_who_decided(client, pending, token, admin_user):
    request_approve(access_request=pending, actor=Actor(name="Ops Admin", channel="web"))
    before = snapshot(pending)
    response = client.get(page(token))
    assert response.status_code == 409
    assert "This request was already decided" in text(response)
    assert "Approved by Ops Admin via Web" in text(response)
    assert client.post(page(token), {"decision": "deny"}).status_code == 409
    assert snapshot(pending) == before


def test_link_of_a_person_who_became_locked_is_refused(client, pending, dana, token):
    Person.objects.filter(pk=dana.pk).update(status=Person.Status.LOCKED)
    before = snapshot(pending)
    assert client.get(page(token)).status_code == 403
    response = client.post(page(token), {"decision": "approve"})
    assert response.status_code == 403
    assert "Your account is locked." in text(response)
    assert snapshot(pending) == before


def test_link_of_a_person_no_longer_an_approver_is_refused(
    client, pending, dana, token, security_group
):
    security_group.members.remove(dana)
    before = snapshot(pending)
    response = client.post(page(token), {"decision": "approve"})
    assert response.status_code == 403
    assert "no longer an approver" in text(response)
    assert snapshot(pending) == before


def test_link_of_the_requester_is_refused(client, pending, requester, security_group):
    security_group.members.add(requester)
    own = link_create(access_request=pending, person=requester, channel="email")
    before = snapshot(pending)
    response = client.post(page(own), {"decision": "approve"})
    assert response.status_code == 403
    assert "Nobody decides their own request." in text(response)
    assert snapshot(pending) == before


def test_link_of_a_backup_approver_decides(client, pending, flow):
    backup = PersonFactory(name="Bea Backup")
    flow.levels.get(position=1).backup_people.add(backup)
    backup_token = link_create(access_request=pending, person=backup, channel="email")
    assert client.post(page(backup_token), {"decision": "approve"}).status_code == 200
    assert AccessRequest.objects.get(pk=pending.pk).decided_by_name == "Bea Backup"


def test_a_locked_person_is_not_told_who_decided(client, pending, dana, token):
    request_approve(access_request=pending, actor=Actor(name="Ops Admin", channel="web"))
    Person.objects.filter(pk=dana.pk).update(status=Person.Status.LOCKED)
    response = client.get(page(token))
    assert response.status_code == 403
    assert "Ops Admin" not in text(response)

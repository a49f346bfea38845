"""Tampered inputs change nothing anywhere in the database, and the answer says why.

Already covered elsewhere, and not repeated here:
- approver links: a few bad tokens, one flipped character, reused, expired, decided, locked or
  removed approver, the requester's own link, CSRF (tests/requests_app/test_links.py);
- Twilio: missing, bad and tampered signatures, no auth token, proxies (tests/requests_app/
  test_sms_replies.py, tests/approval_flows/test_twilio_status.py);
- outgoing webhooks: the HMAC of "t.body", old or future timestamps, malformed headers, replay
  (tests/api/test_webhooks.py); API keys: malformed, wrong secret, revoked
  (tests/gateways/test_api_keys.py, tests/api/test_errors.py).

This file adds what those do not: every character of a token flipped and every truncation,
one approver's link never reaching another request, the whole-database check for refused link
posts, signatures replayed across Twilio endpoints or made with another token, and how keys
and tokens are compared (a hash lookup and a constant-time comparison, never `==`); step-up
links tampered like approver links.
"""

from __future__ import annotations

import hmac
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

import agenwork.crypto
from directory.models import StepUpChallenge
from gateways.services import api_key_authenticate
from requests_app.links import link_create
from requests_app.models import AccessRequest, ApproverLink
from requests_app.services import Actor, request_approve
from tests.factories import link_approval
from tests.security.world import World, changed_tables, db_fingerprint
from tests.support.twilio import AUTH_TOKEN, twilio_signature

pytestmark = pytest.mark.django_db

APPROVE = {"decision": "approve"}


def _flip(token: str, at: int) -> str:
    return token[:at] + ("A" if token[at] != "A" else "B") + token[at + 1 :]


def test_no_single_character_flip_of_a_link_decides(client: Client, world: World):
    token = world.token
    before = db_fingerprint()
    for at in range(len(token)):
        response = client.post(f"/a/{_flip(token, at)}/", APPROVE)
        assert response.status_code == 404, (at, response.status_code)
        assert "This link is not valid" in response.content.decode()
    assert changed_tables(before, db_fingerprint()) == []


def test_no_truncation_or_extension_of_a_link_decides(client: Client, world: World):
    token = world.token
    variants = [token[:length] for length in range(1, len(token))]
    variants += [token + "A", token.upper(), token.lower(), token[::-1], token + "/extra"]
    before = db_fingerprint()
    for variant in variants:
        response = client.post(f"/a/{variant}/", APPROVE)
        assert response.status_code == 404, variant
    assert changed_tables(before, db_fingerprint()) == []


def test_a_link_decides_only_its_own_request_whatever_the_url_says(
    client: Client, world: World, other_approver_user
):
    """Eli's link for the Finance request cannot be aimed at Dana's request."""
    eli_token = link_create(
        access_request=world.other_request, person=other_approver_user.person, channel="email"
    )
    target = world.access_request.public_id
    approval = link_approval(world.other_request, request=target)
    response = client.post(f"/a/{eli_token}/?request={target}", approval)

    assert response.status_code == 200
    world.access_request.refresh_from_db()
    world.other_request.refresh_from_db()
    assert world.access_request.status == AccessRequest.Status.PENDING
    assert world.other_request.status == AccessRequest.Status.APPROVED


def _used(world: World) -> None:
    client = Client()
    assert client.post(f"/a/{world.token}/", link_approval(world.access_request)).status_code == 200


def _expired(world: World) -> None:
    ApproverLink.objects.update(expires_at=timezone.now() - timedelta(seconds=1))


def _decided_elsewhere(world: World) -> None:
    request_approve(access_request=world.access_request, actor=Actor(name="Ops", channel="web"))


@pytest.mark.parametrize(
    ("spoil", "status", "why"),
    [
        (_used, 410, "This link was already used"),
        (_expired, 410, "This link has expired"),
        (_decided_elsewhere, 409, "Approved by Ops"),
    ],
    ids=["reused after the decision", "expired", "decided elsewhere"],
)
def test_a_spent_link_changes_no_row_anywhere_and_says_why(
    client: Client, world: World, spoil, status: int, why: str
):
    spoil(world)
    before = db_fingerprint()

    for decision in ("approve", "deny"):
        response = client.post(f"/a/{world.token}/", {"decision": decision})
        assert response.status_code == status
        assert why in response.content.decode()
    assert changed_tables(before, db_fingerprint()) == []


# --- Twilio: a signature is only good for its own URL and our auth token -------------------------

TWILIO_PATHS = ["/webhooks/twilio/sms", "/webhooks/twilio/status"]
SMS_FORM = {"From": "+15550100", "Body": "A 4821", "MessageSid": "SM" + "0" * 32}


@pytest.fixture
def twilio_settings(settings):
    settings.TWILIO_AUTH_TOKEN = AUTH_TOKEN


@pytest.mark.parametrize("path", TWILIO_PATHS)
def test_a_signature_made_for_the_other_webhook_is_refused(
    client: Client, world: World, twilio_settings, settings, path: str
):
    other = next(p for p in TWILIO_PATHS if p != path)
    signature = twilio_signature(settings.SITE_URL + other, SMS_FORM)
    before = db_fingerprint()

    response = client.post(path, SMS_FORM, HTTP_X_TWILIO_SIGNATURE=signature)

    assert response.status_code == 403
    assert changed_tables(before, db_fingerprint()) == []


@pytest.mark.parametrize("path", TWILIO_PATHS)
def test_a_signature_made_with_another_auth_token_is_refused(
    client: Client, world: World, twilio_settings, settings, path: str
):
    signature = twilio_signature(settings.SITE_URL + path, SMS_FORM, auth_token="not-ours")
    before = db_fingerprint()

    response = client.post(path, SMS_FORM, HTTP_X_TWILIO_SIGNATURE=signature)

    assert response.status_code == 403
    assert changed_tables(before, db_fingerprint()) == []


# --- how secrets are compared ----------------------------------------------------------------


@pytest.fixture
def compare_digest_calls(monkeypatch) -> list[tuple[str, str]]:
    calls: list[tuple[str, str]] = []
    compare_digest = hmac.compare_digest

    def spy(a, b):
        calls.append((a, b))
        return compare_digest(a, b)

    monkeypatch.setattr(agenwork.crypto.hmac, "compare_digest", spy)
    return calls


def test_an_api_key_is_found_by_its_prefix_and_its_secret_compared_in_constant_time(
    world: World, compare_digest_calls, django_assert_num_queries
):
    raw = world.issued.raw_key
    wrong_secret = raw[:-1] + ("A" if raw[-1] != "A" else "B")

    with django_assert_num_queries(1):  # the lookup by prefix; the secret never reaches SQL
        assert api_key_authenticate(wrong_secret) is None

    assert len(compare_digest_calls) == 1
    presented, stored = compare_digest_calls[0]
    assert stored == world.issued.api_key.key_hash
    assert presented != stored and len(presented) == len(stored)


def test_a_revoked_key_is_not_even_compared(world: World, compare_digest_calls):
    assert api_key_authenticate(world.revoked.raw_key) is None
    assert compare_digest_calls == []


def test_a_link_token_is_stored_and_looked_up_only_by_its_hash(world: World):
    rows = str(list(ApproverLink.objects.values()))
    assert world.token not in rows
    assert ApproverLink.objects.filter(token_hash=agenwork.crypto.hash_token(world.token)).exists()


def test_no_flip_truncation_or_extension_of_a_step_up_link_reaches_the_step_up(
    world: World, outsider_user
):
    """The link's own person, signed in, gets a 404 for every variant; nothing is written."""
    client = Client()
    client.force_login(outsider_user)
    token = world.step_up
    variants = [_flip(token, at) for at in range(len(token))]
    variants += [token[:length] for length in range(1, len(token))]
    variants += [token + "A", token.upper(), token.lower(), token[::-1]]
    before = db_fingerprint()
    for variant in variants:
        assert client.post(f"/step-up/{variant}/").status_code == 404, variant
    assert changed_tables(before, db_fingerprint()) == []
    assert str(list(StepUpChallenge.objects.values())).count(token) == 0

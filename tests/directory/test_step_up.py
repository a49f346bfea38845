"""Step-up: the challenge the gateway makes, its link's page, and when a step-up counts.

- Without single sign-on the person types their console password again; with it they sign in
  again at the identity provider (oidc-provider, its forms posted by a plain HTTP agent here;
  tests/browser/test_step_up.py does it in Chromium).
- Every refusal (somebody else, an expired or used link, a stale sign-in at the provider, a
  wrong password) records no step-up.
"""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client
from django.utils import timezone

from audit.models import AuditEntry
from directory.models import StepUp, StepUpChallenge
from directory.oidc import STATE_PREFIX
from directory.step_up import (
    auth_time_is_fresh,
    challenge_find,
    latest_step_up_at,
    step_up_challenge_create,
    step_up_url,
)
from policies.evaluation import Call
from requests_app.decisions import decide_call
from tests.conftest import PASSWORD
from tests.factories import PolicyFactory
from tests.support.identity_provider import sign_in_at_provider

pytestmark = pytest.mark.django_db
CALLBACK = "/accounts/oidc/callback/"


def challenge_for(person, tool_key: str = "google-calendar_delete_event") -> str:
    return step_up_challenge_create(person_id=person.pk, tool_key=tool_key, agent="Claude 1.0")


def page(token: str) -> str:
    return f"/step-up/{token}/"


def audit_actions() -> list[tuple[str, str]]:
    return [
        (e.action, (e.after or {}).get("reason", ""))
        for e in AuditEntry.objects.filter(object_type="step_up").order_by("id")
    ]


@pytest.fixture
def dana(approver_user):
    """Dana, signed in to the console with her password (correct-horse-battery)."""
    approver_user.set_password(PASSWORD)
    approver_user.save()
    return approver_user


@pytest.fixture
def dana_client(dana) -> Client:
    client = Client()
    client.force_login(dana)
    return client


# --- the challenge and the freshness rules ------------------------------------------------------


def test_a_challenge_keeps_only_a_hash_of_its_link_and_expires_after_ten_minutes(dana, settings):
    token = challenge_for(dana.person)

    challenge = StepUpChallenge.objects.get()
    assert token not in challenge.token_hash and len(challenge.token_hash) == 64
    assert challenge.expires_at - challenge.created_at == timedelta(minutes=10)
    assert challenge_find(token) == challenge
    assert challenge_find(token[:-1] + ("A" if token[-1] != "A" else "B")) is None
    assert step_up_url(token) == f"{settings.SITE_URL}/step-up/{token}/"


@pytest.mark.parametrize(
    ("auth_offset", "fresh"),
    [
        (0, True),  # signed in as the step-up started
        (120, True),  # after it
        (-30, True),  # within the clock skew
        (-120, False),  # an earlier sign-in: not a fresh one
        (3600, False),  # in the future beyond the skew
    ],
)
def test_an_auth_time_counts_only_from_the_start_of_the_step_up(auth_offset, fresh):
    started = timezone.now() - timedelta(minutes=5)
    auth_time = (started + timedelta(seconds=auth_offset)).timestamp()
    now = started + timedelta(minutes=5)

    assert auth_time_is_fresh(auth_time, started_at=started, now=now) is fresh


@pytest.mark.parametrize("auth_time", [None, "1700000000", True, float("inf")])
def test_a_missing_or_malformed_auth_time_is_never_fresh(auth_time):
    now = timezone.now()
    assert auth_time_is_fresh(auth_time, started_at=now, now=now) is False


def test_the_engine_window_is_step_up_window_seconds_for_the_gateway_api_too(
    settings, requester, tools
):
    PolicyFactory(connector=tools[0].connector, action="step_up")
    settings.STEP_UP_WINDOW_SECONDS = 60
    key, connector = tools[0].key, tools[0].connector.slug

    def decided(ago: int) -> str:
        at = timezone.now() - timedelta(seconds=ago)
        call = Call(user=requester.email, connector=connector, tools=(key,), step_up_at=at)
        return decide_call(call=call, api_key=None).decision.tools[0].reason_code

    assert decided(30) == "step_up_verified"
    assert decided(90) == "step_up_required"


# --- the page, with the console password (no single sign-on) -----------------------------------


def test_the_page_shows_what_asked_and_get_changes_nothing(dana_client, dana):
    token = challenge_for(dana.person)

    response = dana_client.get(page(token))

    assert response.status_code == 200
    body = response.content.decode()
    assert "google-calendar_delete_event" in body and "Claude 1.0" in body
    assert 'name="password"' in body and "csrfmiddlewaretoken" in body
    assert not AuditEntry.objects.exists()
    assert StepUpChallenge.objects.get().started_at is None


def test_the_password_again_records_the_step_up_until_the_window_ends(dana_client, dana):
    token = challenge_for(dana.person)

    response = dana_client.post(page(token), {"password": PASSWORD})

    assert response.status_code == 200
    assert "Go back to your agent and repeat the call" in response.content.decode()
    step_up = StepUp.objects.get()
    assert (step_up.person, step_up.method) == (dana.person, "password")
    assert timezone.now() - step_up.authenticated_at < timedelta(seconds=10)
    assert latest_step_up_at(dana.person.pk) == step_up.authenticated_at
    valid_until = step_up.authenticated_at + timedelta(minutes=15)
    assert f'data-valid-until="{valid_until.isoformat()}"' in response.content.decode()
    assert StepUpChallenge.objects.get().completed_at is not None
    assert audit_actions() == [("stepped_up", "")]
    entry = AuditEntry.objects.get()
    assert (entry.actor, entry.channel) == (dana, "password")


def test_a_wrong_password_is_refused_audited_and_records_nothing(dana_client, dana):
    token = challenge_for(dana.person)

    response = dana_client.post(page(token), {"password": "not it"})

    assert response.status_code == 400
    assert "That is not your console password." in response.content.decode()
    assert not StepUp.objects.exists()
    assert StepUpChallenge.objects.get().completed_at is None
    assert audit_actions() == [("step_up_refused", "bad_password")]
    # the link still works for the right password
    assert dana_client.post(page(token), {"password": PASSWORD}).status_code == 200


def test_wrong_passwords_are_throttled_like_the_login(dana_client, dana, settings):
    settings.LOGIN_FAILURES_PER_USERNAME = 2
    token = challenge_for(dana.person)
    for _ in range(2):
        assert dana_client.post(page(token), {"password": "not it"}).status_code == 400

    response = dana_client.post(page(token), {"password": PASSWORD})

    assert response.status_code == 429
    assert "Too many wrong passwords" in response.content.decode()
    assert not StepUp.objects.exists()


def test_a_used_link_is_refused_and_says_so(dana_client, dana):
    token = challenge_for(dana.person)
    dana_client.post(page(token), {"password": PASSWORD})

    again = dana_client.post(page(token), {"password": PASSWORD})
    shown = dana_client.get(page(token))

    assert again.status_code == 410
    assert "already used" in again.content.decode()
    assert StepUp.objects.count() == 1
    assert audit_actions() == [("stepped_up", ""), ("step_up_refused", "used")]
    assert shown.status_code == 200
    assert "This link was used already" in shown.content.decode()


def test_an_expired_link_gets_a_clear_page_and_records_nothing(dana_client, dana):
    token = challenge_for(dana.person)
    StepUpChallenge.objects.update(expires_at=timezone.now() - timedelta(seconds=1))

    shown = dana_client.get(page(token))
    posted = dana_client.post(page(token), {"password": PASSWORD})

    assert shown.status_code == posted.status_code == 410
    assert "has expired" in shown.content.decode()
    assert not StepUp.objects.exists()
    assert audit_actions() == [("step_up_refused", "expired")]


def test_somebody_else_signed_in_is_refused_and_nothing_is_written(
    dana, outsider_client, requester
):
    token = challenge_for(dana.person)

    shown = outsider_client.get(page(token))
    posted = outsider_client.post(page(token), {"password": PASSWORD})

    assert shown.status_code == posted.status_code == 403
    assert "made for another person" in shown.content.decode()
    assert not StepUp.objects.exists() and not AuditEntry.objects.exists()
    assert StepUpChallenge.objects.get().completed_at is None


def test_an_anonymous_visitor_is_sent_to_the_login_first(client, dana):
    token = challenge_for(dana.person)

    response = client.get(page(token))

    assert response.status_code == 302
    assert response["Location"] == f"/accounts/login/?next=/step-up/{token}/"


@pytest.mark.parametrize("token", ["nope", "A" * 43, "a" * 200, "%00" * 20])
def test_garbage_tokens_are_404(dana_client, token):
    assert dana_client.get(page(token)).status_code == 404
    assert dana_client.post(page(token)).status_code == 404


# --- the page, with single sign-on: a fresh login at the identity provider ---------------------


def start_at_provider(client: Client, token: str) -> str:
    """POST the page's button; the provider's URL that the answer moves on to."""
    response = client.post(page(token))
    assert response.status_code == 200, response.content
    assert response.context["state"] == "continue"
    return response.context["provider_url"]


def answer_of_provider(client: Client, settings, url: str, login: str):
    back = sign_in_at_provider(url, login, redirect_uri=settings.SITE_URL + CALLBACK)
    return client.get(CALLBACK + "?" + urlsplit(back).query)


def test_with_sso_the_person_signs_in_again_at_the_provider(
    dana_client, dana, settings, single_sign_on, sso_people
):
    token = challenge_for(dana.person)
    shown = dana_client.get(page(token))
    assert "Sign in again with Acme SSO" in shown.content.decode()
    assert 'name="password"' not in shown.content.decode()

    url = start_at_provider(dana_client, token)
    query = parse_qs(urlsplit(url).query)
    response = answer_of_provider(dana_client, settings, url, "dana")

    assert query["prompt"] == ["login"] and query["max_age"] == ["0"]
    assert response.status_code == 200, response.content
    assert "Go back to your agent and repeat the call" in response.content.decode()
    step_up = StepUp.objects.get()
    assert (step_up.person, step_up.method) == (dana.person, "oidc")
    assert timezone.now() - step_up.authenticated_at < timedelta(seconds=30)
    assert audit_actions() == [("step_up_started", ""), ("stepped_up", "")]
    assert dana_client.session["signin"]["auth_time"] == int(step_up.authenticated_at.timestamp())
    assert dana_client.session["_auth_user_id"] == str(dana.pk)  # the same login, not a new one


def test_with_sso_signing_in_as_somebody_else_at_the_provider_is_refused(
    dana_client, dana, settings, single_sign_on, sso_people
):
    token = challenge_for(dana.person)
    url = start_at_provider(dana_client, token)

    response = answer_of_provider(dana_client, settings, url, "ana")

    assert response.status_code == 403
    assert "You signed in as somebody else" in response.content.decode()
    assert not StepUp.objects.exists()
    assert audit_actions() == [("step_up_started", ""), ("step_up_refused", "wrong_subject")]
    assert dana_client.session["_auth_user_id"] == str(dana.pk)  # not signed in as Ana


def test_with_sso_a_sign_in_older_than_the_step_up_is_refused(
    dana_client, dana, settings, single_sign_on, sso_people
):
    """A provider that ignored prompt=login answers with the sign-in it had: stale."""
    token = challenge_for(dana.person)
    url = start_at_provider(dana_client, token)
    state = parse_qs(urlsplit(url).query)["state"][0]
    session = dana_client.session
    pending = session[STATE_PREFIX + state]
    later = (timezone.now() + timedelta(minutes=10)).timestamp()
    pending["data"]["step_up"]["started_at"] = later  # the provider's login predates the start
    session[STATE_PREFIX + state] = pending
    session.save()

    response = answer_of_provider(dana_client, settings, url, "dana")

    assert response.status_code == 400
    assert "did not sign you in again" in response.content.decode()
    assert not StepUp.objects.exists()
    assert audit_actions() == [("step_up_started", ""), ("step_up_refused", "stale_auth_time")]


def test_with_sso_a_link_that_expires_at_the_provider_records_nothing(
    dana_client, dana, settings, single_sign_on, sso_people
):
    token = challenge_for(dana.person)
    url = start_at_provider(dana_client, token)
    StepUpChallenge.objects.update(expires_at=timezone.now() - timedelta(seconds=1))

    response = answer_of_provider(dana_client, settings, url, "dana")

    assert response.status_code == 410
    assert not StepUp.objects.exists()
    assert audit_actions() == [("step_up_started", ""), ("step_up_refused", "expired")]

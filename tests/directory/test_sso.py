"""Console sign-in through the company's identity provider, against a real one (oidc-provider).

- The provider's own login and consent forms are posted by a plain HTTP agent here
  (tests/support/identity_provider.py); tests/browser/test_sso_login.py does it in Chromium.
- A person of the directory signs in by verified email or external id; everybody else is
  refused with a page that says why, no login is created, and the audit trail has one line.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from audit.models import AuditEntry
from directory.models import Person
from directory.oidc import STATE_PREFIX
from tests.factories import UserFactory
from tests.support.identity_provider import sign_in_at_provider
from tests.support.ports import free_port

pytestmark = pytest.mark.django_db
CALLBACK = "/accounts/oidc/callback/"


def start(client: Client, next_url: str = "") -> str:
    """Follow the login page's link; the URL of the provider it sends the browser to."""
    response = client.get("/accounts/oidc/start/", {"next": next_url} if next_url else {})
    assert response.status_code == 302, response.content
    return response["Location"]


def sign_in(client: Client, settings, login: str, next_url: str = ""):
    """The whole sign-in as `login`: start, the provider's forms, the callback."""
    url = start(client, next_url)
    back = sign_in_at_provider(url, login, redirect_uri=settings.SITE_URL + CALLBACK)
    return client.get(CALLBACK + "?" + urlsplit(back).query)


def users() -> int:
    return get_user_model().objects.count()


def test_the_button_sends_the_browser_to_the_provider_with_pkce_state_and_nonce(
    client, settings, single_sign_on, identity_provider
):
    url = start(client)

    parts = urlsplit(url)
    query = {key: values[0] for key, values in parse_qs(parts.query).items()}
    assert f"{parts.scheme}://{parts.netloc}" == identity_provider.issuer
    assert query["response_type"] == "code"
    assert query["client_id"] == single_sign_on.client_id
    assert query["redirect_uri"] == settings.SITE_URL + CALLBACK
    assert query["code_challenge_method"] == "S256"
    assert len(query["code_challenge"]) == 43  # base64url of a SHA-256
    assert len(query["state"]) >= 20 and len(query["nonce"]) >= 20
    assert set(query["scope"].split()) == {"openid", "email", "profile"}
    pending = client.session[STATE_PREFIX + query["state"]]["data"]
    assert pending["nonce"] == query["nonce"] and pending["code_verifier"]


def test_a_verified_person_of_the_directory_signs_in_and_gets_a_login(
    client, settings, single_sign_on, sso_people
):
    response = sign_in(client, settings, "ana")

    assert response.status_code == 302
    ana = Person.objects.select_related("user").get(email="ana@example.com")
    assert ana.user is not None
    assert ana.user.username == "ana@example.com"
    assert not ana.user.is_staff and not ana.user.has_usable_password()
    assert client.session["_auth_user_id"] == str(ana.user.pk)
    assert client.session["signin"]["method"] == "oidc"
    entry = AuditEntry.objects.get(action=AuditEntry.Action.SIGNED_IN)
    assert (entry.object_type, entry.object_id, entry.channel) == ("person", str(ana.pk), "oidc")
    assert entry.after["login_created"] is True and entry.after["matched_by"] == "email"


def test_a_person_with_a_login_signs_in_with_it_and_keeps_their_role(
    client, settings, single_sign_on, sso_people, approver_user
):
    before = users()

    response = sign_in(client, settings, "dana", next_url="/requests/?status=pending")

    assert response.status_code == 302
    assert response["Location"] == "/requests/?status=pending"
    assert client.session["_auth_user_id"] == str(approver_user.pk)
    assert users() == before
    assert client.get("/requests/").status_code == 200  # an approver, as before
    assert client.get("/policies/").status_code == 403  # and still not an admin


def test_a_person_is_found_by_external_id_when_the_email_is_another(
    client, settings, single_sign_on, sso_people
):
    response = sign_in(client, settings, "emp-0042")

    assert response.status_code == 302
    kim = Person.objects.select_related("user").get(external_id="emp-0042")
    assert client.session["_auth_user_id"] == str(kim.user.pk)
    entry = AuditEntry.objects.get(action=AuditEntry.Action.SIGNED_IN)
    assert entry.after["matched_by"] == "external_id"


@pytest.mark.parametrize(
    ("login", "reason", "says"),
    [
        ("oscar", "not_in_directory", "directory does not list you"),
        ("mallory", "email_not_verified", "verified the email address"),
        ("lena", "locked", "locked your access"),
    ],
)
def test_nobody_else_gets_in_and_no_login_is_made(
    client, settings, single_sign_on, sso_people, login, reason, says
):
    before = users()

    response = sign_in(client, settings, login)

    assert response.status_code == 403
    assert says in response.content.decode()
    assert "_auth_user_id" not in client.session
    assert users() == before
    assert Person.objects.get(email="ana@example.com").user_id is None
    entry = AuditEntry.objects.get()
    assert entry.action == AuditEntry.Action.REFUSED
    assert entry.after["reason"] == reason and entry.channel == "oidc"


def test_an_admin_disabled_login_is_refused(client, settings, single_sign_on, sso_people):
    dana = get_user_model().objects.get(username="dana")
    dana.is_active = False
    dana.save()

    response = sign_in(client, settings, "dana")

    assert response.status_code == 403
    assert "_auth_user_id" not in client.session
    assert AuditEntry.objects.get().after["reason"] == "login_disabled"


def test_a_login_that_already_has_the_email_as_its_name_is_never_taken_over(
    client, settings, single_sign_on, sso_people
):
    """An unlinked staff login named like Ana's email stays unlinked and Ana is no admin."""
    UserFactory(username="ana@example.com", is_staff=True)

    sign_in(client, settings, "ana")

    ana = Person.objects.select_related("user").get(email="ana@example.com")
    assert ana.user.username == f"ana@example.com-{ana.pk}"
    assert not ana.user.is_staff
    assert client.get("/policies/").status_code == 403


def test_a_tampered_state_is_refused_and_the_genuine_answer_still_works_once(
    client, settings, single_sign_on, sso_people
):
    url = start(client)
    back = sign_in_at_provider(url, "ana", redirect_uri=settings.SITE_URL + CALLBACK)
    query = parse_qs(urlsplit(back).query)
    code, state = query["code"][0], query["state"][0]

    tampered = client.get(CALLBACK, {"code": code, "state": state[:-2] + "xx"})
    genuine = client.get(CALLBACK, {"code": code, "state": state})
    replayed = client.get(CALLBACK, {"code": code, "state": state})

    assert tampered.status_code == 400
    assert "cannot be finished" in tampered.content.decode()
    assert genuine.status_code == 302
    assert replayed.status_code == 400
    actions = list(AuditEntry.objects.order_by("id").values_list("action", "after__reason"))
    # The replay comes when no sign-in is pending: refused, logged, not audited.
    assert actions == [("refused", "state_mismatch"), ("signed_in", None)]


def test_a_callback_replayed_in_another_browser_is_refused_and_stores_nothing(
    client, settings, single_sign_on, sso_people
):
    url = start(client)
    back = sign_in_at_provider(url, "ana", redirect_uri=settings.SITE_URL + CALLBACK)
    before = users()

    stolen = Client().get(CALLBACK + "?" + urlsplit(back).query)

    assert stolen.status_code == 400
    assert users() == before
    assert not AuditEntry.objects.exists()


def test_the_provider_saying_no_is_told_and_audited(client, settings, single_sign_on, sso_people):
    state = parse_qs(urlsplit(start(client)).query)["state"][0]

    response = client.get(CALLBACK, {"error": "access_denied", "state": state})

    assert response.status_code == 400
    assert "did not sign you in" in response.content.decode()
    assert AuditEntry.objects.get().after["reason"] == "provider_error"


def test_a_code_from_another_sign_in_is_refused_by_the_provider(
    client, settings, single_sign_on, sso_people
):
    """A code is bound to its PKCE verifier: spliced into another pending sign-in, it fails."""
    first = start(client)
    second = start(client)
    back = sign_in_at_provider(first, "ana", redirect_uri=settings.SITE_URL + CALLBACK)
    code = parse_qs(urlsplit(back).query)["code"][0]
    other_state = parse_qs(urlsplit(second).query)["state"][0]

    response = client.get(CALLBACK, {"code": code, "state": other_state})

    assert response.status_code == 400
    assert "_auth_user_id" not in client.session
    assert AuditEntry.objects.get().after["reason"] == "token_refused"


def test_an_outside_next_is_dropped(client, settings, single_sign_on, sso_people):
    response = sign_in(client, settings, "dana", next_url="https://evil.example/steal")

    assert response.status_code == 302
    assert response["Location"] == "/"


def test_the_login_page_offers_the_provider_and_keeps_the_password_login(
    client, single_sign_on, admin_user
):
    page = client.get("/accounts/login/").content.decode()

    assert "Sign in with Acme SSO" in page
    assert 'name="password"' in page
    response = client.post(
        "/accounts/login/", {"username": "admin", "password": "correct-horse-battery"}
    )
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(admin_user.pk)
    entry = AuditEntry.objects.get()
    assert (entry.action, entry.channel, entry.actor) == ("signed_in", "password", admin_user)


def test_without_single_sign_on_the_login_page_is_the_password_form_alone(client):
    page = client.get("/accounts/login/").content.decode()

    assert "Sign in with" not in page
    assert client.get("/accounts/oidc/start/").status_code == 404
    assert client.get(CALLBACK, {"state": "x", "code": "y"}).status_code == 404


def test_an_unreachable_provider_is_a_clear_page(client, settings, single_sign_on):
    settings.OIDC_ISSUER = f"http://127.0.0.1:{free_port()}"

    response = client.get("/accounts/oidc/start/")

    assert response.status_code == 502
    assert "could not reach the identity provider" in response.content.decode()
    assert not any(key.startswith(STATE_PREFIX) for key, _ in client.session.items())


def test_a_discovery_document_of_another_issuer_is_refused(
    client, settings, single_sign_on, identity_provider
):
    settings.OIDC_ISSUER = identity_provider.issuer + "/"  # the same document, another name

    response = client.get("/accounts/oidc/start/")

    assert response.status_code == 502
    assert "not set up correctly" in response.content.decode()


def test_both_ends_are_links_that_refuse_a_post(client, single_sign_on):
    assert client.post("/accounts/oidc/start/").status_code == 405
    assert client.post(CALLBACK).status_code == 405


def test_admins_see_sign_ins_and_refusals_in_activity(
    client, settings, single_sign_on, sso_people, admin_user
):
    sign_in(Client(), settings, "oscar")
    sign_in(Client(), settings, "ana")
    client.force_login(admin_user)

    refusals = client.get("/activity/", {"object_type": "sign_in"}).content.decode()
    everything = client.get("/activity/").content.decode()

    assert "Sign-in refused" in refusals and "oscar@elsewhere.example" in refusals
    assert "Ana Lopez" not in refusals
    assert "Signed in" in everything and "Ana Lopez" in everything

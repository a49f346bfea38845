"""The gateway's OAuth authorization server on the web process: metadata, registration, the
consent page, and refusals that grant nothing (the whole flow: tests/browser/test_oauth_agent.py).
"""

from __future__ import annotations

import base64
import hashlib
import json
from urllib.parse import urlencode

import pytest
from oauth2_provider.models import get_access_token_model, get_application_model, get_grant_model

from audit.models import AuditEntry
from tests.factories import PersonFactory, UserFactory

pytestmark = pytest.mark.django_db

GATEWAY = "http://127.0.0.1:8300/mcp"
REDIRECT = "http://127.0.0.1:33418/callback"
VERIFIER = "a-verifier-long-enough-for-pkce-0123456789-abcdefghijk"


@pytest.fixture(autouse=True)
def gateway_url(settings):
    settings.MCP_GATEWAY_URL = GATEWAY


def challenge(verifier: str = VERIFIER) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def register(client, **metadata):
    body = {
        "client_name": "Claude Desktop",
        "redirect_uris": [REDIRECT],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "none",
        **metadata,
    }
    return client.post("/oauth/register", json.dumps(body), content_type="application/json")


def authorize_url(client_id: str, **params) -> str:
    query = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": REDIRECT,
        "code_challenge": challenge(),
        "code_challenge_method": "S256",
        "state": "xyz",
        "scope": "mcp",
        "resource": GATEWAY,
        **params,
    }
    return "/oauth/authorize/?" + urlencode({k: v for k, v in query.items() if v is not None})


def granted() -> tuple[int, int]:
    """Grants and access tokens of agents (DCR's registration tokens have no user)."""
    tokens = get_access_token_model().objects.filter(user__isnull=False).count()
    return get_grant_model().objects.count(), tokens


@pytest.fixture
def ben(db):
    user = UserFactory(username="ben")
    return PersonFactory(name="Ben Kim", email="ben@example.com", user=user)


def test_metadata_names_the_endpoints_s256_only_and_the_issuer(client, settings):
    data = client.get("/.well-known/oauth-authorization-server").json()
    site = settings.SITE_URL
    assert data["issuer"] == site
    assert data["authorization_endpoint"] == f"{site}/oauth/authorize/"
    assert data["token_endpoint"] == f"{site}/oauth/token/"
    assert data["registration_endpoint"] == f"{site}/oauth/register"
    assert data["code_challenge_methods_supported"] == ["S256"]
    assert data["response_types_supported"] == ["code"]
    assert "mcp" in data["scopes_supported"]
    # Only what registration accepts: public clients of the code flow.
    assert data["grant_types_supported"] == ["authorization_code", "refresh_token"]
    assert data["token_endpoint_auth_methods_supported"] == ["none"]


def test_registration_of_a_public_client(client):
    response = register(client)
    assert response.status_code == 201
    data = response.json()
    assert data["token_endpoint_auth_method"] == "none" and "client_secret" not in data
    app = get_application_model().objects.get(client_id=data["client_id"])
    assert app.name == "Claude Desktop" and app.client_type == "public"
    assert app.redirect_uris == REDIRECT


@pytest.mark.parametrize(
    ("metadata", "says"),
    [
        ({"token_endpoint_auth_method": "client_secret_basic"}, "public client"),
        ({"redirect_uris": []}, "redirect_uris"),
        ({"redirect_uris": "http://x/cb"}, "redirect_uris must be an array"),
        ({"redirect_uris": ["javascript:alert(1)"]}, "redirect_uris"),
        ({"redirect_uris": ["not a url"]}, "redirect_uris"),
        ({"grant_types": ["password"]}, "grant"),
        ({"redirect_uris": ["http://agent.example.com/cb"]}, "on this machine"),
    ],
)
def test_bad_registrations_are_a_clear_400_and_store_nothing(client, metadata, says):
    response = register(client, **metadata)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_client_metadata"
    assert says in response.json()["error_description"]
    assert get_application_model().objects.count() == 0


def test_registration_refuses_a_body_that_is_not_json(client):
    response = client.post("/oauth/register", "{nope", content_type="application/json")
    assert response.status_code == 400 and response.json()["error"] == "invalid_client_metadata"
    assert get_application_model().objects.count() == 0


def test_authorize_sends_an_anonymous_visitor_to_the_console_login(client):
    client_id = register(client).json()["client_id"]
    response = client.get(authorize_url(client_id))
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_consent_page_shows_the_client_and_its_redirect_address(client, ben):
    client_id = register(client).json()["client_id"]
    client.force_login(ben.user)
    response = client.get(authorize_url(client_id))
    page = response.content.decode()
    assert response.status_code == 200
    assert "Claude Desktop" in page and REDIRECT in page and "ben@example.com" in page
    assert "csrfmiddlewaretoken" in page
    assert granted() == (0, 0)  # GET grants nothing


@pytest.mark.parametrize(
    ("params", "says"),
    [
        ({"resource": "https://elsewhere.example.com/mcp"}, "issues tokens for"),
        ({"resource": None}, "Name the resource"),
    ],
)
def test_authorize_refuses_another_resource(client, ben, params, says):
    client_id = register(client).json()["client_id"]
    client.force_login(ben.user)
    response = client.get(authorize_url(client_id, **params))
    assert response.status_code == 400 and says in response.content.decode()
    assert granted() == (0, 0)
    assert not AuditEntry.objects.filter(object_type="agent_authorization").exists()  # a GET


@pytest.mark.parametrize(
    "params",
    [
        {"redirect_uri": "http://127.0.0.1:33418/elsewhere"},
        {"redirect_uri": REDIRECT + "/"},
        {"code_challenge": None, "code_challenge_method": None},
        {"code_challenge_method": "plain", "code_challenge": VERIFIER},
    ],
)
def test_authorize_refuses_a_wrong_redirect_or_no_s256_challenge(client, ben, params):
    client_id = register(client).json()["client_id"]
    client.force_login(ben.user)
    response = client.get(authorize_url(client_id, **params))
    assert response.status_code in (302, 400)
    location = response.get("Location", "")
    assert not location.startswith(params.get("redirect_uri") or "http://nowhere/") or (
        "error=" in location
    )
    if response.status_code == 302:  # to the client's registered address, with an error
        assert location.startswith(REDIRECT + "?") and "error=" in location
    assert "code=" not in location
    assert granted() == (0, 0)
    assert not AuditEntry.objects.filter(object_type="agent_authorization").exists()  # a GET


def consent_fields(client_id: str, **changes) -> dict[str, str]:
    """What the consent page's form posts for this client (Allow), with `changes` over it."""
    fields = {
        "allow": "Authorize",
        "client_id": client_id,
        "redirect_uri": REDIRECT,
        "response_type": "code",
        "scope": "mcp",
        "code_challenge": challenge(),
        "code_challenge_method": "S256",
        "resource": GATEWAY,
    }
    return {name: value for name, value in {**fields, **changes}.items() if value is not None}


def test_consent_post_without_csrf_is_refused(ben):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    client_id = register(strict).json()["client_id"]
    strict.force_login(ben.user)
    response = strict.post("/oauth/authorize/", consent_fields(client_id))
    assert response.status_code == 403
    assert granted() == (0, 0)


def consented_code(client, person, client_id: str) -> str:
    """The code the consent page's Allow sends to the client's redirect address."""
    client.force_login(person.user)
    response = client.post("/oauth/authorize/", consent_fields(client_id, state="xyz"))
    assert response.status_code == 302 and response["Location"].startswith(REDIRECT + "?")
    query = dict(pair.split("=", 1) for pair in response["Location"].split("?", 1)[1].split("&"))
    assert query["state"] == "xyz"
    return query["code"]


def exchange(client, client_id: str, **fields):
    body = {
        "grant_type": "authorization_code",
        "client_id": client_id,
        "redirect_uri": REDIRECT,
        "code_verifier": VERIFIER,
        "resource": GATEWAY,
        **fields,
    }
    return client.post("/oauth/token/", {k: v for k, v in body.items() if v is not None})


def test_a_code_works_once_and_binds_the_token_to_the_gateway(client, ben):
    client_id = register(client).json()["client_id"]
    code = consented_code(client, ben, client_id)
    first = exchange(client, client_id, code=code)
    assert first.status_code == 200, first.content
    tokens = first.json()
    assert tokens["scope"] == "mcp" and tokens["refresh_token"]
    stored = get_access_token_model().objects.get(user=ben.user)
    assert stored.resource == [GATEWAY]
    assert stored.token == ""  # stored as its SHA-256 only
    assert stored.token_checksum == hashlib.sha256(tokens["access_token"].encode()).hexdigest()

    entry = AuditEntry.objects.get(object_type="agent_authorization")
    assert (entry.actor, entry.object_id, entry.object_repr) == (
        ben.user,
        client_id,
        "Claude Desktop for ben@example.com",
    )
    assert entry.after["redirect_uri"] == REDIRECT and entry.after["resource"] == GATEWAY

    replay = exchange(client, client_id, code=code)
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"
    assert get_access_token_model().objects.filter(user=ben.user).count() == 1
    refused = AuditEntry.objects.get(object_type="agent_authorization", action="refused")
    assert "authorization code was refused" in refused.after["reason"]
    assert refused.after["error"] == "invalid_grant" and refused.channel == "oauth"


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"code_verifier": None}, "invalid_request"),
        (
            {"code_verifier": "another-verifier-long-enough-for-pkce-0123456789-abc"},
            "invalid_grant",
        ),
        ({"redirect_uri": "http://127.0.0.1:33418/elsewhere"}, "invalid_request"),
        ({"resource": "https://elsewhere.example.com/mcp"}, "invalid_target"),
    ],
)
def test_a_code_with_a_wrong_verifier_redirect_or_resource_grants_nothing(
    client, ben, fields, error
):
    client_id = register(client).json()["client_id"]
    code = consented_code(client, ben, client_id)
    response = exchange(client, client_id, code=code, **fields)
    assert response.status_code in (400, 401)
    assert response.json()["error"] in {error, "invalid_grant", "invalid_request"}
    assert not get_access_token_model().objects.filter(user=ben.user).exists()


def test_refresh_rotates_and_a_reused_refresh_token_revokes_the_family(client, ben):
    client_id = register(client).json()["client_id"]
    tokens = exchange(client, client_id, code=consented_code(client, ben, client_id)).json()

    def refresh(token: str):
        return client.post(
            "/oauth/token/",
            {"grant_type": "refresh_token", "refresh_token": token, "client_id": client_id},
        )

    rotated = refresh(tokens["refresh_token"])
    assert rotated.status_code == 200, rotated.content
    fresh = rotated.json()
    assert fresh["refresh_token"] != tokens["refresh_token"]
    live = get_access_token_model().objects.get(user=ben.user)
    assert live.resource == [GATEWAY]  # the refreshed token stays bound to the gateway

    reused = refresh(tokens["refresh_token"])
    assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant"
    revoked = AuditEntry.objects.get(object_type="agent_authorization", action="revoked")
    assert revoked.actor == ben.user and "reuse detection" in revoked.after["by"]
    # the whole family is revoked: the live access token is gone, its refresh token refused
    assert not get_access_token_model().objects.filter(user=ben.user).exists()
    assert refresh(fresh["refresh_token"]).status_code == 400


@pytest.mark.parametrize(
    "path", ["/.well-known/oauth-authorization-server", "/oauth/token/", "/oauth/register"]
)
def test_pages_of_any_origin_may_call_the_agents_endpoints_without_cookies(client, path):
    origin = {"HTTP_ORIGIN": "http://localhost:6274"}
    preflight = client.options(
        path,
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="content-type, mcp-protocol-version",
        **origin,
    )
    assert preflight.status_code == 204
    assert preflight["Access-Control-Allow-Origin"] == "*"
    assert "mcp-protocol-version" in preflight["Access-Control-Allow-Headers"].lower()
    assert "Access-Control-Allow-Credentials" not in preflight
    answer = (
        client.get(path, **origin) if path.startswith("/.well") else client.post(path, **origin)
    )
    assert answer["Access-Control-Allow-Origin"] == "*"


def test_the_consent_page_is_not_open_to_other_origins(client, ben):
    client_id = register(client).json()["client_id"]
    client.force_login(ben.user)
    response = client.get(authorize_url(client_id), HTTP_ORIGIN="http://localhost:6274")
    assert "Access-Control-Allow-Origin" not in response


def test_cancel_on_the_consent_page_grants_nothing_and_says_so_to_the_agent(client, ben):
    client_id = register(client).json()["client_id"]
    client.force_login(ben.user)
    response = client.post(
        "/oauth/authorize/",
        consent_fields(client_id, state="xyz", allow=None),  # Cancel
    )
    assert response.status_code == 302
    assert response["Location"].startswith(REDIRECT + "?error=access_denied")
    assert granted() == (0, 0)
    entry = AuditEntry.objects.get(object_type="agent_authorization")
    assert (entry.action, entry.actor) == ("refused", ben.user)
    assert entry.after["reason"] == "The person refused the agent on the consent page."


def test_an_agent_revoking_its_token_rfc7009_is_audited_once(client, ben):
    client_id = register(client).json()["client_id"]
    tokens = exchange(client, client_id, code=consented_code(client, ben, client_id)).json()

    def revoke(token: str):
        return client.post("/oauth/revoke/", {"token": token, "client_id": client_id})

    assert revoke(tokens["refresh_token"]).status_code == 200
    assert revoke(tokens["refresh_token"]).status_code == 200  # again: nothing left to revoke
    entry = AuditEntry.objects.get(object_type="agent_authorization", action="revoked")
    assert entry.actor == ben.user and "RFC 7009" in entry.after["by"]
    assert not get_access_token_model().objects.filter(user=ben.user).exists()


def test_metadata_says_client_id_metadata_documents_are_supported(client, settings):
    assert (
        client.get("/.well-known/oauth-authorization-server").json()[
            "client_id_metadata_document_supported"
        ]
        is True
    )
    settings.OAUTH2_PROVIDER = {**settings.OAUTH2_PROVIDER, "CIMD_ENABLED": False}
    assert (
        client.get("/.well-known/oauth-authorization-server").json()[
            "client_id_metadata_document_supported"
        ]
        is False
    )


def test_a_consent_posted_for_another_resource_is_refused_and_audited(client, ben):
    client_id = register(client).json()["client_id"]
    client.force_login(ben.user)
    response = client.post(
        "/oauth/authorize/",
        consent_fields(client_id, resource="https://elsewhere.example.com/mcp"),
    )
    assert response.status_code == 400
    assert granted() == (0, 0)
    entry = AuditEntry.objects.get(object_type="agent_authorization")
    assert (entry.action, entry.actor) == ("refused", ben.user)
    assert "issues tokens for" in entry.after["reason"]
    assert entry.object_repr == "Claude Desktop for ben@example.com"

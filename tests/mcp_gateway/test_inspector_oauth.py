"""The MCP Inspector 0.15 (Node 20) signs in by OAuth: the requests it made against `make run`,
replayed. Recorded from a real session (Chromium on the Inspector's page, its proxy on 6277).

Its Connect goes through its proxy, which relays the gateway's 401 as a JSON-RPC error whose text
only holds the 401's body: the page starts OAuth when that text says "Unauthorized". Its browser
side then reads the protected resource metadata at the gateway's origin root (not the 401's
resource_metadata), registers, sends the person to the consent page and trades the code.
"""

from __future__ import annotations

import json
import re
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from oauth2_provider.models import get_access_token_model
from starlette.testclient import TestClient

from mcp_gateway.server import gateway_app
from tests.factories import PersonFactory, UserFactory

pytestmark = pytest.mark.django_db

GATEWAY = "http://127.0.0.1:8450/mcp"
SITE = "http://127.0.0.1:8150"
INSPECTOR = "http://localhost:6274"
CALLBACK = f"{INSPECTOR}/oauth/callback"
VERIFIER = "YFGOz6Fr6XYc.RclXnav4UL4Ltqv3O3VgsbI0svxc8t"
CHALLENGE = "7y9L4jtOB2nAuAtEibT3ayIdIcUnqveQ_SNUdjbIDWk"  # S256 of VERIFIER, as it sent them
PROTOCOL = {"MCP-Protocol-Version": "2025-06-18"}

# Its POST /oauth/register, byte for byte.
REGISTRATION = {
    "redirect_uris": [CALLBACK],
    "token_endpoint_auth_method": "none",
    "grant_types": ["authorization_code", "refresh_token"],
    "response_types": ["code"],
    "client_name": "MCP Inspector",
    "client_uri": "https://github.com/modelcontextprotocol/inspector",
}
INITIALIZE = {
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {"sampling": {}, "roots": {"listChanged": True}},
        "clientInfo": {"name": "mcp-inspector", "version": "0.15.0"},
    },
    "jsonrpc": "2.0",
    "id": 0,
}


@pytest.fixture
def gateway(settings) -> TestClient:
    """The gateway's ASGI app in this process (no lifespan: no upstreams, no token is valid)."""
    settings.MCP_GATEWAY_URL = GATEWAY
    settings.SITE_URL = SITE
    return TestClient(gateway_app(), base_url="http://127.0.0.1:8450")


def test_the_gateways_401_says_unauthorized_for_the_inspectors_proxy_to_relay(gateway):
    # The proxy's SDK posts this without a token; the page only sees the body's text.
    response = gateway.post(
        "/mcp",
        json=INITIALIZE,
        headers={"Accept": "application/json, text/event-stream"},
    )
    assert response.status_code == 401
    assert "Unauthorized" in response.text
    assert response.json()["error"] == "invalid_token"
    challenge = response.headers["WWW-Authenticate"]
    assert challenge.startswith('Bearer error="invalid_token"')
    metadata = "http://127.0.0.1:8450/.well-known/oauth-protected-resource/mcp"
    assert f'resource_metadata="{metadata}"' in challenge


def test_the_resource_metadata_is_at_the_origin_root_too_for_the_inspectors_page(gateway):
    preflight = gateway.options(
        "/.well-known/oauth-protected-resource",
        headers={
            "Origin": INSPECTOR,
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "mcp-protocol-version",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["Access-Control-Allow-Origin"] == "*"
    at_root = gateway.get(
        "/.well-known/oauth-protected-resource", headers={"Origin": INSPECTOR, **PROTOCOL}
    )
    assert at_root.status_code == 200
    assert at_root.headers["Access-Control-Allow-Origin"] == "*"
    suffixed = gateway.get("/.well-known/oauth-protected-resource/mcp").json()
    assert at_root.json() == suffixed
    assert suffixed["resource"] == GATEWAY
    assert [s.rstrip("/") for s in suffixed["authorization_servers"]] == [SITE]


def test_the_inspectors_sign_in_from_registration_to_a_token_for_the_gateway(client, settings):
    settings.MCP_GATEWAY_URL = GATEWAY
    dana = PersonFactory(name="Dana Levi", email="dana@example.com", user=UserFactory())
    origin = {"HTTP_ORIGIN": INSPECTOR}

    metadata = client.get(
        "/.well-known/oauth-authorization-server", HTTP_MCP_PROTOCOL_VERSION="2025-06-18", **origin
    )
    assert metadata["Access-Control-Allow-Origin"] == "*"
    assert "S256" in metadata.json()["code_challenge_methods_supported"]

    registered = client.post(
        "/oauth/register", json.dumps(REGISTRATION), content_type="application/json", **origin
    )
    assert registered.status_code == 201, registered.content
    assert registered["Access-Control-Allow-Origin"] == "*"
    client_id = registered.json()["client_id"]

    # Its authorization URL: no state, no scope (it registered none), the gateway as resource.
    asked = {
        "response_type": "code",
        "client_id": client_id,
        "code_challenge": CHALLENGE,
        "code_challenge_method": "S256",
        "redirect_uri": CALLBACK,
        "resource": GATEWAY,
    }
    client.force_login(dana.user)
    consent = client.get("/oauth/authorize/?" + urlencode(asked))
    assert consent.status_code == 200
    page = consent.content.decode()
    assert "MCP Inspector" in page and CALLBACK in page
    assert f"form-action 'self' {INSPECTOR}" in consent["Content-Security-Policy"]

    # Allow: the form's fields as the browser posted them.
    fields = dict(re.findall(r'<input type="hidden" name="(\w+)"(?: value="([^"]*)")?', page))
    assert fields["scope"] == "mcp" and fields["resource"] == GATEWAY
    allowed = client.post("/oauth/authorize/?" + urlencode(asked), {**fields, "allow": "Authorize"})
    assert allowed.status_code == 302
    back = urlsplit(allowed["Location"])
    assert f"{back.scheme}://{back.netloc}{back.path}" == CALLBACK
    code = parse_qs(back.query)["code"][0]

    client.logout()  # the page calls the token endpoint without the console's cookie
    tokens = client.post(
        "/oauth/token/",
        {
            "grant_type": "authorization_code",
            "client_id": client_id,
            "code": code,
            "code_verifier": VERIFIER,
            "redirect_uri": CALLBACK,
            "resource": GATEWAY,
        },
        **origin,
    )
    assert tokens.status_code == 200, tokens.content
    assert tokens["Access-Control-Allow-Origin"] == "*"
    assert tokens.json()["scope"] == "mcp" and tokens.json()["refresh_token"]
    assert get_access_token_model().objects.get(user=dana.user).resource == [GATEWAY]


def test_the_inspectors_auth_tab_sends_resource_undefined_and_gets_no_token(client, settings):
    """Its Auth tab's Quick and Guided flows restore their state from JSON and send
    `resource=undefined` to the token endpoint: not the gateway, so refused (RFC 8707)."""
    settings.MCP_GATEWAY_URL = GATEWAY
    dana = PersonFactory(email="dana@example.com", user=UserFactory())
    debug_callback = f"{INSPECTOR}/oauth/callback/debug"
    body = {**REGISTRATION, "redirect_uris": [debug_callback], "scope": "mcp"}
    client_id = client.post(
        "/oauth/register", json.dumps(body), content_type="application/json"
    ).json()["client_id"]
    client.force_login(dana.user)
    allowed = client.post(
        "/oauth/authorize/",
        {
            "allow": "Authorize",
            "client_id": client_id,
            "redirect_uri": debug_callback,
            "response_type": "code",
            "scope": "mcp",
            "code_challenge": CHALLENGE,
            "code_challenge_method": "S256",
            "resource": GATEWAY,
        },
    )
    code = parse_qs(urlsplit(allowed["Location"]).query)["code"][0]
    client.logout()
    refused = client.post(
        "/oauth/token/",
        {
            "grant_type": "authorization_code",
            "client_id": client_id,
            "code": code,
            "code_verifier": VERIFIER,
            "redirect_uri": debug_callback,
            "resource": "undefined",
        },
    )
    assert refused.status_code == 400
    assert refused.json()["error"] in {"invalid_target", "invalid_request"}
    assert not get_access_token_model().objects.filter(user=dana.user).exists()

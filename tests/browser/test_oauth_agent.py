"""An agent signs in by OAuth, end to end: the MCP SDK's own OAuth client provider against the
web process (pytest-django's live server) as authorization server and the gateway as its own
process; Chromium plays the person on the consent page.

Discovery (the gateway's 401 and protected resource metadata) → dynamic registration → PKCE →
consent → token → tools/list through the gateway → refresh; then a reused refresh token revokes
the family, and a token issued for another resource is refused by the gateway.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import timedelta
from io import StringIO
from urllib.parse import parse_qs, urlencode, urlsplit

import anyio
import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone
from mcp.shared.auth import AuthorizationCodeResult
from oauth2_provider.models import get_access_token_model, get_application_model, set_token_value
from playwright.sync_api import expect

from directory.models import Person
from tests.factories import ConnectorFactory, PersonFactory, PolicyFactory, UserFactory
from tests.support.gateway import (
    TIME_UPSTREAM,
    as_person,
    fresh_snapshot_version,
    listed_tools,
    start_gateway,
)
from tests.support.oauth import WAIT_SECONDS, OAuthAgent
from tests.support.ports import free_port

pytestmark = pytest.mark.browser


@pytest.fixture
def ben(db, settings):
    """Ben, a directory person with a console login; every time tool is allowed to everyone."""
    fresh_snapshot_version()
    settings.MCP_UPSTREAMS = json.dumps(TIME_UPSTREAM)
    person = PersonFactory(
        name="Ben Kim", email="ben@example.com", user=UserFactory(username="ben")
    )
    connector = ConnectorFactory(slug="time", name="Time")
    call_command("sync_connector_tools", "time", stdout=StringIO())
    PolicyFactory(name="Time for everyone", connector=connector).tools.set(connector.tools.all())
    return person


@pytest.fixture
def gateway(ben, live_server, settings, tmp_path) -> Iterator[str]:
    """The gateway on a port known first: its URL is the resource tokens are bound to."""
    port = free_port()
    resource = f"http://127.0.0.1:{port}/mcp"
    settings.MCP_GATEWAY_URL = resource
    settings.OAUTH2_PROVIDER = {**settings.OAUTH2_PROVIDER, "OIDC_ISS_ENDPOINT": live_server.url}
    running = start_gateway(
        TIME_UPSTREAM,
        tmp_path / "gateway.log",
        port=port,
        MCP_GATEWAY_URL=resource,
        SITE_URL=live_server.url,
    )
    yield resource
    running.stop()


def post(url: str, fields: dict[str, str], headers: dict[str, str] | None = None):
    """A form POST; (status, JSON body)."""
    request = urllib.request.Request(url, urlencode(fields).encode(), headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"{}"), response.headers
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}"), exc.headers


def tools_list_status(resource: str, access_token: str) -> int:
    """The status of a bare initialize through the gateway with this bearer token."""
    body = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "probe", "version": "1"},
        },
    }
    request = urllib.request.Request(
        resource,
        json.dumps(body).encode(),
        headers={
            "Authorization": f"Bearer {access_token}",
            "Content-Type": "application/json",
            "Accept": "application/json, text/event-stream",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_the_gateway_points_agents_to_agenwork_as_authorization_server(gateway, live_server):
    status, _, headers = post(gateway, {})
    assert status == 401
    port_and_path = gateway.split("://", 1)[1].split("/", 1)
    metadata_url = f"http://{port_and_path[0]}/.well-known/oauth-protected-resource/mcp"
    assert f'resource_metadata="{metadata_url}"' in headers["WWW-Authenticate"]
    with urllib.request.urlopen(metadata_url, timeout=30) as response:
        metadata = json.loads(response.read())
    assert metadata["resource"] == gateway
    assert [s.rstrip("/") for s in metadata["authorization_servers"]] == [live_server.url]
    assert metadata["scopes_supported"] == ["mcp"]


def test_an_agent_signs_in_lists_tools_refreshes_and_a_reused_refresh_token_revokes_all(
    gateway, ben, page, enter_as, live_server, problems
):
    redirect = f"http://127.0.0.1:{free_port()}/callback"
    agent = OAuthAgent(gateway, redirect)
    seen: dict[str, object] = {}

    async def scenario(agent: OAuthAgent) -> None:
        seen["first"] = set(await agent.session(listed_tools))
        seen["first_tokens"] = agent.storage.tokens
        # The access token's hour passes: the client sees it expired, the server too.
        agent.provider.context.token_expiry_time = 0.5
        await anyio.to_thread.run_sync(expire_access_tokens)
        seen["second"] = set(await agent.session(listed_tools))

    def expire_access_tokens() -> None:
        past = timezone.now() - timedelta(seconds=1)
        get_access_token_model().objects.filter(user=ben.user).update(expires=past)
        connection.close()  # this worker thread's own connection: the test database must drop

    running = agent.start(scenario)
    try:
        authorization_url = agent.urls.get(timeout=WAIT_SECONDS)
        assert authorization_url.startswith(f"{live_server.url}/oauth/authorize/?")
        asked = parse_qs(urlsplit(authorization_url).query)
        assert asked["code_challenge_method"] == ["S256"] and asked["resource"] == [gateway]

        page.route(f"{redirect}**", lambda route: route.fulfill(body="Back to the agent."))
        enter_as("ben")
        page.goto(authorization_url)
        expect(page.locator("#client-name")).to_have_text("Test agent")
        expect(page.locator("#redirect-address")).to_have_text(redirect)
        with page.expect_request(lambda r: r.url.startswith(redirect)) as sent:
            page.get_by_role("button", name="Allow").click()
        answer = parse_qs(urlsplit(sent.value.url).query)
        agent.codes.put(
            AuthorizationCodeResult(
                code=answer["code"][0],
                state=answer["state"][0],
                iss=answer.get("iss", [None])[0],
            )
        )
        running.result(timeout=WAIT_SECONDS * 2)
    finally:
        agent.close()

    assert seen["first"] == {"time_get_current_time", "time_convert_time"}
    assert seen["second"] == seen["first"]  # after a refresh
    app = get_application_model().objects.get(client_id=agent.storage.client.client_id)
    assert app.name == "Test agent" and app.client_type == "public"
    first, current = seen["first_tokens"], agent.storage.tokens
    assert current.refresh_token != first.refresh_token  # rotated
    assert tools_list_status(gateway, current.access_token) == 200
    assert tools_list_status(gateway, first.access_token) == 401  # expired

    status, body, _ = post(
        f"{live_server.url}/oauth/token/",
        {
            "grant_type": "refresh_token",
            "refresh_token": first.refresh_token,
            "client_id": app.client_id,
        },
    )
    assert status == 400 and body["error"] == "invalid_grant"
    assert tools_list_status(gateway, current.access_token) == 401  # the family is revoked
    assert problems.errors == []


def test_the_gateway_refuses_tokens_for_another_resource_or_of_no_person_and_locks_hold(
    gateway, ben, live_server
):
    app = get_application_model().objects.create(
        name="Elsewhere agent",
        client_type="public",
        authorization_grant_type="authorization-code",
        redirect_uris="http://127.0.0.1:9/callback",
    )

    def token(user, resource: list[str], raw: str) -> str:
        access = get_access_token_model()(
            user=user,
            application=app,
            scope="mcp",
            resource=resource,
            expires=timezone.now() + timedelta(hours=1),
        )
        set_token_value(access, raw)
        access.save()
        return raw

    ours = token(ben.user, [gateway], "ours-0123456789abcdefghijklmnopqrstuvwxyz")
    theirs = token(ben.user, ["https://elsewhere.example.com/mcp"], "theirs-0123456789abcdefghij")
    unbound = token(ben.user, [], "unbound-0123456789abcdefghijklmnopqrstu")
    nobody = token(UserFactory(username="nobody"), [gateway], "nobody-0123456789abcdefghijkl")
    lee = PersonFactory(email="lee@example.com", status=Person.Status.LOCKED, user=UserFactory())
    locked = token(lee.user, [gateway], "locked-0123456789abcdefghijklmnopqrstu")
    base = gateway.removesuffix("/mcp")
    assert set(as_person(base, ours, listed_tools)) == {
        "time_get_current_time",
        "time_convert_time",
    }
    assert as_person(base, locked, listed_tools) == {}  # a locked person: no tools
    assert tools_list_status(gateway, ours) == 200
    assert tools_list_status(gateway, theirs) == 401
    assert tools_list_status(gateway, unbound) == 401
    assert tools_list_status(gateway, nobody) == 401


def test_the_person_revokes_the_agent_on_my_agents_and_the_gateway_refuses_it_at_once(
    gateway, ben, page, enter_as, live_server, problems
):
    redirect = f"http://127.0.0.1:{free_port()}/callback"
    agent = OAuthAgent(gateway, redirect, name="Revocable agent")
    seen: dict[str, object] = {}

    async def scenario(agent: OAuthAgent) -> None:
        seen["tools"] = set(await agent.session(listed_tools))

    running = agent.start(scenario)
    try:
        authorization_url = agent.urls.get(timeout=WAIT_SECONDS)
        page.route(f"{redirect}**", lambda route: route.fulfill(body="Back to the agent."))
        enter_as("ben")
        page.goto(authorization_url)
        with page.expect_request(lambda r: r.url.startswith(redirect)) as sent:
            page.get_by_role("button", name="Allow").click()
        answer = parse_qs(urlsplit(sent.value.url).query)
        agent.codes.put(
            AuthorizationCodeResult(
                code=answer["code"][0], state=answer["state"][0], iss=answer["iss"][0]
            )
        )
        running.result(timeout=WAIT_SECONDS * 2)
    finally:
        agent.close()
    assert seen["tools"] == {"time_get_current_time", "time_convert_time"}
    tokens = agent.storage.tokens
    assert tools_list_status(gateway, tokens.access_token) == 200

    page.goto(f"{live_server.url}/me/")
    row = page.locator("tr[data-agent]")
    expect(row).to_have_count(1)
    expect(row.locator(".agent-name")).to_have_text("Revocable agent")
    expect(row).not_to_contain_text("Never")  # the gateway noted its use
    row.get_by_role("link", name="Revoke Revocable agent").click()
    page.get_by_role("button", name="Revoke Revocable agent").click()
    expect(page.locator("#messages")).to_contain_text("Disconnected Revocable agent")
    expect(page.locator("tr[data-agent]")).to_have_count(0)

    assert tools_list_status(gateway, tokens.access_token) == 401  # the very next call
    status, body, _ = post(
        f"{live_server.url}/oauth/token/",
        {
            "grant_type": "refresh_token",
            "refresh_token": tokens.refresh_token,
            "client_id": agent.storage.client.client_id,
        },
    )
    assert status == 400 and body["error"] == "invalid_grant"
    assert problems.errors == []

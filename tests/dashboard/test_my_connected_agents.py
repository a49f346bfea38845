"""My agents: the agents a person connected by OAuth, with Revoke; and Revoke of one's own
gateway tokens. (The gateway refusing a revoked agent: tests/browser/test_oauth_agent.py.)"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from oauth2_provider.models import (
    get_access_token_model,
    get_application_model,
    get_grant_model,
    get_refresh_token_model,
    set_token_value,
)

from audit.models import AuditEntry
from mcp_gateway.models import AgentConnection
from mcp_gateway.oauth import oauth_token_authenticate
from mcp_gateway.tokens import gateway_token_authenticate, gateway_token_create
from tests.factories import PersonFactory, UserFactory

pytestmark = pytest.mark.django_db

GATEWAY = "http://127.0.0.1:8300/mcp"


@pytest.fixture(autouse=True)
def gateway_url(settings):
    settings.MCP_GATEWAY_URL = GATEWAY


@pytest.fixture
def ana(requester):
    requester.user = UserFactory(username="ana")
    requester.save()
    return requester


@pytest.fixture
def ana_client(client, ana):
    client.force_login(ana.user)
    return client


def agent(name: str, redirect: str = "http://127.0.0.1:33418/callback"):
    return get_application_model().objects.create(
        name=name,
        client_type="public",
        authorization_grant_type="authorization-code",
        redirect_uris=redirect,
    )


def sign_in(user, application, raw: str, *, expires_in: int = 3600, refresh: bool = True):
    """What a consent and a code exchange leave: an access token, a refresh token, the row."""
    access = get_access_token_model()(
        user=user,
        application=application,
        scope="mcp",
        resource=[GATEWAY],
        expires=timezone.now() + timedelta(seconds=expires_in),
    )
    set_token_value(access, raw)
    access.save()
    if refresh:
        token = get_refresh_token_model()(user=user, application=application, access_token=access)
        set_token_value(token, f"refresh-{raw}")
        token.save()
    AgentConnection.objects.get_or_create(user=user, application=application)
    return raw


def test_the_page_lists_connected_agents_with_live_tokens_only(
    ana_client, ana, django_assert_num_queries
):
    claude = agent("Claude Desktop")
    cursor = agent("Cursor", "http://localhost:5173/oauth/callback")
    gone = agent("Gone agent")
    sign_in(ana.user, claude, "claude-0123456789abcdefghijklmnopqrstuvwxyz")
    # the access token's hour is over, the refresh token still lives: connected
    sign_in(ana.user, cursor, "cursor-0123456789abcdefghijklmnopqrstuvwxyz", expires_in=-60)
    # expired with no refresh token: not connected any more
    sign_in(
        ana.user, gone, "gone-0123456789abcdefghijklmnopqrstuvwxyz", expires_in=-60, refresh=False
    )
    bo = PersonFactory(email="bo@example.com", user=UserFactory(username="bo"))
    sign_in(bo.user, agent("Bo's agent"), "bo-0123456789abcdefghijklmnopqrstuvwxyz")

    # the session, the login with the person, the flows they approve in, agents, tokens, requests
    with django_assert_num_queries(6):
        page = ana_client.get("/me/").content.decode()

    assert page.count("data-agent=") == 2
    row = re.search(f'data-agent="{claude.client_id}".*?</tr>', page, re.S).group(0)
    assert "Claude Desktop" in row and "127.0.0.1:33418" in row and "<code>mcp</code>" in row
    assert "Never" in row  # not used yet
    assert f'href="/me/agents/{claude.pk}/revoke/"' in row
    assert "localhost:5173" in page and "Gone agent" not in page and "Bo&#x27;s agent" not in page


def test_the_gateway_notes_an_agents_last_use_at_most_once_a_minute(ana):
    claude = agent("Claude Desktop")
    raw = sign_in(ana.user, claude, "claude-0123456789abcdefghijklmnopqrstuvwxyz")

    assert oauth_token_authenticate(raw).email == ana.email
    first = AgentConnection.objects.get(user=ana.user).last_used_at
    assert first is not None
    oauth_token_authenticate(raw)
    assert AgentConnection.objects.get(user=ana.user).last_used_at == first
    AgentConnection.objects.update(last_used_at=first - timedelta(minutes=2))
    oauth_token_authenticate(raw)
    assert AgentConnection.objects.get(user=ana.user).last_used_at > first


def test_a_token_of_an_agent_connected_before_these_rows_makes_its_row(ana):
    claude = agent("Claude Desktop")
    raw = sign_in(ana.user, claude, "claude-0123456789abcdefghijklmnopqrstuvwxyz")
    AgentConnection.objects.all().delete()

    oauth_token_authenticate(raw)

    row = AgentConnection.objects.get(user=ana.user, application=claude)
    assert row.last_used_at is not None and row.authorized_at <= row.last_used_at


def test_revoke_asks_first_then_ends_every_token_and_code_of_that_agent_for_the_person(
    ana_client, ana
):
    claude = agent("Claude Desktop")
    raw = sign_in(ana.user, claude, "claude-0123456789abcdefghijklmnopqrstuvwxyz")
    second = sign_in(ana.user, claude, "claude2-0123456789abcdefghijklmnopqrstuvwxyz")
    get_grant_model().objects.create(
        user=ana.user,
        application=claude,
        code="unused-code",
        expires=timezone.now() + timedelta(minutes=1),
        redirect_uri="http://127.0.0.1:33418/callback",
        scope="mcp",
    )
    bo = PersonFactory(email="bo@example.com", user=UserFactory(username="bo"))
    bos = sign_in(bo.user, claude, "bo-0123456789abcdefghijklmnopqrstuvwxyz")
    url = f"/me/agents/{claude.pk}/revoke/"

    confirm = ana_client.get(url)
    assert confirm.status_code == 200 and "Disconnect Claude Desktop?" in confirm.content.decode()
    assert oauth_token_authenticate(raw) is not None  # GET changed nothing

    response = ana_client.post(url)
    assert response.status_code == 302 and response["Location"] == "/me/"
    assert oauth_token_authenticate(raw) is None and oauth_token_authenticate(second) is None
    assert not get_refresh_token_model().objects.filter(user=ana.user, revoked__isnull=True)
    assert not get_grant_model().objects.filter(user=ana.user).exists()
    assert oauth_token_authenticate(bos) is not None  # Bo's own connection of the same agent
    entry = AuditEntry.objects.get(object_type="agent_authorization", action="revoked")
    assert entry.actor == ana.user and entry.object_repr == "Claude Desktop for ana@example.com"
    assert (
        entry.after["tokens_and_codes_revoked"] == 3
    )  # two refresh tokens (with their access), a code

    page = ana_client.get("/me/").content.decode()
    assert "Disconnected Claude Desktop" in page and "data-agent=" not in page


def test_a_person_cannot_revoke_an_agent_connected_for_someone_else(ana_client):
    bo = PersonFactory(email="bo@example.com", user=UserFactory(username="bo"))
    bos = sign_in(bo.user, agent("Bo's agent"), "bo-0123456789abcdefghijklmnopqrstuvwxyz")
    app = get_application_model().objects.get()

    response = ana_client.post(f"/me/agents/{app.pk}/revoke/")

    assert response.status_code == 302
    assert oauth_token_authenticate(bos) is not None
    assert not AuditEntry.objects.filter(action="revoked").exists()


def test_revoke_without_csrf_is_refused(ana):
    claude = agent("Claude Desktop")
    raw = sign_in(ana.user, claude, "claude-0123456789abcdefghijklmnopqrstuvwxyz")
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(ana.user)

    assert strict.post(f"/me/agents/{claude.pk}/revoke/").status_code == 403
    assert oauth_token_authenticate(raw) is not None


def test_a_person_revokes_their_own_gateway_token_and_no_one_elses(ana_client, ana):
    mine = gateway_token_create(person=ana)
    bos = gateway_token_create(person=PersonFactory(email="bo@example.com"))
    page = ana_client.get("/me/").content.decode()
    assert f'href="/me/tokens/{mine.token.pk}/revoke/"' in page

    assert ana_client.get(f"/me/tokens/{mine.token.pk}/revoke/").status_code == 200
    assert gateway_token_authenticate(mine.raw_token) is not None
    assert ana_client.post(f"/me/tokens/{bos.token.pk}/revoke/").status_code == 404
    assert gateway_token_authenticate(bos.raw_token) is not None

    response = ana_client.post(f"/me/tokens/{mine.token.pk}/revoke/")

    assert response.status_code == 302 and response["Location"] == "/me/"
    assert gateway_token_authenticate(mine.raw_token) is None
    entry = AuditEntry.objects.get(object_type="gateway_token", action="revoked")
    assert entry.actor == ana.user


def test_a_login_that_is_no_person_has_nothing_to_revoke(admin_client):
    assert admin_client.post("/me/tokens/1/revoke/").status_code == 404
    assert admin_client.post("/me/agents/1/revoke/").status_code == 404

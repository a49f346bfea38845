"""A person's own page, My agents: their gateway tokens and their requests, nobody else's."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from mcp_gateway.tokens import gateway_token_create, gateway_token_revoke
from requests_app.models import AccessRequest
from tests.factories import PersonFactory, UserFactory, make_request

pytestmark = pytest.mark.django_db


@pytest.fixture
def ana_client(client, requester):
    """Ana, the requester, with a console login (as single sign-on gives her one)."""
    requester.user = UserFactory(username="ana")
    requester.save()
    client.force_login(requester.user)
    return client


def test_a_person_sees_their_tokens_and_requests_and_nobody_elses(
    ana_client, requester, tools, flow, django_assert_num_queries
):
    active = gateway_token_create(person=requester)
    revoked = gateway_token_create(person=requester)
    gateway_token_revoke(token=revoked.token)
    expired = gateway_token_create(person=requester, expires_in_days=1)
    expired.token.expires_at = timezone.now() - timedelta(minutes=1)
    expired.token.save()
    gateway_token_create(person=PersonFactory(email="someone@example.com"))
    pending = make_request(requester=requester, tools=tools[:2], flow=flow, agent="Claude")
    denied = make_request(requester=requester, tools=tools[2:], flow=flow)
    AccessRequest.objects.filter(pk=denied.pk).update(
        status="denied", decided_by_name="Dana Levi", decided_at=timezone.now()
    )
    other = make_request(requester=PersonFactory(email="bo@example.com"), tools=tools, flow=flow)

    # the session, its login with the person, the flows they approve in, agents, tokens, requests
    with django_assert_num_queries(6):
        page = ana_client.get("/me/").content.decode()

    assert page.count("data-token=") == 3
    for issued, state in ((active, "Active"), (revoked, "Revoked"), (expired, "Expired")):
        row = re.search(f'data-token="{issued.token.prefix}".*', page).group(0)
        assert f">{state}</span>" in row
        assert issued.raw_token not in page
    assert f'data-request="{pending.public_id}"' in page and "Claude" in page
    assert f'data-request="{denied.public_id}"' in page and "by Dana Levi" in page
    assert f'data-request="{other.public_id}"' not in page
    assert "someone@example.com" not in page


def test_a_person_who_decides_nothing_is_offered_this_page_alone(ana_client):
    page = ana_client.get("/me/").content.decode()
    sidebar = page[page.index('class="sidebar"') : page.index("</nav>")]

    assert 'href="/me/"' in sidebar
    assert 'href="/"' not in sidebar.replace('class="brand" href="/"', "")
    assert 'href="/requests/"' not in sidebar
    assert "Requester" in sidebar


def test_an_approver_keeps_their_pages_beside_it(approver_client, flow):
    page = approver_client.get("/me/").content.decode()
    sidebar = page[page.index('class="sidebar"') : page.index("</nav>")]

    assert 'href="/requests/"' in sidebar and 'href="/me/"' in sidebar
    assert "Approver" in sidebar


def test_the_count_of_requests_is_read_only_when_the_page_is_full(
    ana_client, requester, tools, flow, django_assert_num_queries, monkeypatch
):
    monkeypatch.setattr("dashboard.me.selectors.RECENT_REQUESTS", 2)
    for _ in range(3):
        make_request(requester=requester, tools=tools[:1], flow=flow)

    with django_assert_num_queries(7):
        page = ana_client.get("/me/").content.decode()

    assert page.count("data-request=") == 2


def test_a_person_with_nothing_yet_is_told_how_it_will_fill(ana_client, requester):
    page = ana_client.get("/me/").content.decode()

    assert "You have no gateway token" in page
    assert "You have asked for nothing yet" in page


def test_a_login_that_is_no_person_is_told_so(admin_client):
    response = admin_client.get("/me/")

    assert response.status_code == 200
    assert "not linked to a person" in response.content.decode()


def test_the_page_itself_takes_no_post(ana_client):
    assert ana_client.post("/me/").status_code == 405


@pytest.mark.parametrize("path", ["/requests/", "/requests/bulk/"])
def test_a_person_who_decides_nothing_sees_only_my_agents_on_a_refusal_too(ana_client, path):
    response = ana_client.get(path) if path == "/requests/" else ana_client.post(path)
    page = response.content.decode()
    sidebar = page[page.index('class="sidebar"') : page.index("</nav>")]

    assert response.status_code == 403
    assert 'href="/me/"' in sidebar and 'href="/requests/"' not in sidebar


def test_a_person_who_decides_nothing_sees_only_my_agents_on_the_consent_page(ana_client, settings):
    from oauth2_provider.models import get_application_model

    settings.MCP_GATEWAY_URL = "http://127.0.0.1:8300/mcp"
    app = get_application_model().objects.create(
        name="Claude Desktop",
        client_type="public",
        authorization_grant_type="authorization-code",
        redirect_uris="http://127.0.0.1:33418/callback",
    )
    query = (
        f"response_type=code&client_id={app.client_id}&redirect_uri=http://127.0.0.1:33418/callback"
        "&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256"
        "&resource=http://127.0.0.1:8300/mcp&scope=mcp&state=x"
    )
    page = ana_client.get(f"/oauth/authorize/?{query}").content.decode()
    sidebar = page[page.index('class="sidebar"') : page.index("</nav>")]

    assert "Claude Desktop" in page
    assert 'href="/me/"' in sidebar and 'href="/requests/"' not in sidebar

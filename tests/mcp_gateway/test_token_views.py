"""A person's gateway tokens on their page: list, Create (shown once), Revoke; roles, bad input."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from audit.models import AuditEntry
from mcp_gateway.models import GatewayToken
from mcp_gateway.tokens import gateway_token_authenticate, gateway_token_create
from tests.factories import PersonFactory

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "gateway-tokens"}
RAW_TOKEN = re.compile(r"agw_[a-z0-9]{10}_[A-Za-z0-9_-]{20,}")


def html(response) -> str:
    return response.content.decode()


def tokens_url(person, suffix: str = "") -> str:
    return f"/users/{person.pk}/gateway-tokens/{suffix}"


def revoke_url(token: GatewayToken) -> str:
    return tokens_url(token.person, f"{token.pk}/revoke/")


def state() -> tuple:
    """Everything a token action could change."""
    return sorted(GatewayToken.objects.values_list()), AuditEntry.objects.count()


@pytest.fixture
def ben(db):
    return PersonFactory(name="Ben Kim", email="ben@example.com")


# --- roles ---------------------------------------------------------------------------------


@pytest.mark.parametrize("persona_client", ["approver", "outsider"], indirect=True)
def test_approvers_and_outsiders_may_not_see_or_change_tokens(persona_client, ben):
    token = gateway_token_create(person=ben).token
    before = state()
    for response in (
        persona_client.get(tokens_url(ben)),
        persona_client.get(revoke_url(token)),
        persona_client.post(tokens_url(ben, "new/"), {"expires_in": "30"}),
        persona_client.post(revoke_url(token)),
    ):
        assert response.status_code == 403
        assert "Only admins can see and change gateway tokens." in html(response)
    assert state() == before


def test_anonymous_visitors_are_sent_to_log_in_and_change_nothing(client, ben):
    token = gateway_token_create(person=ben).token
    before = state()
    for response in (client.get(tokens_url(ben)), client.post(revoke_url(token))):
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/")
    assert client.post(tokens_url(ben, "new/")).status_code == 302
    assert state() == before


# --- the list ------------------------------------------------------------------------------


def test_the_section_lists_prefix_dates_and_status_of_each_token(admin_client, ben):
    active = gateway_token_create(person=ben, expires_in_days=30).token
    expired = gateway_token_create(person=ben).token
    GatewayToken.objects.filter(pk=expired.pk).update(
        expires_at=timezone.now() - timedelta(days=1), last_used_at=timezone.now()
    )
    revoked = gateway_token_create(person=ben).token
    GatewayToken.objects.filter(pk=revoked.pk).update(revoked_at=timezone.now())
    gateway_token_create(person=PersonFactory(email="other@example.com"))

    response = admin_client.get(tokens_url(ben), **HTMX)

    text = html(response)
    assert response.status_code == 200 and "<html" not in text  # the section alone
    rows = dict(re.findall(r'data-token="(\w+)".*?token-status[^>]*>(\w+)<', text, re.S))
    assert rows == {active.prefix: "Active", expired.prefix: "Expired", revoked.prefix: "Revoked"}
    assert f"agw_{active.prefix}_…" in text and "expires" in text and "never used" in text
    assert "last used" in text and "revoked" in text
    assert text.count(">Revoke</a>") == 2  # not for the revoked one
    assert not RAW_TOKEN.search(text)


def test_opened_directly_the_section_is_a_page_with_the_way_back(admin_client, ben):
    response = admin_client.get(tokens_url(ben))
    text = html(response)
    assert response.status_code == 200 and "<html" in text
    assert f'href="/users/{ben.pk}/"' in text and "No gateway tokens yet." in text


def test_the_persons_page_loads_the_section_and_links_it_without_javascript(admin_client, ben):
    text = html(admin_client.get(f"/users/{ben.pk}/"))
    assert f'hx-get="{tokens_url(ben)}" hx-trigger="load"' in text
    assert f'<a href="{tokens_url(ben)}">' in text


def test_the_section_costs_the_same_queries_for_one_token_or_many(admin_client, ben):
    gateway_token_create(person=ben)
    admin_client.get(tokens_url(ben), **HTMX)  # the session, warm
    with CaptureQueriesContext(connection) as one:
        admin_client.get(tokens_url(ben), **HTMX)
    for _ in range(5):
        gateway_token_create(person=ben)
    with CaptureQueriesContext(connection) as six:
        response = admin_client.get(tokens_url(ben), **HTMX)
    assert html(response).count("data-token=") == 6
    assert len(six) == len(one) == 4  # session, user, person, tokens


def test_an_unknown_person_is_404(admin_client):
    assert admin_client.get("/users/999999/gateway-tokens/").status_code == 404
    assert admin_client.post("/users/999999/gateway-tokens/new/").status_code == 404
    assert not GatewayToken.objects.exists()


# --- create --------------------------------------------------------------------------------


def test_create_shows_the_token_once_with_the_claude_line_and_stores_only_its_hash(
    admin_client, admin_user, ben, settings
):
    settings.MCP_GATEWAY_URL = "https://mcp.example.com/mcp"
    response = admin_client.post(tokens_url(ben, "new/"), {"expires_in": "30"}, **HTMX)

    text = html(response)
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    raw = RAW_TOKEN.search(text).group(0)
    token = GatewayToken.objects.get()
    assert gateway_token_authenticate(raw) == token and token.person == ben
    assert "Copy it now: it will not be shown again." in text and 'hx-history="false"' in text
    assert (
        "claude mcp add --transport http agenwork https://mcp.example.com/mcp "
        f"--header &quot;Authorization: Bearer {raw}&quot;"
    ) in text
    assert timedelta(days=29, hours=23) < token.expires_at - timezone.now() <= timedelta(days=30)
    row = " ".join(map(str, GatewayToken.objects.values_list().get()))
    assert raw not in row
    entry = AuditEntry.objects.get(object_type="gateway_token")
    assert (entry.action, entry.actor, entry.channel) == ("created", admin_user, "web")
    assert raw not in str(entry.after) and entry.after["prefix"] == token.prefix

    again = html(admin_client.get(tokens_url(ben), **HTMX))
    assert raw not in again and f"agw_{token.prefix}_…" in again
    assert not RAW_TOKEN.search(again)


def test_a_blank_expiry_makes_a_token_that_never_expires(admin_client, ben):
    response = admin_client.post(tokens_url(ben, "new/"), {"expires_in": ""})
    assert response.status_code == 200 and "<html" in html(response)  # a page without htmx
    assert GatewayToken.objects.get().expires_at is None
    assert "never expires" in html(response)


@pytest.mark.parametrize(
    ("expires_in", "message"),
    [
        ("0", "Give an expiry of 1 to 3650 days, or none."),
        ("-5", "Give an expiry of 1 to 3650 days, or none."),
        ("3651", "Give an expiry of 1 to 3650 days, or none."),
        ("ninety", "Enter a whole number of days from 1 to 3650"),
        ("1.5", "Enter a whole number of days from 1 to 3650"),
        ("9" * 400, "Give an expiry of 1 to 3650 days, or none."),
    ],
)
def test_a_bad_expiry_is_refused_with_the_reason_and_stores_nothing(
    admin_client, ben, expires_in, message
):
    before = state()
    response = admin_client.post(tokens_url(ben, "new/"), {"expires_in": expires_in}, **HTMX)
    assert response.status_code == 400
    assert message in html(response)
    assert not RAW_TOKEN.search(html(response))
    assert state() == before


def test_create_is_a_post(admin_client, ben):
    assert admin_client.get(tokens_url(ben, "new/")).status_code == 405
    assert not GatewayToken.objects.exists()


# --- revoke --------------------------------------------------------------------------------


def test_revoke_asks_first_on_a_get_and_changes_nothing(admin_client, ben):
    token = gateway_token_create(person=ben).token
    before = state()
    response = admin_client.get(revoke_url(token))
    assert response.status_code == 200
    assert f"Revoke agw_{token.prefix}_…?" in html(response)
    assert state() == before


def test_revoke_stops_the_token_at_once_and_is_audited(admin_client, admin_user, ben):
    issued = gateway_token_create(person=ben)
    response = admin_client.post(revoke_url(issued.token), **HTMX)

    text = html(response)
    assert response.status_code == 200
    assert f"Revoked agw_{issued.token.prefix}_…" in text
    assert re.search(r"token-status[^>]*>Revoked<", text)
    assert gateway_token_authenticate(issued.raw_token) is None
    entry = AuditEntry.objects.get(object_type="gateway_token", action="revoked")
    assert entry.actor == admin_user and entry.before["revoked"] is False

    again = admin_client.post(revoke_url(issued.token), **HTMX)
    assert "was revoked already" in html(again)
    assert AuditEntry.objects.filter(action="revoked").count() == 1


def test_revoke_without_javascript_goes_back_to_the_persons_page(admin_client, ben):
    token = gateway_token_create(person=ben).token
    response = admin_client.post(revoke_url(token), follow=True)
    assert response.redirect_chain == [(f"/users/{ben.pk}/", 302)]
    assert "its agent&#x27;s calls are refused from now on" in html(response)


def test_another_persons_token_is_not_found_through_this_person(admin_client, ben):
    theirs = gateway_token_create(person=PersonFactory(email="other@example.com")).token
    before = state()
    response = admin_client.post(f"/users/{ben.pk}/gateway-tokens/{theirs.pk}/revoke/")
    assert response.status_code == 404
    assert state() == before


def test_the_activity_trail_shows_token_changes(admin_client, ben):
    issued = admin_client.post(tokens_url(ben, "new/"), {"expires_in": "7"})
    token = GatewayToken.objects.get()
    admin_client.post(revoke_url(token))

    response = admin_client.get("/activity/", {"object_type": "gateway_token"})

    text = html(response)
    assert issued.status_code == 200 and response.status_code == 200
    assert text.count(f"ben@example.com ({token.prefix}…)") == 2
    assert "Created" in text and "Revoked" in text

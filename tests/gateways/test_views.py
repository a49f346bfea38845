"""Settings → API keys: the list, Create key (shown once), the key page, Revoke, Set webhook URL."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from agenwork.crypto import decrypt, hash_token
from audit.models import AuditEntry
from gateways.models import ApiKey
from gateways.services import api_key_authenticate, api_key_create, api_key_revoke
from requests_app.models import WebhookDelivery
from requests_app.webhooks import MAX_ATTEMPTS, webhook_due_ids
from tests.factories import make_request

LIST = "/settings/api-keys/"
CREATE = "/settings/api-keys/new/"
LOGIN = "/accounts/login/"
ONCE = "Copy it now, it will not be shown again."
RAW_KEY = re.compile(r"awk_[a-z2-9]{10}_[A-Za-z0-9_-]{20,}")
SECRET = re.compile(r"whsec_[A-Za-z0-9_-]{20,}")
# session, user with person (sidebar), the key, delivery keys of the page, their rows
DETAIL_QUERIES = 5


@pytest.fixture
def key(db) -> ApiKey:
    return api_key_create(name="gateway-prod", webhook_url="https://gw.example.com/hook").api_key


@pytest.fixture
def csrf_admin(admin_user) -> Client:
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_user)
    return client


def html(response) -> str:
    return response.content.decode()


def headers(body: str) -> list[str]:
    """The column headers of the first table, as shown."""
    thead = re.search(r"<thead.*?</thead>", body, re.S).group(0)
    return [
        re.sub(r"<[^>]+>|\s+", " ", th).strip()
        for th in re.findall(r"<th[\s>].*?</th>", thead, re.S)
    ]


def detail(key: ApiKey) -> str:
    return f"{LIST}{key.pk}/"


def key_state(key: ApiKey) -> tuple:
    key.refresh_from_db()
    return key.webhook_url, key.webhook_secret_encrypted, key.revoked_at, AuditEntry.objects.count()


def version_of(client: Client, key: ApiKey) -> str:
    return re.search(r'name="version" value="([0-9a-f]+)"', html(client.get(detail(key)))).group(1)


def add_delivery(key: ApiKey, access_request, **fields) -> WebhookDelivery:
    return WebhookDelivery.objects.create(
        api_key=key,
        request=access_request,
        url=key.webhook_url or "https://x.test",
        payload={},
        **fields,
    )


# --- who may open the pages -----------------------------------------------------------------------


def pages(key: ApiKey) -> list[str]:
    return [LIST, CREATE, detail(key), f"{detail(key)}revoke/"]


@pytest.mark.parametrize("persona_client", ["approver", "outsider"], indirect=True)
def test_pages_are_forbidden_to_approvers_and_outsiders(persona_client, key):
    for path in pages(key):
        response = persona_client.get(path)
        assert response.status_code == 403, path
        assert "Only admins can open this page." in html(response)
        assert key.prefix not in html(response)


@pytest.mark.parametrize("persona_client", ["approver", "outsider"], indirect=True)
def test_posts_are_forbidden_to_approvers_and_outsiders(persona_client, key):
    before = key_state(key)
    assert persona_client.post(CREATE, {"name": "sneaky"}).status_code == 403
    assert persona_client.post(f"{detail(key)}revoke/").status_code == 403
    assert persona_client.post(f"{detail(key)}webhook/", {"webhook_url": ""}).status_code == 403
    assert key_state(key) == before
    assert ApiKey.objects.count() == 1


def test_pages_send_anonymous_to_login(client, key):
    for path in pages(key):
        response = client.get(path)
        assert response.status_code == 302
        assert response["Location"] == f"{LOGIN}?next={path}"
    assert client.post(f"{detail(key)}revoke/").status_code == 302
    assert key_state(key)[2] is None


def test_sidebar_links_settings_to_the_api_keys_page(admin_client, key):
    body = html(admin_client.get(LIST))
    assert re.search(r'<a class="nav-link active" href="/settings/api-keys/"[^>]*>\s*<img', body)
    assert re.search(r"icons/ui/settings(\.[0-9a-f]+)?\.svg", body)


# --- the list -------------------------------------------------------------------------------------


def test_list_shows_every_key_with_its_facts(admin_client, key):
    revoked = api_key_create(name="gateway-old").api_key
    api_key_revoke(api_key=revoked)
    ApiKey.objects.filter(pk=key.pk).update(last_used_at=timezone.now() - timedelta(days=3))
    response = admin_client.get(LIST)
    assert response.status_code == 200
    body = html(response)
    assert headers(body) == ["Name", "Prefix", "Created", "Last used", "Status", "Webhook URL"]
    rows = re.findall(r"<tr data-key=.*?</tr>", body, re.S)
    assert len(rows) == 2
    old, prod = rows  # by name
    assert f"<code>awk_{key.prefix}_…</code>" in prod
    assert "gw.example.com/hook" in prod and ">Active</span>" in prod and "3 days ago" in prod
    assert (
        '</span><span class="when-sep">,</span> <span class="when-rel">just now</span></time>'
        in prod
    )  # created: absolute date, then relative
    assert ">Revoked</span>" in old and ">Never</span>" in old
    assert key.key_hash not in body and key.webhook_secret_encrypted not in body


def test_list_says_when_there_is_no_key(admin_client, db):
    body = html(admin_client.get(LIST))
    assert "No API keys yet." in body
    assert f'href="{CREATE}"' in body


def test_list_ignores_a_bad_page_with_a_notice(admin_client, key):
    for page in ("abc", "0", "-1"):
        response = admin_client.get(LIST, {"page": page})
        assert response.status_code == 200
        assert "Ignored page" in html(response)
    response = admin_client.get(LIST, {"page": "9"})
    assert response.status_code == 200
    assert "Page 9 is past the end of this list." in html(response)
    assert "gateway-prod" in html(response)


# --- Create key -----------------------------------------------------------------------------------


def test_create_form_renders_with_csrf(admin_client, db):
    response = admin_client.get(CREATE)
    assert response.status_code == 200
    body = html(response)
    assert 'name="csrfmiddlewaretoken"' in body
    assert 'name="name"' in body and 'name="webhook_url"' in body


def test_create_shows_the_key_and_secret_once(admin_client, admin_user):
    response = admin_client.post(CREATE, {"name": "gw-1", "webhook_url": "https://gw.test/h"})
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    body = html(response)
    assert ONCE in body
    raw_key = RAW_KEY.search(body).group(0)
    secret = SECRET.search(body).group(0)
    stored = ApiKey.objects.get(name="gw-1")
    assert stored.key_hash == hash_token(raw_key)
    assert raw_key.split("_")[1] == stored.prefix
    assert decrypt(stored.webhook_secret_encrypted) == secret
    assert secret not in stored.webhook_secret_encrypted
    assert api_key_authenticate(raw_key) == stored
    for page in (detail(stored), LIST, f"{detail(stored)}revoke/"):
        again = html(admin_client.get(page))
        assert raw_key not in again and secret not in again and ONCE not in again
    entry = AuditEntry.objects.get(object_type="api_key", object_id=str(stored.pk))
    assert entry.action == "created" and entry.actor == admin_user
    assert raw_key not in str(entry.after) and secret not in str(entry.after)


def test_create_offers_a_copy_button_for_the_key_and_the_secret(admin_client, db):
    response = admin_client.post(CREATE, {"name": "gw-1", "webhook_url": "https://gw.test/h"})

    body = html(response)
    assert 'data-copy="raw-key" aria-label="Copy API key"' in body
    assert 'data-copy="webhook-secret" aria-label="Copy Webhook signing secret"' in body
    assert re.search(r'<script src="/static/js/copy(\.\w+)?\.js" defer>', body)


def test_create_without_webhook_shows_no_secret(admin_client, db):
    body = html(admin_client.post(CREATE, {"name": "gw-2", "webhook_url": ""}))
    assert RAW_KEY.search(body)
    assert not SECRET.search(body)
    assert ApiKey.objects.get(name="gw-2").webhook_secret_encrypted == ""


def test_create_keys_all_authenticate(admin_client, db):
    """The random part of a key may contain "_": every key issued must still work."""
    for n in range(12):
        body = html(admin_client.post(CREATE, {"name": f"gw-many-{n}"}))
        assert api_key_authenticate(RAW_KEY.search(body).group(0)) is not None


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"name": "gw", "webhook_url": "ftp://gw.test/h"}, "webhook_url", "Enter an http(s) URL"),
        ({"name": "gw", "webhook_url": "javascript:alert(1)"}, "webhook_url", "http(s)"),
        ({"name": "", "webhook_url": ""}, "name", "This field is required."),
        ({"name": "   "}, "name", "This field is required."),
        ({"name": "x" * 101}, "name", "at most 100 characters"),
        ({"name": "gw", "webhook_url": "https://" + "a" * 600}, "webhook_url", "at most 500"),
    ],
)
def test_create_with_bad_input_shows_the_error_and_stores_nothing(
    admin_client, data, field, message
):
    response = admin_client.post(CREATE, data)
    assert response.status_code == 400
    body = html(response)
    assert message in body
    assert f'name="{field}"' in body and "is-invalid" in body
    assert not RAW_KEY.search(body)
    assert ApiKey.objects.count() == 0
    assert AuditEntry.objects.count() == 0


def test_create_with_a_taken_name_says_so(admin_client, key):
    response = admin_client.post(CREATE, {"name": "gateway-prod"})
    assert response.status_code == 400
    assert "A key named “gateway-prod” exists already." in html(response)
    assert ApiKey.objects.count() == 1


def test_create_refuses_a_post_without_csrf_token(csrf_admin):
    response = csrf_admin.post(CREATE, {"name": "gw-csrf"})
    assert response.status_code == 403
    assert ApiKey.objects.count() == 0


def test_create_form_is_not_cached(admin_client, db):
    assert "no-store" in admin_client.get(CREATE)["Cache-Control"]


# --- the key page ---------------------------------------------------------------------------------


def test_detail_shows_the_key_facts_but_no_secret(admin_client, key):
    response = admin_client.get(detail(key))
    assert response.status_code == 200
    body = html(response)
    assert "<h1>gateway-prod</h1>" in body
    assert f"awk_{key.prefix}_…" in body
    assert "https://gw.example.com/hook" in body
    assert ">Active</span>" in body and ">Never</span>" in body
    assert f'action="{detail(key)}webhook/"' in body
    assert f'href="{detail(key)}revoke/"' in body
    assert key.key_hash not in body and key.webhook_secret_encrypted not in body
    assert decrypt(key.webhook_secret_encrypted) not in body


def test_detail_of_an_unknown_key_is_404(admin_client, db):
    assert admin_client.get(f"{LIST}999999/").status_code == 404
    assert admin_client.post(f"{LIST}999999/revoke/").status_code == 404


# --- Revoke ---------------------------------------------------------------------------------------


def test_revoke_get_asks_to_confirm_and_changes_nothing(admin_client, key):
    before = key_state(key)
    response = admin_client.get(f"{detail(key)}revoke/")
    assert response.status_code == 200
    body = html(response)
    assert "Revoke “gateway-prod”?" in body
    assert re.search(rf'<form method="post" action="{detail(key)}revoke/"', body)
    assert key_state(key) == before


def test_revoke_post_revokes_at_once_and_audits(admin_client, admin_user):
    body = html(admin_client.post(CREATE, {"name": "gw-r"}))
    raw_key = RAW_KEY.search(body).group(0)
    key = ApiKey.objects.get(name="gw-r")
    response = admin_client.post(f"{detail(key)}revoke/")
    assert response.status_code == 302
    assert response["Location"] == detail(key)
    key.refresh_from_db()
    assert key.revoked_at is not None
    assert api_key_authenticate(raw_key) is None
    entry = AuditEntry.objects.get(object_id=str(key.pk), action="revoked")
    assert entry.actor == admin_user and entry.after["revoked"] is True
    page = html(admin_client.get(detail(key)))
    assert "Revoked “gw-r”" in page and ">Revoked</span>" in page
    assert f'href="{detail(key)}revoke/"' not in page
    assert f'action="{detail(key)}webhook/"' not in page


def test_revoke_twice_says_it_was_revoked_already(admin_client, key):
    admin_client.post(f"{detail(key)}revoke/")
    revoked_at = key_state(key)[2]
    response = admin_client.post(f"{detail(key)}revoke/", follow=True)
    assert "was revoked already" in html(response)
    assert key_state(key)[2] == revoked_at
    assert AuditEntry.objects.filter(action="revoked").count() == 1


def test_revoke_refuses_a_post_without_csrf_token(csrf_admin, key):
    assert csrf_admin.post(f"{detail(key)}revoke/").status_code == 403
    assert key_state(key)[2] is None


def test_revoke_refuses_other_methods(admin_client, key):
    assert admin_client.put(f"{detail(key)}revoke/").status_code == 405
    assert admin_client.delete(f"{detail(key)}revoke/").status_code == 405
    assert key_state(key)[2] is None


# --- Set webhook URL ------------------------------------------------------------------------------


def test_webhook_get_changes_nothing(admin_client, key):
    before = key_state(key)
    assert admin_client.get(f"{detail(key)}webhook/").status_code == 405
    assert key_state(key) == before


def test_set_webhook_shows_the_new_secret_once(admin_client, key, admin_user):
    old_secret = decrypt(key.webhook_secret_encrypted)
    data = {"webhook_url": "https://new.example.com/h", "version": version_of(admin_client, key)}
    response = admin_client.post(f"{detail(key)}webhook/", data)
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    body = html(response)
    assert ONCE in body
    secret = SECRET.search(body).group(0)
    key.refresh_from_db()
    assert key.webhook_url == "https://new.example.com/h"
    assert decrypt(key.webhook_secret_encrypted) == secret != old_secret
    entry = AuditEntry.objects.get(object_id=str(key.pk), action="updated")
    assert entry.actor == admin_user
    assert entry.before["webhook_url"] == "https://gw.example.com/hook"
    again = html(admin_client.get(detail(key)))
    assert secret not in again and ONCE not in again


@pytest.mark.parametrize("url", ["not a url", "ftp://gw.test/h", "javascript:alert(1)", "https://"])
def test_set_webhook_with_a_bad_url_shows_the_error_and_changes_nothing(admin_client, key, url):
    before = key_state(key)
    data = {"webhook_url": url, "version": version_of(admin_client, key)}
    response = admin_client.post(f"{detail(key)}webhook/", data)
    assert response.status_code == 400
    body = html(response)
    assert "Enter an http(s) URL." in body and "is-invalid" in body
    assert not SECRET.search(body)
    assert key_state(key) == before


def test_clear_webhook_turns_webhooks_off(admin_client, key):
    data = {"webhook_url": "", "version": version_of(admin_client, key)}
    response = admin_client.post(f"{detail(key)}webhook/", data, follow=True)
    assert "Webhooks are off for “gateway-prod”." in html(response)
    key.refresh_from_db()
    assert key.webhook_url == "" and key.webhook_secret_encrypted == ""


def test_set_webhook_sent_twice_changes_it_once(admin_client, key):
    data = {"webhook_url": "https://new.example.com/h", "version": version_of(admin_client, key)}
    first = admin_client.post(f"{detail(key)}webhook/", data)
    assert first.status_code == 200
    after_first = key_state(key)
    second = admin_client.post(f"{detail(key)}webhook/", data)
    assert second.status_code == 409
    assert "changed after this page was loaded" in html(second)
    assert not SECRET.search(html(second))
    assert key_state(key) == after_first


def test_set_webhook_of_a_revoked_key_is_refused(admin_client, key):
    version = version_of(admin_client, key)
    api_key_revoke(api_key=key)
    before = key_state(key)
    data = {"webhook_url": "https://new.example.com/h", "version": version}
    response = admin_client.post(f"{detail(key)}webhook/", data)
    assert response.status_code == 409
    assert "This key is revoked" in html(response)
    assert key_state(key) == before


def test_set_webhook_refuses_a_post_without_csrf_token(csrf_admin, key):
    before = key_state(key)
    response = csrf_admin.post(f"{detail(key)}webhook/", {"webhook_url": "https://x.test/h"})
    assert response.status_code == 403
    assert key_state(key) == before


# --- webhook delivery attempts --------------------------------------------------------------------


@pytest.fixture
def three_deliveries(key, requester, tools, flow):
    now = timezone.now()
    requests = [
        make_request(requester=requester, tools=tools[i : i + 1], flow=flow) for i in range(3)
    ]
    delivered = add_delivery(
        key, requests[0], status="delivered", attempts=1, last_status_code=200, delivered_at=now
    )
    failed = add_delivery(
        key,
        requests[1],
        status="failed",
        attempts=8,
        last_status_code=500,
        last_error="Server Error",
    )
    pending = add_delivery(
        key,
        requests[2],
        status="pending",
        attempts=2,
        last_error="connection refused",
        next_attempt_at=now + timedelta(hours=2, minutes=5),
    )
    return requests, (delivered, failed, pending)


def test_detail_lists_the_delivery_attempts(admin_client, key, three_deliveries):
    requests, (delivered, failed, pending) = three_deliveries
    body = html(admin_client.get(detail(key)))
    columns = ["When", "Request", "Status", "Attempts", "Last response", "Next attempt"]
    assert headers(body) == columns
    rows = dict(re.findall(r'<tr data-delivery="(\d+)"[^>]*>(.*?)</tr>', body, re.S))
    assert list(rows) == [str(pending.pk), str(failed.pk), str(delivered.pk)]  # newest first
    assert f'href="/requests/{requests[0].public_id}/"' in rows[str(delivered.pk)]
    assert ">Delivered</span>" in rows[str(delivered.pk)] and "HTTP 200" in rows[str(delivered.pk)]
    assert "Delivered <time" in rows[str(delivered.pk)]
    assert ">Failed</span>" in rows[str(failed.pk)] and "HTTP 500" in rows[str(failed.pk)]
    assert "Server Error" in rows[str(failed.pk)] and "No more attempts" in rows[str(failed.pk)]
    assert '<td data-label="Attempts">8</td>' in rows[str(failed.pk)]
    assert "connection refused" in rows[str(pending.pk)] and "in 2 hours" in rows[str(pending.pk)]


def test_detail_shows_a_delivery_out_of_attempts_as_failed(admin_client, key, requester, tools):
    """A worker died during the last attempt: the sweep fails the delivery, the page says why."""
    access_request = make_request(requester=requester, tools=tools[:1], flow=None)
    long_ago = timezone.now() - timedelta(hours=1)
    delivery = add_delivery(
        key, access_request, status="sending", attempts=MAX_ATTEMPTS, claimed_at=long_ago
    )

    assert delivery.pk not in webhook_due_ids()

    body = html(admin_client.get(detail(key)))
    row = re.search(rf'<tr data-delivery="{delivery.pk}"[^>]*>(.*?)</tr>', body, re.S).group(1)
    assert ">Failed</span>" in row and "No more attempts" in row
    assert f'<td data-label="Attempts">{MAX_ATTEMPTS}</td>' in row
    assert "The worker stopped while sending; the message may have gone out." in row


def test_detail_lists_only_this_keys_deliveries(admin_client, key, three_deliveries):
    other = api_key_create(name="other", webhook_url="https://other.test/h").api_key
    requests, _ = three_deliveries
    add_delivery(other, requests[0], status="delivered")
    assert len(re.findall(r"<tr data-delivery=", html(admin_client.get(detail(key))))) == 3
    assert len(re.findall(r"<tr data-delivery=", html(admin_client.get(detail(other))))) == 1


def test_detail_says_when_there_is_no_delivery(admin_client, key):
    assert "No webhook deliveries for this key yet." in html(admin_client.get(detail(key)))


@pytest.fixture
def many_deliveries(key, requester, tools, flow):
    def add(count: int) -> None:
        for _ in range(count):
            add_delivery(key, make_request(requester=requester, tools=tools[:1], flow=flow))

    return add


def test_deliveries_are_paged(admin_client, key, many_deliveries):
    many_deliveries(30)
    first = html(admin_client.get(detail(key)))
    assert len(re.findall(r"<tr data-delivery=", first)) == 25
    assert 'rel="next" href="?page=2"' in first
    second = html(admin_client.get(detail(key), {"page": "2"}))
    assert len(re.findall(r"<tr data-delivery=", second)) == 5
    assert "rows 26\N{EN DASH}30" in second
    for page, notice in (("x", "Ignored page “x”."), ("7", "Page 7 is past the end of this list.")):
        response = admin_client.get(detail(key), {"page": page})
        assert response.status_code == 200
        assert notice in html(response)


def capture(client: Client, url: str, params=None) -> list[str]:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url, params or {})
    assert response.status_code == 200
    return [query["sql"] for query in ctx.captured_queries]


def test_detail_runs_as_many_queries_for_25_deliveries_as_for_5(admin_client, key, many_deliveries):
    many_deliveries(5)
    few = capture(admin_client, detail(key))
    many_deliveries(35)
    many = capture(admin_client, detail(key))
    assert len(few) == len(many) == DETAIL_QUERIES, "\n".join(many)
    assert not [sql for sql in many if "COUNT(" in sql.upper()]


def test_list_runs_a_fixed_number_of_queries(admin_client, db):
    api_key_create(name="k0")
    few = capture(admin_client, LIST)
    for n in range(1, 12):
        api_key_create(name=f"k{n}")
    # session, user with person, keys, rows
    assert len(capture(admin_client, LIST)) == len(few) == 4

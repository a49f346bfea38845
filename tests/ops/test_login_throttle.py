"""Login throttling: failures per username and per address, then a cool-off that ends."""

from __future__ import annotations

import pytest
from django.test import Client

from agenwork import login_throttle
from tests.conftest import PASSWORD

BLOCKED = "Too many failed logins"


@pytest.fixture(autouse=True)
def _small_limits(settings):
    settings.LOGIN_FAILURES_PER_USERNAME = 3
    settings.LOGIN_FAILURES_PER_ADDRESS = 5
    settings.LOGIN_COOLOFF_SECONDS = 600
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def clock(monkeypatch):
    """The throttle's clock, moved by the test instead of sleeping."""
    now = [1_800_000_000.0]
    monkeypatch.setattr(login_throttle, "clock", lambda: now[0])
    return now


def log_in(client: Client, username: str, password: str, address: str = "10.0.0.1"):
    return client.post(
        "/accounts/login/", {"username": username, "password": password}, REMOTE_ADDR=address
    )


def test_failures_for_one_username_block_it_even_with_the_right_password(client, admin_user, clock):
    for _ in range(3):
        assert BLOCKED not in log_in(client, "admin", "wrong").content.decode()

    response = log_in(client, "admin", PASSWORD)

    assert response.status_code == 200
    assert BLOCKED in response.content.decode()
    assert "Try again in 10 minutes" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_the_cool_off_ends_and_the_right_password_works_again(client, admin_user, clock):
    for _ in range(3):
        log_in(client, "admin", "wrong")
    clock[0] += 599
    assert BLOCKED in log_in(client, "admin", PASSWORD).content.decode()

    clock[0] += 2
    response = log_in(client, "admin", PASSWORD)

    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(admin_user.pk)


def test_the_username_block_holds_from_any_address(client, admin_user, clock):
    for number in range(3):
        log_in(client, "admin", "wrong", address=f"10.0.1.{number}")

    assert BLOCKED in log_in(client, "ADMIN", PASSWORD, address="10.9.9.9").content.decode()


def test_failures_from_one_address_block_every_username_from_it(
    client, admin_user, outsider_user, clock
):
    for number in range(5):
        log_in(client, f"someone{number}", "wrong", address="10.0.0.7")

    assert BLOCKED in log_in(client, "olivia", PASSWORD, address="10.0.0.7").content.decode()
    assert log_in(client, "olivia", PASSWORD, address="10.0.0.8").status_code == 302


def test_a_successful_login_forgets_earlier_failures(client, admin_user, clock):
    log_in(client, "admin", "wrong")
    log_in(client, "admin", "wrong")
    assert log_in(client, "admin", PASSWORD).status_code == 302
    client.logout()

    log_in(client, "admin", "wrong")
    log_in(client, "admin", "wrong")

    assert log_in(client, "admin", PASSWORD).status_code == 302


def test_failures_spread_beyond_the_cool_off_never_block(client, admin_user, clock):
    for _ in range(6):
        log_in(client, "admin", "wrong")
        clock[0] += 601

    assert log_in(client, "admin", PASSWORD).status_code == 302


def test_a_wrong_password_without_throttle_shows_the_usual_message(client, admin_user, clock):
    html = log_in(client, "admin", "wrong").content.decode()

    assert "didn&#x27;t match" in html or "didn't match" in html
    assert BLOCKED not in html


def test_the_admin_login_is_throttled_alike(client, admin_user, clock):
    for _ in range(3):
        client.post("/admin/login/", {"username": "admin", "password": "wrong"})

    response = client.post("/admin/login/", {"username": "admin", "password": PASSWORD})

    assert BLOCKED in response.content.decode()


def test_behind_a_proxy_the_address_is_the_last_forwarded_hop(rf, settings):
    settings.BEHIND_PROXY = True
    request = rf.get("/", HTTP_X_FORWARDED_FOR="1.2.3.4, 203.0.113.9", REMOTE_ADDR="10.0.0.2")

    assert login_throttle.client_address(request) == "203.0.113.9"

    settings.BEHIND_PROXY = False
    assert login_throttle.client_address(request) == "10.0.0.2"

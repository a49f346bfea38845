"""Login throttling: failures per username and per address, then a cool-off that ends."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import uuid

import pytest
from django.core.cache import cache
from django.test import Client

from agenwork import login_throttle
from tests.conftest import PASSWORD
from tests.support.make_run import ROOT, shell_env

BLOCKED = "Too many failed logins"
# Another process on the embedded defaults: how long the admin must still wait.
ANOTHER_PROCESS = (
    "import django; django.setup(); from agenwork.login_throttle import seconds_blocked; "
    "print(seconds_blocked('admin', '10.9.9.9'))"
)


@pytest.fixture(autouse=True)
def _small_limits(settings):
    settings.LOGIN_FAILURES_PER_USERNAME = 3
    settings.LOGIN_FAILURES_PER_ADDRESS = 5
    settings.LOGIN_COOLOFF_SECONDS = 600


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


def test_without_redis_the_count_is_in_files_every_process_of_the_machine_reads(
    client, admin_user, settings, tmp_path
):
    """`make run`'s cache (no REDIS_URL): a block counted here holds in any other process."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(tmp_path / "cache"),
        }
    }
    for _ in range(3):
        log_in(client, "admin", "wrong")

    blocked_here = log_in(client, "admin", PASSWORD).content.decode()
    elsewhere = subprocess.run(
        [sys.executable, "-c", ANOTHER_PROCESS],
        cwd=ROOT,
        env={
            **shell_env(tmp_path),
            "DJANGO_SETTINGS_MODULE": "agenwork.settings",
            "SECRET_KEY": "another-process-" + "x" * 40,
            "ENCRYPTION_KEY": "another-process-" + "y" * 40,
            "LOGIN_FAILURES_PER_USERNAME": "3",
            "LOGIN_COOLOFF_SECONDS": "600",
        },
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert BLOCKED in blocked_here
    assert elsewhere.returncode == 0, elsewhere.stderr
    assert 0 < int(elsewhere.stdout) <= 600


@pytest.fixture
def redis_cache(settings):
    """The suite's Redis as the cache, under a prefix of this test's own (never cleared whole)."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": os.environ["REDIS_URL"],
            "KEY_PREFIX": f"test-throttle-{uuid.uuid4().hex}",
        }
    }
    # The counts expire by themselves a minute after the test.
    settings.LOGIN_COOLOFF_SECONDS = 60
    yield
    cache.close()
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}


def fail_together(threads: int, each: int, username: str) -> None:
    """`threads` threads, started at once, each recording `each` failures for `username`."""
    start = threading.Barrier(threads)

    def fail() -> None:
        start.wait()
        for _ in range(each):
            login_throttle.record_failure(username, "10.0.0.1")
        cache.close()

    workers = [threading.Thread(target=fail) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()


def test_concurrent_failures_on_redis_are_each_counted_exactly(redis_cache, settings):
    threads, each = 16, 10
    settings.LOGIN_FAILURES_PER_USERNAME = threads * each + 1
    settings.LOGIN_FAILURES_PER_ADDRESS = 10 * threads * each

    fail_together(threads, each, "admin")
    one_short = login_throttle.seconds_blocked("admin", "10.0.0.9")
    login_throttle.record_failure("admin", "10.0.0.9")

    assert one_short == 0
    assert 0 < login_throttle.seconds_blocked("admin", "10.0.0.9") <= 60


class CountExpiringOnce:
    """The cache, but the first count `add` finds is gone by the time `incr` reaches it."""

    def __init__(self, real) -> None:
        self.real, self.expired = real, False

    def add(self, key: str, value: int, timeout: int) -> bool:
        if key.endswith(":count") and not self.expired:
            self.expired = True
            return False
        return self.real.add(key, value, timeout=timeout)

    def __getattr__(self, name: str):
        return getattr(self.real, name)


def test_a_count_expiring_between_add_and_incr_starts_over_with_this_failure(monkeypatch, settings):
    settings.LOGIN_FAILURES_PER_USERNAME = 1
    expiring = CountExpiringOnce(cache)
    monkeypatch.setattr(login_throttle, "cache", expiring)

    login_throttle.record_failure("admin", "10.0.0.1")

    assert expiring.expired
    assert login_throttle.seconds_blocked("admin", "10.0.0.2") > 0

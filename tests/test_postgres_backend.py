"""agenwork's PostgreSQL backend: a kept connection is checked by its socket, not by SELECT 1."""

from __future__ import annotations

import select
from collections.abc import Iterator

import pytest
from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper

pytestmark = pytest.mark.django_db


@pytest.fixture
def kept() -> Iterator[BaseDatabaseWrapper]:
    """A connection of its own, kept between requests as the web process keeps it."""
    wrapper = connections.create_connection("default")
    wrapper.ensure_connection()
    yield wrapper
    wrapper.close()


def backend_pid(wrapper: BaseDatabaseWrapper) -> int:
    with wrapper.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def next_request(wrapper: BaseDatabaseWrapper) -> None:
    """What Django does between two requests (the request_started signal)."""
    wrapper.close_if_unusable_or_obsolete()


def test_it_is_the_project_backend(kept: BaseDatabaseWrapper) -> None:
    assert type(kept).__module__ == "agenwork.postgres.base"
    assert kept.health_check_enabled


def test_a_live_connection_is_kept_without_a_query(
    kept: BaseDatabaseWrapper, monkeypatch: pytest.MonkeyPatch
) -> None:
    pid = backend_pid(kept)
    monkeypatch.setattr(kept, "is_usable", lambda: pytest.fail("the check sent a query"))
    next_request(kept)

    assert backend_pid(kept) == pid


def test_a_connection_the_server_closed_is_replaced_before_the_request_uses_it(
    kept: BaseDatabaseWrapper,
) -> None:
    pid = backend_pid(kept)
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
    # The server's farewell reaches the idle socket: wait for it (not a fixed sleep).
    assert select.select([kept.connection.fileno()], [], [], 10)[0]
    next_request(kept)

    assert backend_pid(kept) != pid  # answered on a new connection, no error

"""Django's PostgreSQL backend, its per-request health check made without a query.

Django checks a kept connection (CONN_HEALTH_CHECKS) with `SELECT 1` before the first query of
each request: a round trip as long as the statements an allowed decision runs, on every gateway
call ("Decisions API under load", docs/benchmarks.md). A connection the server has closed (a
restart, `pg_terminate_backend`, an idle timeout) has something to read while it is idle: the
server's farewell and the end of the stream, since nothing else arrives unasked (agenwork never
LISTENs). So the check here asks the socket, not the server: readable while idle means the
connection is gone, and it is replaced before the request uses it, as after a failed `SELECT 1`.
What neither check can see, a server that vanished without closing, ends in the statement's own
error, which the API answers with a 503 to retry.
"""

from __future__ import annotations

import select

from django.db.backends.postgresql import base


class DatabaseWrapper(base.DatabaseWrapper):
    """PostgreSQL: a kept connection is checked by polling its socket, not by a query."""

    def close_if_health_check_failed(self) -> None:
        if self.connection is None or not self.health_check_enabled or self.health_check_done:
            return
        if not _idle_and_open(self.connection):
            self.close()
        self.health_check_done = True


def _idle_and_open(connection) -> bool:
    """True when the server has sent nothing on this idle connection (so it has not closed it)."""
    if connection.closed:
        return False
    poll = select.poll()
    poll.register(connection.fileno(), select.POLLIN | select.POLLERR | select.POLLHUP)
    return not poll.poll(0)

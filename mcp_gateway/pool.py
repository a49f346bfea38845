"""Pooled upstream sessions: one initialized MCP client session per upstream, shared by every call.

- The gateway's lifespan runs the pool (run()). A session is opened by the first request that
  needs it, then kept open by a task of the pool; concurrent requests share it (MCP multiplexes
  requests on a session).
- Sessions are keyed by the whole Upstream value: a changed URL, header or command opens a new
  session, and the connector's previous one is closed.
- A fault raises UpstreamFault with one sentence for the agent. A broken session (its connection
  closed, a line that is not MCP, no answer to a ping after a call timed out, no start within
  OPEN_TIMEOUT) is dropped at once: the next request opens a new one, so a stdio server whose
  process died is started again.
- Outside run() (a command, a test in process) each request opens a session of its own.
- Nothing here knows agenwork's rules or its database.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import anyio
from anyio.abc import TaskGroup
from mcp import Client
from mcp.shared.exceptions import MCPError
from mcp_types import (
    CONNECTION_CLOSED,
    INTERNAL_ERROR,
    INVALID_REQUEST,
    PARSE_ERROR,
    REQUEST_TIMEOUT,
)
from mcp_types.version import MODERN_PROTOCOL_VERSIONS
from pydantic import ValidationError

from mcp_gateway.upstreams import Upstream, fault_text, upstream_session

logger = logging.getLogger(__name__)

T = TypeVar("T")

PROBE_TIMEOUT = 5.0  # seconds a health probe waits for the upstream's answer to a ping
OPEN_TIMEOUT = 30.0  # seconds at least a new session may take to start (or its timeout, if longer)


class UpstreamFault(Exception):
    """An upstream that is down, slow or answering garbage, said in one sentence.

    - `answered`: the upstream answered the request with a JSON-RPC error: it is up, the call
      failed there (the connector is not in Error for that).
    """

    def __init__(self, text: str, *, answered: bool = False) -> None:
        super().__init__(text)
        self.text = text
        self.answered = answered


@dataclass(eq=False)
class _Session:
    """One upstream's session, held open by a task of the pool until it is dropped."""

    upstream: Upstream
    ready: anyio.Event = field(default_factory=anyio.Event)
    closing: anyio.CancelScope = field(default_factory=anyio.CancelScope)
    client: Client | None = None
    fault: str = ""


class UpstreamPool:
    """The gateway's upstream sessions, by Upstream."""

    def __init__(self) -> None:
        self._sessions: dict[Upstream, _Session] = {}
        self._tasks: TaskGroup | None = None

    @asynccontextmanager
    async def run(self) -> AsyncIterator[UpstreamPool]:
        """Hold sessions open while the context runs; close them all (stdio servers end) after."""
        async with anyio.create_task_group() as tasks:
            self._tasks = tasks
            try:
                yield self
            finally:
                self._tasks = None
                self._sessions.clear()
                tasks.cancel_scope.cancel()

    @property
    def open_upstreams(self) -> list[Upstream]:
        """The upstreams that have a session open or opening."""
        return list(self._sessions)

    async def request(
        self,
        upstream: Upstream,
        work: Callable[[Client], Awaitable[T]],
        *,
        timeout: float | None = None,
    ) -> T:
        """`work(client)` on the upstream's session, within its timeout (opening included)."""
        seconds = upstream.timeout if timeout is None else timeout
        if self._tasks is None:
            return await _one_shot(upstream, work, seconds)
        session = self._session_for(upstream)
        try:
            with anyio.fail_after(seconds):
                await session.ready.wait()
                if session.client is None:
                    raise UpstreamFault(f"failed: {session.fault or 'it did not start'}")
                return await work(session.client)
        except UpstreamFault:
            raise
        except Exception as exc:
            kind, what = _diagnosis(exc)
            if kind == TIMED_OUT:
                self._timed_out(session)
            elif kind == BROKEN:
                self.drop(session, what)
                what = session.fault  # the first fault seen, e.g. the garbage that broke it
            raise _fault(kind, what, seconds) from None

    async def probe(self, upstream: Upstream) -> str:
        """'' when the upstream answers a ping within a few seconds, else what is wrong."""
        timeout = min(upstream.timeout, PROBE_TIMEOUT)
        try:
            await self.request(upstream, ping, timeout=timeout)
        except UpstreamFault as fault:
            return "" if fault.answered else fault.text
        return ""

    def drop(self, session: _Session, fault: str) -> None:
        """Forget a broken session and close it: the next request opens a new one."""
        if not session.fault:
            session.fault = fault
            logger.warning("upstream %s: %s; its session is closed", session.upstream.slug, fault)
        self._forget(session)
        session.closing.cancel()

    def _forget(self, session: _Session) -> None:
        if self._sessions.get(session.upstream) is session:
            del self._sessions[session.upstream]

    def _session_for(self, upstream: Upstream) -> _Session:
        session = self._sessions.get(upstream)
        if session is not None:
            return session
        for other in [s for u, s in self._sessions.items() if u.slug == upstream.slug]:
            self.drop(other, "the connector's upstream changed")
        session = self._sessions[upstream] = _Session(upstream)
        assert self._tasks is not None
        self._tasks.start_soon(self._hold, session, name=f"upstream {upstream.slug}")
        self._tasks.start_soon(self._open_deadline, session)
        return session

    async def _open_deadline(self, session: _Session) -> None:
        """A session that does not start in time is dropped (a hung server is started again)."""
        with anyio.move_on_after(max(session.upstream.timeout, OPEN_TIMEOUT)):
            await session.ready.wait()
            return
        self.drop(session, "it did not start in time")

    async def _hold(self, session: _Session) -> None:
        async def on_message(message: Any) -> None:
            if isinstance(message, Exception):  # a line that is not MCP: the session is garbage
                self.drop(session, f"it sent something that is not MCP ({_first_error(message)})")

        try:
            with session.closing:
                async with upstream_session(
                    session.upstream, timed=False, message_handler=on_message
                ) as client:
                    session.client = client
                    session.ready.set()
                    await anyio.sleep_forever()
        except Exception as exc:  # it could not start, or it broke while closing
            self.drop(session, fault_text(exc))
        finally:
            self._forget(session)
            session.fault = session.fault or "it was closed"
            session.client = None
            session.ready.set()

    def _timed_out(self, session: _Session) -> None:
        """An open session is kept if it still answers a ping (one still opening keeps opening)."""
        if session.client is not None and self._tasks is not None:
            self._tasks.start_soon(self._check, session)

    async def _check(self, session: _Session) -> None:
        client = session.client
        if client is None:
            return
        try:
            with anyio.fail_after(PROBE_TIMEOUT):
                await ping(client)
        except Exception as exc:  # no answer in time, or the connection broke
            self.drop(session, f"it did not answer a ping ({fault_text(exc)})")


def _first_error(exc: Exception) -> str:
    """The first of a validation error's complaints (pydantic's text runs over many lines)."""
    errors = exc.errors() if isinstance(exc, ValidationError) else None
    return str(errors[0]["msg"])[:200] if errors else fault_text(exc)


async def ping(client: Client) -> None:
    """The cheapest request an upstream answers: ping (at 2026-07-28, which has none: discover)."""
    version = client.protocol_version
    if version in MODERN_PROTOCOL_VERSIONS:
        await client.session.send_discover(version)
    else:
        await client.session.send_ping()


async def _one_shot(
    upstream: Upstream, work: Callable[[Client], Awaitable[T]], seconds: float
) -> T:
    """`work(client)` on a session of its own, for callers outside the gateway's lifespan."""
    try:
        with anyio.fail_after(seconds):
            async with upstream_session(upstream, timed=False) as client:
                return await work(client)
    except Exception as exc:
        raise _fault(*_diagnosis(exc), seconds) from None


TIMED_OUT, ANSWERED, BROKEN = "timed out", "answered", "broken"
# JSON-RPC errors that say the session is broken (the SDK's client makes them up for a closed
# connection, an HTTP error status, a body that is not JSON-RPC), not that the call was refused.
_BROKEN_SESSION = frozenset({CONNECTION_CLOSED, PARSE_ERROR, INVALID_REQUEST, INTERNAL_ERROR})


def _diagnosis(exc: Exception) -> tuple[str, str]:
    """What a request's exception says: timed out, answered (an error), or broken; and why."""
    if isinstance(exc, TimeoutError):
        return TIMED_OUT, ""
    if isinstance(exc, MCPError):
        if exc.code == REQUEST_TIMEOUT:
            return TIMED_OUT, ""
        if exc.code == CONNECTION_CLOSED:
            return BROKEN, "it closed the connection"
        return (BROKEN if exc.code in _BROKEN_SESSION else ANSWERED), exc.message
    return BROKEN, fault_text(exc)  # a result that is not MCP, a transport fault


def _fault(kind: str, what: str, seconds: float) -> UpstreamFault:
    if kind == TIMED_OUT:
        return UpstreamFault(f"timed out after {seconds:g} s")
    if kind == ANSWERED:
        return UpstreamFault(f"answered an error: {what}", answered=True)
    return UpstreamFault(f"failed: {what}")


upstream_pool = UpstreamPool()

"""Calls held for an approval: each waits on an event; one poll watches every held request.

- A held call costs no thread and no query of its own while it waits: the poll reads, in one
  query, which of the held requests are no longer pending (MCP_HOLD_POLL_SECONDS), and wakes
  their calls. Nothing is held → no poll.
- The approval is consumed in a shielded step and the call forwarded only if its client is still
  there; a client gone at that moment gets its one-time approval released for the retry.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import anyio
import mcp_types as types
from django.conf import settings

from mcp_gateway.database import off_loop
from mcp_gateway.forwarding import forward_call, tool_error
from mcp_gateway.rules import (
    CallVerdict,
    HeldCall,
    Settled,
    decided_among,
    record_execution,
    release_held_call,
    settle_held_call,
    still_pending_text,
)

logger = logging.getLogger(__name__)


class Waiters:
    """Held calls by request, woken when a poll finds their request decided."""

    def __init__(self) -> None:
        self._events: dict[int, set[asyncio.Event]] = {}
        self._poller: asyncio.Task[None] | None = None

    @property
    def held(self) -> int:
        """How many calls wait now."""
        return sum(len(events) for events in self._events.values())

    async def wait(self, request_pk: int, timeout: float) -> bool:
        """Wait up to `timeout` seconds; True when the request was found decided."""
        event = asyncio.Event()
        self._events.setdefault(request_pk, set()).add(event)
        if self._poller is None or self._poller.done():
            self._poller = asyncio.get_running_loop().create_task(self._poll())
        try:
            with anyio.move_on_after(timeout):
                await event.wait()
        finally:
            waiting = self._events.get(request_pk)
            if waiting is not None:
                waiting.discard(event)
                if not waiting:
                    del self._events[request_pk]
        return event.is_set()

    async def _poll(self) -> None:
        while self._events:
            await asyncio.sleep(float(settings.MCP_HOLD_POLL_SECONDS))
            if not self._events:
                return
            try:
                decided = await off_loop(decided_among)(list(self._events))
            except Exception:  # the database is away: the calls keep waiting, the poll retries
                logger.exception("held calls: could not read their requests")
                continue
            for request_pk in decided:
                for event in self._events.get(request_pk, ()):
                    event.set()


WAITERS = Waiters()


async def hold_call(
    ctx: Any, verdict: CallVerdict, arguments: dict[str, Any], agent: str
) -> types.CallToolResult:
    """Hold a call until its request is decided or the window ends; forward it once if approved."""
    held = verdict.held
    assert held is not None and verdict.upstream is not None
    window = float(settings.MCP_HOLD_SECONDS)
    every = float(settings.MCP_HOLD_PROGRESS_SECONDS)
    started = time.monotonic()
    decided = not held.pending
    while not decided:
        waited = time.monotonic() - started
        if waited >= window:
            return tool_error(still_pending_text(held, round(waited)))
        message = f"Waiting for approval by {held.waiting_for}, request {held.public_id}"
        await ctx.session.report_progress(round(waited), window, message)
        decided = await WAITERS.wait(held.request_pk, min(every, window - waited))
    settled = await _settle(held, agent)
    if settled is None:  # pending again cannot happen; be safe: not executed
        return tool_error(still_pending_text(held, round(time.monotonic() - started)))
    if not settled.forward:
        return tool_error(settled.message)
    return await _forward_once(held, verdict, arguments, agent)


async def _settle(held: HeldCall, agent: str) -> Settled | None:
    """Consume the approval (shielded: a half-done consume is never left), then check the client."""
    with anyio.CancelScope(shield=True):
        settled = await off_loop(settle_held_call)(held.request_pk, agent)
    try:
        await anyio.lowlevel.checkpoint()  # raises here if the client went away meanwhile
    except anyio.get_cancelled_exc_class():
        if settled is not None and settled.forward:
            with anyio.CancelScope(shield=True):
                await off_loop(release_held_call)(held.request_pk, settled, agent)
        raise
    return settled


async def _forward_once(
    held: HeldCall, verdict: CallVerdict, arguments: dict[str, Any], agent: str
) -> types.CallToolResult:
    """Forward the approved call and write its execution into the request's history (shielded)."""
    assert verdict.upstream is not None
    with anyio.CancelScope(shield=True):
        started = time.monotonic()
        result = await forward_call(verdict.upstream, verdict.upstream_tool, arguments)
        took_ms = round((time.monotonic() - started) * 1000)
        error = _error_text(result) if result.is_error else ""
        await off_loop(record_execution)(held.request_pk, agent, took_ms, error)
    return result


def _error_text(result: types.CallToolResult) -> str:
    text = " ".join(getattr(part, "text", "") for part in result.content)
    return (text or "no details")[:300]

"""The gateway's health check has a thread of its own: a busy pool never queues its probe."""

from __future__ import annotations

import asyncio
import threading

from mcp_gateway.database import for_health, off_loop


def test_the_health_check_runs_while_every_pool_thread_is_busy() -> None:
    release = threading.Event()

    async def scenario() -> threading.Thread:
        # More waits than the loop's pool has threads (at most 32), queued before the probe.
        busy = [asyncio.ensure_future(off_loop(release.wait)()) for _ in range(40)]
        await asyncio.sleep(0)
        try:
            return await asyncio.wait_for(for_health(threading.current_thread)(), 10)
        finally:
            release.set()
            await asyncio.gather(*busy)

    # A loop of its own, in a thread of its own: this worker's thread may run Playwright's loop.
    answered: list[threading.Thread] = []
    runner = threading.Thread(target=lambda: answered.append(asyncio.run(scenario())))
    runner.start()
    runner.join(timeout=30)

    assert answered and answered[0].name.startswith("gateway-health")

"""Under `make run` the Dashboard's figures follow the decisions: the worker's recomputation
reaches the web server.

- The web server and the worker as `make run` starts them (tests/support/make_run.py: the
  Makefile's set-up, then honcho over Procfile.dev), on the embedded defaults: SQLite, the
  filesystem broker and the cache every process shares. With a cache of its own per process the
  web server kept showing its first figures for ever.
- DASHBOARD_FIGURES_MAX_AGE_SECONDS=1, so that the figures go stale within the test rather than
  after a minute; the page says how often they refresh.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest

from tests.support.make_run import Console, Runner

REFRESH_SECONDS = 60


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runner]:
    runner = Runner(
        tmp_path_factory.mktemp("make-run"),
        processes=("web", "worker"),
        extra_env={"DASHBOARD_FIGURES_MAX_AGE_SECONDS": "1"},
    )
    try:
        runner.start()
        runner.wait_until_serving()
        yield runner
    finally:
        runner.stop()


def figure(page: str, name: str) -> int:
    found = re.search(rf'data-figure="{name}".*?class="figure-value">(\d+)<', page, re.DOTALL)
    assert found, f"no {name} figure on the Dashboard"
    return int(found[1])


def test_decided_today_follows_a_decision_made_after_the_first_view(demo):
    admin = Console(demo.url)
    admin.log_in("admin")
    first = admin.get("/")
    decided, pending = figure(first, "decided-today"), figure(first, "pending")
    newest_waiting = re.findall(r'data-request="([0-9a-f-]{36})"', first)[0]

    admin.approve(newest_waiting)

    deadline = time.monotonic() + REFRESH_SECONDS
    while (figure(page := admin.get("/"), "decided-today"), figure(page, "pending")) != (
        decided + 1,
        pending - 1,
    ):
        assert time.monotonic() < deadline, f"the figures never changed:\n{demo.log()}"
        time.sleep(0.5)
    assert "Figures and charts refresh every 1.0 s." in page

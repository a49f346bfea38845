"""Server time of the Dashboard and the Activity page over the benchmark database.

Method: the Django test client in-process, logged in as the demo admin, as for the Requests page.
The benchmark database holds 1,000,000 generated requests and their history (over 2,000,000
request events), the API decisions the other benches logged and the admin changes. The Dashboard
shows cached figures and has a task recompute them once they are a minute old, so a view computes
them only when no copy is cached (the first view of a scope, a lost cache): it is timed both ways,
with the cache emptied before every call (the target is not applied to this line) and as every
other view finds it. The
Activity page is timed unfiltered, filtered to one kind, and one page further on (its keyset
"after" link).
"""

from __future__ import annotations

import re

from bench.common import Result, percentile, summary, time_calls

TARGET_MS = 200.0
AFTER_LINK = re.compile(r'href="(/activity/\?[^"]*after=[^"]+)"')


def _timed(client, url: str, runs: int, before=None) -> list[float]:
    def call() -> None:
        if before:
            before()
        response = client.get(url)
        if response.status_code != 200:
            raise SystemExit(f"{url} answered {response.status_code}")

    return time_calls(call, warmup=2, runs=runs)


def run(runs: int = 30) -> list[Result]:
    """Time the Dashboard (cold and warm) and the Activity page; return the figures."""
    from django.contrib.auth import get_user_model
    from django.core.cache import cache
    from django.test import Client

    client = Client()
    client.force_login(get_user_model().objects.get(username="admin"))
    first = client.get("/activity/").content.decode()
    after = AFTER_LINK.search(first)
    pages = {
        "Dashboard, no figures cached (first view of a scope)": ("/", cache.clear),
        "Dashboard, as views find it (figures cached, refreshed by a task)": ("/", None),
        "Activity, newest first": ("/activity/", None),
        "Activity, request history only": ("/activity/?kind=request", None),
        "Activity, API decisions only": ("/activity/?kind=decision", None),
    }
    if after:
        pages["Activity, the next page"] = (after.group(1).replace("&amp;", "&"), None)
    results = []
    for name, (url, before) in pages.items():
        samples = _timed(client, url, runs, before)
        p95 = percentile(samples, 95)
        area = "Dashboard" if url == "/" else "Activity"
        target, ok = ("—", True) if before else ("≤ 200 ms", p95 <= TARGET_MS)
        results.append(Result(area, name, p95, "ms p95", target, ok, summary(samples)))
        print(results[-1].line(), flush=True)
    return results

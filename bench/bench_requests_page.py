"""Server time of the Requests page and the review panel over the benchmark database.

Method: the Django test client in-process (middleware, view, queries, template; no network),
logged in as the demo admin; each URL warmed up with 3 calls, then timed over 100 calls; queries
captured on one more call. The Django admin changelist for AccessRequest (same columns, 25 rows,
its default sort) is timed the same way and compared with our default view (newest first). The
speed-up is reported twice, admin over ours at the median and at p95, and both must reach 5x.
"""

from __future__ import annotations

import re

from bench.common import Result, percentile, summary, time_calls

LIST_TARGET_MS = 25.0
PANEL_TARGET_MS = 20.0
MAX_QUERIES = 8
ADMIN_RATIO_TARGET = 5.0
UNCAPPED_COUNT = re.compile(r"SELECT COUNT\(\*\)(?!.*LIMIT)", re.IGNORECASE | re.DOTALL)

LIST_URLS = {
    **{
        f"sort {s}": f"/requests/?sort={s}"
        for s in ("name", "identifier", "connector", "requested")
    },
    **{
        f"sort -{s}": f"/requests/?sort=-{s}"
        for s in ("name", "identifier", "connector", "requested")
    },
    "connector filter (github)": "/requests/?connector=github",
    "status filter (approved)": "/requests/?status=approved",
    "page 2000": "/requests/?page=2000",
}


def _measure(client, url: str, runs: int, **headers) -> tuple[list[float], list[str]]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def call() -> None:
        response = client.get(url, **headers)
        if response.status_code != 200:
            raise SystemExit(f"{url} answered {response.status_code}")

    samples = time_calls(call, warmup=3, runs=runs)
    with CaptureQueriesContext(connection) as captured:
        call()
    return samples, [q["sql"] for q in captured.captured_queries]


def run(runs: int = 100) -> list[Result]:
    """Time every list view, the panel and the admin changelist; return the figures."""
    from django.contrib.auth import get_user_model
    from django.test import Client

    from requests_app.models import AccessRequest

    client = Client()
    client.force_login(get_user_model().objects.get(username="admin"))
    results: list[Result] = []
    list_samples: dict[str, list[float]] = {}
    for name, url in LIST_URLS.items():
        samples, queries = _measure(client, url, runs)
        p95 = percentile(samples, 95)
        list_samples[name] = samples
        uncapped = [q for q in queries if UNCAPPED_COUNT.search(q)]
        ok = p95 <= LIST_TARGET_MS and len(queries) <= MAX_QUERIES and not uncapped
        note = f"{len(queries)} queries; {summary(samples)}"
        results.append(Result("Requests page", name, p95, "ms p95", "≤ 25 ms", ok, note))
        print(results[-1].line(), flush=True)

    pending = AccessRequest.objects.filter(status="pending").order_by("-requested_at").first()
    url = f"/requests/{pending.public_id}/"
    samples, queries = _measure(client, url, runs, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="panel")
    p95 = percentile(samples, 95)
    ok = p95 <= PANEL_TARGET_MS and len(queries) <= MAX_QUERIES
    note = f"{len(queries)} queries; {summary(samples)}"
    results.append(
        Result("Review panel", "panel partial (htmx)", p95, "ms p95", "≤ 20 ms", ok, note)
    )
    print(results[-1].line(), flush=True)

    admin_samples, admin_queries = _measure(client, "/admin/requests_app/accessrequest/", runs)
    note = f"{len(admin_queries)} queries; {summary(admin_samples)}"
    results.append(
        Result(
            "Django admin",
            "changelist, default sort",
            percentile(admin_samples, 95),
            "ms p95",
            "—",
            True,
            note,
        )
    )
    print(results[-1].line(), flush=True)
    ours = list_samples["sort -requested"]
    for label, pct in (("median", 50), ("p95", 95)):
        admin, mine = percentile(admin_samples, pct), percentile(ours, pct)
        ratio = admin / mine
        results.append(
            Result(
                "Requests page",
                f"speed-up over the admin changelist ({label})",
                ratio,
                "x",
                "≥ 5x",
                ratio >= ADMIN_RATIO_TARGET,
                f"admin {admin:.1f} ms / ours {mine:.1f} ms (same rows, default sort)",
            )
        )
        print(results[-1].line(), flush=True)
    return results


if __name__ == "__main__":
    from bench.common import setup_django

    setup_django()
    run()

"""Real races through the API on PostgreSQL: many gateways' threads hit one endpoint at once.

Each thread has its own test client (and so its own database connection), waits at a barrier so
the calls arrive together, and closes its connection at the end.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test import Client

from policies.models import DecisionLog
from requests_app.models import AccessRequest, RequestEvent
from requests_app.services import Actor, request_approve
from tests.api.conftest import ANA, CALENDAR, CREATE, UPDATE, Gateway

pytestmark = pytest.mark.django_db(transaction=True)

THREADS = 20


def race(raw_key: str, call: Callable[[Gateway], Any]) -> list[Any]:
    """Run `call` in THREADS threads released together; return each thread's response."""
    barrier = threading.Barrier(THREADS)
    responses: list[Any] = [None] * THREADS
    failures: list[BaseException] = []

    def run(i: int) -> None:
        try:
            gateway = Gateway(raw_key, Client())
            barrier.wait(timeout=30)
            responses[i] = call(gateway)
        except BaseException as exc:  # reported below, in the test's thread
            failures.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    assert failures == []
    return responses


def api_requests() -> int:
    return AccessRequest.objects.filter(api_key__isnull=False).count()


def test_twenty_identical_decision_calls_at_once_create_one_request(demo, issued):
    arguments = {"calendarId": "primary", "summary": "Acme QBR"}

    responses = race(
        issued.raw_key,
        lambda gw: gw.decide(ANA, CALENDAR, [CREATE, UPDATE], note="QBR", arguments=arguments),
    )

    assert [r.status_code for r in responses] == [200] * THREADS
    bodies = [r.json() for r in responses]
    assert {b["decision"] for b in bodies} == {"approval_required"}
    ids = {b["request"]["id"] for b in bodies}
    assert len(ids) == 1
    assert api_requests() == 1
    created = AccessRequest.objects.get(public_id=ids.pop())
    assert created.status == AccessRequest.Status.PENDING
    assert created.tools.count() == 2
    assert RequestEvent.objects.filter(request=created, kind="created").count() == 1
    # Every call is logged, each naming the one request.
    logs = DecisionLog.objects.filter(decision="approval_required")
    assert logs.count() == THREADS
    assert set(logs.values_list("request_public_id", flat=True)) == {created.public_id}


def test_twenty_different_calls_at_once_create_twenty_requests(demo, issued):
    counter = iter(range(THREADS))
    lock = threading.Lock()

    def call(gw: Gateway):
        with lock:
            n = next(counter)
        return gw.decide(ANA, CALENDAR, [CREATE], arguments={"n": n})

    responses = race(issued.raw_key, call)

    assert [r.status_code for r in responses] == [200] * THREADS
    assert len({r.json()["request"]["id"] for r in responses}) == THREADS
    assert api_requests() == THREADS


def test_twenty_consumes_of_one_approval_at_once_succeed_exactly_once(demo, issued):
    gateway = Gateway(issued.raw_key)
    created = gateway.decide(ANA, CALENDAR, [CREATE]).json()["request"]
    access_request = AccessRequest.objects.get(public_id=created["id"])
    request_approve(access_request=access_request, actor=Actor(name="Dana Levi", channel="web"))

    responses = race(issued.raw_key, lambda gw: gw.consume(created["id"]))

    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] + [409] * (THREADS - 1)
    losers = [r.json()["error"] for r in responses if r.status_code == 409]
    assert {error["code"] for error in losers} == {"conflict"}
    # Every loser is told the truth: the approval was used, not that there was nothing to use.
    assert all("consumed already" in error["message"] for error in losers), losers[0]
    access_request.refresh_from_db()
    assert access_request.consumed_at is not None
    winner = next(r for r in responses if r.status_code == 200).json()
    assert winner["consumed_at"] is not None
    assert RequestEvent.objects.filter(request=access_request, kind="consumed").count() == 1


def test_twenty_cancels_of_one_request_at_once_succeed_exactly_once(demo, issued):
    gateway = Gateway(issued.raw_key)
    created = gateway.decide(ANA, CALENDAR, [CREATE]).json()["request"]

    responses = race(issued.raw_key, lambda gw: gw.cancel(created["id"]))

    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] + [409] * (THREADS - 1)
    events = RequestEvent.objects.filter(request__public_id=created["id"], kind="cancelled")
    assert events.count() == 1

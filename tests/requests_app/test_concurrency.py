"""Real races on PostgreSQL: many threads decide or consume the same request at the same moment.

Every thread loads its own copy of the request while it is still pending, then waits at a
barrier so the conditional UPDATEs hit the database together; exactly one may win.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection

from policies.models import Policy
from policies.services import PolicyData
from requests_app.models import AccessRequest, Channel, RequestEvent
from requests_app.services import (
    Actor,
    RequestAlreadyDecided,
    RequestNotConsumable,
    request_approve,
    request_consume,
    request_deny,
    request_resolve_with_policy,
    request_time_out,
)

pytestmark = pytest.mark.django_db(transaction=True)

THREADS = 20
DECISION_KINDS = {"approved", "denied", "auto_approved", "expired", "cancelled"}


def race(pk: int, work: list[Callable[[AccessRequest], Any]]) -> list[tuple[str, Any]]:
    """Run each callable in its own thread on its own stale copy; return ("ok"|"error", value)."""
    barrier = threading.Barrier(len(work))
    results: list[tuple[str, Any]] = [("missing", None)] * len(work)

    def run(i: int) -> None:
        try:
            mine = AccessRequest.objects.get(pk=pk)
            barrier.wait(timeout=30)
            results[i] = ("ok", work[i](mine))
        except Exception as exc:
            results[i] = ("error", exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(work))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    return results


def split(results: list[tuple[str, Any]]) -> tuple[list[int], list[Exception]]:
    wins = [i for i, (outcome, _) in enumerate(results) if outcome == "ok"]
    errors = [value for outcome, value in results if outcome == "error"]
    return wins, errors


def approver(i: int) -> Actor:
    return Actor(name=f"Approver {i:02d}", channel=Channel.WEB)


def decide(i: int) -> Callable[[AccessRequest], Any]:
    """Even threads approve, odd threads deny."""
    if i % 2 == 0:
        return lambda r: request_approve(access_request=r, actor=approver(i))
    return lambda r: request_deny(access_request=r, actor=approver(i))


def test_twenty_approvers_and_deniers_at_once_exactly_one_wins(access_request):
    results = race(access_request.pk, [decide(i) for i in range(THREADS)])
    wins, errors = split(results)

    assert len(wins) == 1, results
    assert len(errors) == THREADS - 1
    assert all(isinstance(exc, RequestAlreadyDecided) for exc in errors), errors
    winner = wins[0]
    expected_status = "approved" if winner % 2 == 0 else "denied"
    access_request.refresh_from_db()
    assert access_request.status == expected_status
    assert access_request.decided_by_name == approver(winner).name
    [event] = RequestEvent.objects.filter(request=access_request, kind__in=DECISION_KINDS)
    assert event.kind == expected_status
    assert event.actor_name == approver(winner).name
    # Every loser was told who won.
    assert {(e.access_request.status, e.access_request.decided_by_name) for e in errors} == {
        (expected_status, approver(winner).name)
    }


def test_twenty_consumers_of_one_approval_exactly_one_succeeds(access_request):
    request_approve(access_request=access_request, actor=approver(0))
    gateway = Actor(name="Gateway", channel=Channel.API)
    results = race(
        access_request.pk,
        [lambda r: request_consume(access_request=r, actor=gateway)] * THREADS,
    )
    wins, errors = split(results)

    assert len(wins) == 1, results
    assert len(errors) == THREADS - 1
    assert all(isinstance(exc, RequestNotConsumable) for exc in errors), errors
    access_request.refresh_from_db()
    assert access_request.consumed_at is not None
    assert RequestEvent.objects.filter(request=access_request, kind="consumed").count() == 1


def test_timeout_races_approvals_and_exactly_one_wins(access_request):
    # Half the threads are the sweep timing the request out (the flow auto-approves).
    work = [
        (lambda r: request_time_out(access_request=r))
        if i % 2
        else (lambda r, i=i: request_approve(access_request=r, actor=approver(i)))
        for i in range(THREADS)
    ]
    results = race(access_request.pk, work)
    wins, errors = split(results)

    assert len(wins) == 1, results
    assert all(isinstance(exc, RequestAlreadyDecided) for exc in errors), errors
    timed_out = wins[0] % 2 == 1
    expected = ("auto_approved", "Timeout") if timed_out else ("approved", approver(wins[0]).name)
    access_request.refresh_from_db()
    assert (access_request.status, access_request.decided_by_name) == expected
    [event] = RequestEvent.objects.filter(request=access_request, kind__in=DECISION_KINDS)
    assert (event.kind, event.actor_name) == expected
    assert event.channel == (Channel.TIMEOUT if timed_out else Channel.WEB)


def test_policy_resolution_racing_a_deny_saves_the_policy_only_if_it_won(access_request):
    data = PolicyData(
        name="Allow calendar", connector=access_request.connector, action="allow", all_users=True
    )
    admin = Actor(name="Admin", channel=Channel.WEB)
    work = [
        (lambda r: request_resolve_with_policy(access_request=r, data=data, actor=admin))
        if i % 2
        else (lambda r, i=i: request_deny(access_request=r, actor=approver(i)))
        for i in range(THREADS)
    ]
    results = race(access_request.pk, work)
    wins, errors = split(results)

    assert len(wins) == 1, results
    assert all(isinstance(exc, RequestAlreadyDecided) for exc in errors), errors
    policy_won = wins[0] % 2 == 1
    access_request.refresh_from_db()
    assert access_request.status == ("approved" if policy_won else "denied")
    assert access_request.decided_via == (Channel.POLICY if policy_won else Channel.WEB)
    assert Policy.objects.count() == (1 if policy_won else 0)
    assert RequestEvent.objects.filter(request=access_request, kind__in=DECISION_KINDS).count() == 1

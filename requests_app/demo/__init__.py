"""Demo data for `manage.py seed_demo`: the canonical scenario and N generated requests.

- The scenario (DESIGN.md §9) is written by natural key; see `scenario`.
- Generated requests carry a dedupe key starting with "demo:", which no gateway call can produce
  (those are SHA-256 hex). A run counts them and adds only the missing ones up to N.
- On PostgreSQL the rows stream in with COPY, elsewhere with bulk_create, batch by batch, each
  batch in its own transaction; an interrupted run is completed by the next one.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from functools import partial

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from approval_flows.models import ApprovalFlow
from directory.models import Person
from policies.models import Policy
from requests_app.demo.asks import asks_for
from requests_app.demo.generator import GENERATED_PREFIX, Decider, RequestGenerator, RouteRef
from requests_app.demo.history import ApproverRef, FlowRef
from requests_app.demo.names import AGENTS
from requests_app.demo.people import PersonRef, ensure_people, people_count_for
from requests_app.demo.scenario import (
    DEMO_PASSWORD,
    Login,
    Scenario,
    seed_handwritten_requests,
    seed_logins,
    seed_scenario,
)
from requests_app.demo.writers import (
    analyze_tables,
    copy_supported,
    copy_texts,
    may_skip_triggers,
    reserve_request_ids,
    write_copy,
    write_orm,
)
from requests_app.models import AccessRequest, Channel
from requests_app.notify import e164, flow_channels, level_approvers
from requests_app.services import TIMEOUT_OUTCOMES, Actor

__all__ = [
    "DEMO_PASSWORD",
    "GENERATED_PREFIX",
    "LOCK_KEY",
    "Login",
    "Scenario",
    "generate_requests",
    "generated_count",
    "seed_handwritten_requests",
    "seed_lock",
    "seed_logins",
    "seed_scenario",
]

CONNECTOR_WEIGHTS = {"google-calendar": 60, "github": 25, "slack": 15}
COPY_BATCH, ORM_BATCH = 20_000, 1_000
ANALYZE_AFTER = 10_000
LOCK_KEY = 0x5EED_DE70  # any constant: it only has to be the same for every seed_demo run


@contextmanager
def seed_lock() -> Iterator[None]:
    """Runs side by side take turns (PostgreSQL advisory lock), so they never both add N."""
    if connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s)", [LOCK_KEY])
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [LOCK_KEY])


def generated_count() -> int:
    """How many generated requests the database holds."""
    return AccessRequest.objects.filter(dedupe_key__startswith=GENERATED_PREFIX).count()


def generate_requests(
    *,
    scenario: Scenario,
    logins: list[Login],
    target: int,
    seed: int = 42,
    progress: Callable[[int], object] | None = None,
    use_copy: bool | None = None,
    skip_triggers: bool | None = None,
) -> int:
    """Add generated requests until `target` exist; returns how many were added.

    - use_copy, skip_triggers: None picks what the database allows (see writers.write_copy).
    """
    existing = generated_count()
    missing = max(target - existing, 0)
    if missing == 0:
        return 0
    generator = _generator(scenario, logins, target, f"agenwork-demo:{seed}:{existing}")
    progress = progress or (lambda _n: None)
    if copy_supported() if use_copy is None else use_copy:
        skip = may_skip_triggers() if skip_triggers is None else skip_triggers
        write = partial(write_copy, skip_triggers=skip)
        _run_pipelined(generator, _batch_sizes(missing, COPY_BATCH), write, progress)
    else:
        _run_sequential(generator, _batch_sizes(missing, ORM_BATCH), progress)
    if missing >= ANALYZE_AFTER:
        analyze_tables()
    return missing


def _generator(scenario: Scenario, logins: list[Login], target: int, seed: str) -> RequestGenerator:
    """A generator over the scenario and its people; the same seed draws the same requests."""
    people = ensure_people(people_count_for(target), scenario.groups)
    return RequestGenerator(
        routes=_routes(scenario, people),
        deciders=_deciders(logins),
        now=timezone.now(),
        seed=seed,
        site_url=settings.SITE_URL,
    )


def _batch_sizes(total: int, size: int) -> list[int]:
    return [min(size, total - start) for start in range(0, total, size)]


def _run_sequential(
    generator: RequestGenerator, sizes: list[int], progress: Callable[[int], object]
) -> None:
    """Reserve ids, build and insert each batch in one transaction (any database)."""
    for size in sizes:
        with transaction.atomic():
            write_orm(generator.batch(reserve_request_ids(size)))
        progress(size)


def _run_pipelined(
    generator: RequestGenerator,
    sizes: list[int],
    write: Callable[[list[str]], None],
    progress: Callable[[int], object],
) -> None:
    """COPY each batch while a thread builds the next one (PostgreSQL).

    - Ids come from the table's sequence, so reserving ahead of the insert is safe.
    - The thread only runs Python; every query stays on this thread's connection.
    """
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="seed-demo") as pool:
        queued: deque[tuple[int, Future[list[str]]]] = deque()
        for size in sizes:
            ids = reserve_request_ids(size)
            queued.append((size, pool.submit(_build_copy, generator, ids)))
            if len(queued) > 1:
                _write_next(queued, write, progress)
        while queued:
            _write_next(queued, write, progress)


def _build_copy(generator: RequestGenerator, ids: list[int]) -> list[str]:
    return copy_texts(generator.batch(ids))


def _write_next(
    queued: deque[tuple[int, Future[list[str]]]],
    write: Callable[[list[str]], None],
    progress: Callable[[int], object],
) -> None:
    size, future = queued.popleft()
    write(future.result())
    progress(size)


def _routes(scenario: Scenario, people: list[PersonRef]) -> list[RouteRef]:
    """The scenario's Request approval policies, each with who may ask and what they may ask.

    - Requesters are the active generated people in one of the policy's groups (or all of
      them for a policy on all users); asks are the templates whose tools the policy covers.
    """
    routes = []
    flows: dict[int, FlowRef] = {}
    for policy in scenario.policies.values():
        if policy.action != Policy.Action.APPROVAL or policy.approval_flow is None:
            continue
        connector = policy.connector
        tools = {t.key: t.pk for t in scenario.tools.values() if t.connector_id == connector.pk}
        keys = {t.key for t in policy.tools.all()} or set(tools)
        groups = {g.name for g in policy.groups.all()}
        flow = policy.approval_flow
        if flow.pk not in flows:
            flows[flow.pk] = _flow_ref(flow)
        routes.append(
            RouteRef(
                connector_id=connector.pk,
                connector_slug=connector.slug,
                connector_name=connector.name,
                policy_id=policy.pk,
                flow=flows[flow.pk],
                tool_ids={key: tools[key] for key in keys},
                requesters=tuple(
                    p for p in people if p.active and (policy.all_users or p.group in groups)
                ),
                asks=tuple(asks_for(connector.slug, frozenset(keys))),
                agents=AGENTS.get(connector.slug, AGENTS[""]),
                weight=CONNECTOR_WEIGHTS.get(connector.slug, 10),
            )
        )
    return [route for route in routes if route.requesters and route.asks]


def _flow_ref(flow: ApprovalFlow) -> FlowRef:
    """The flow's timing, outcome and who its messages go to (as notify_new_request asks)."""
    timeout_status, timeout_kind, _tools = TIMEOUT_OUTCOMES[flow.timeout_action]
    # No generated person approves, so the first level's approvers are the same for every one.
    approvers = level_approvers(AccessRequest(flow=flow, current_level=1), [1])
    return FlowRef(
        id=flow.pk,
        reminder_after=flow.reminder_after,
        timeout=flow.timeout_after,
        timeout_status=timeout_status,
        timeout_kind=timeout_kind,
        notify_requester=flow.notify_requester,
        recipients=tuple(
            (_approver_ref(person), channel)
            for person in approvers
            for channel in flow_channels(flow, person)
        ),
        sms=flow.channel_sms,
    )


def _approver_ref(person: Person) -> ApproverRef:
    return ApproverRef(person.pk, person.name, person.email, e164(person.phone), person.user_id)


def _deciders(logins: list[Login]) -> list[Decider]:
    """The approver decides most requests, by any channel; the admin decides on the web."""
    by_role = {login.role: login for login in logins}
    approver, admin = by_role["approver"], by_role["admin"]
    return [
        Decider(approver.user.pk, Actor.for_user(approver.user).name, (Channel.WEB,) * 3
                + (Channel.EMAIL,) * 2 + (Channel.SMS,)),
        Decider(admin.user.pk, Actor.for_user(admin.user).name, (Channel.WEB,)),
    ]  # fmt: skip

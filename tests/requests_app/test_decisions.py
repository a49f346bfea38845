"""The decisions hot path's compiled statements read the same rows as the plain ORM."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from requests_app.decisions import (
    PENDING_UNLESS_GRANTED,
    UNUSED_APPROVAL,
    _pending_request,
    active_grants,
)
from requests_app.models import AccessRequest, RequestTool
from tests.factories import ConnectorFactory, PersonFactory, ToolFactory, make_request

Status = AccessRequest.Status


def concrete_values(instance) -> list:
    return [getattr(instance, field.attname) for field in type(instance)._meta.concrete_fields]


@pytest.fixture
def grants_world(requester, tools, flow):
    """Requests of every kind the grants query must tell apart."""
    now = timezone.now()
    other_connector_tool = ToolFactory(connector=ConnectorFactory(slug="github"), key="github_x")
    cases = [
        (requester, tools[:2], Status.APPROVED, now + timedelta(hours=1)),
        (requester, tools[2:], Status.AUTO_APPROVED, now + timedelta(days=1)),
        (requester, tools[:1], Status.APPROVED, now - timedelta(seconds=1)),  # expired
        (requester, tools[1:2], Status.APPROVED, None),  # once, not time-bound
        (requester, tools[2:], Status.DENIED, now + timedelta(hours=1)),
        (requester, [other_connector_tool], Status.APPROVED, now + timedelta(hours=1)),
        (PersonFactory(), tools[:1], Status.APPROVED, now + timedelta(hours=1)),
    ]
    for person, request_tools, status, expires_at in cases:
        access_request = make_request(requester=person, tools=request_tools, flow=flow)
        AccessRequest.objects.filter(pk=access_request.pk).update(
            status=status, grant_expires_at=expires_at
        )
        access_request.tools.update(status=RequestTool.Status.APPROVED)
    # One tool of the first request was refused: no grant for it.
    first = AccessRequest.objects.order_by("id").first()
    first.tools.filter(tool=tools[1]).update(status=RequestTool.Status.DENIED)
    return now


def test_active_grants_are_the_rows_the_orm_finds(requester, tools, grants_world):
    now = grants_world
    orm = RequestTool.objects.filter(
        status=RequestTool.Status.APPROVED,
        request__requester_id=requester.pk,
        request__connector_id=tools[0].connector_id,
        request__status__in=AccessRequest.APPROVED_STATUSES,
        request__grant_expires_at__gt=now,
    ).values_list("tool_id", "request__grant_expires_at")
    grants = active_grants(person_id=requester.pk, connector_id=tools[0].connector_id, now=now)
    assert sorted((g.tool_id, g.expires_at) for g in grants) == sorted(orm)
    assert {g.tool_id for g in grants} == {tools[0].pk, tools[2].pk}


def test_the_pending_request_is_the_one_the_orm_finds(access_request, requester, tools, flow):
    key = "same-call"
    older = make_request(requester=requester, tools=tools[:1], flow=flow)
    AccessRequest.objects.filter(pk=older.pk).update(status=Status.DENIED)  # then reused the key
    AccessRequest.objects.filter(pk__in=[older.pk, access_request.pk]).update(dedupe_key=key)
    orm = AccessRequest.objects.filter(dedupe_key=key, status=Status.PENDING).order_by("-id")
    found = _pending_request(key)
    assert found.pk == access_request.pk
    assert concrete_values(found) == concrete_values(orm.first())
    assert found.arguments == {"calendarId": "primary", "summary": "QBR"}


def test_no_pending_request_is_none(access_request):
    AccessRequest.objects.filter(pk=access_request.pk).update(
        dedupe_key="decided", status=Status.DENIED
    )
    assert _pending_request("decided") is None
    assert _pending_request("never-seen") is None


def test_the_unused_approval_is_the_one_the_orm_finds(requester, tools, flow):
    """A held call's retry attaches only to a one-time approval not yet used."""
    key, now = "approved-call", timezone.now()
    cases = [
        (Status.APPROVED, None, None),  # the one
        (Status.APPROVED, None, now),  # used already
        (Status.APPROVED, now + timedelta(hours=1), None),  # time-bound: grants cover it
        (Status.DENIED, None, None),
        (Status.PENDING, None, None),
    ]
    made = []
    for status, expires_at, consumed_at in cases:
        access_request = make_request(requester=requester, tools=tools[:1], flow=flow)
        AccessRequest.objects.filter(pk=access_request.pk).update(
            dedupe_key=key, status=status, grant_expires_at=expires_at, consumed_at=consumed_at
        )
        made.append(access_request)
    orm = AccessRequest.objects.filter(
        dedupe_key=key,
        status__in=AccessRequest.APPROVED_STATUSES,
        consumed_at__isnull=True,
        grant_expires_at__isnull=True,
    ).order_by("-id")
    found = UNUSED_APPROVAL.first(key=key)
    assert found.pk == made[0].pk
    assert concrete_values(found) == concrete_values(orm.first())
    assert UNUSED_APPROVAL.first(key="never-seen") is None


def pending_unless_granted(key: str, requester, connector_id: int, now):
    return PENDING_UNLESS_GRANTED.first(
        key=key, person_id=requester.pk, connector_id=connector_id, now=now
    )


def test_the_pending_request_with_its_grant_flag_is_what_the_orm_finds(
    access_request, requester, tools, grants_world
):
    """One statement: the pending request of the call, and whether the person holds any grant."""
    now, connector_id = grants_world, tools[0].connector_id
    AccessRequest.objects.filter(pk=access_request.pk).update(dedupe_key="same-call")
    found = pending_unless_granted("same-call", requester, connector_id, now)
    orm = AccessRequest.objects.filter(dedupe_key="same-call", status=Status.PENDING).first()
    assert concrete_values(found) == concrete_values(orm)
    assert found.granted is True  # grants_world gave the requester live grants here
    other = ConnectorFactory(slug="other-connector").pk
    assert pending_unless_granted("same-call", requester, other, now).granted is False
    later = now + timedelta(days=2)  # every grant has expired by then
    assert pending_unless_granted("same-call", requester, connector_id, later).granted is False
    assert pending_unless_granted("never-seen", requester, connector_id, now) is None

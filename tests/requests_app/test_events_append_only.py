"""PostgreSQL itself refuses to rewrite or erase a request's history (migration 0002's trigger).

The trigger raises with SQLSTATE 42501 (insufficient_privilege), which psycopg2 maps to
InsufficientPrivilege and Django wraps as django.db.utils.ProgrammingError.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.db import connection, transaction
from django.db.utils import ProgrammingError

from requests_app.models import Channel, RequestEvent
from requests_app.services import Actor, request_approve

INSUFFICIENT_PRIVILEGE = "42501"


@pytest.fixture
def event(access_request) -> RequestEvent:
    return access_request.events.get(kind=RequestEvent.Kind.CREATED)


def _orm_update(event: RequestEvent) -> None:
    RequestEvent.objects.filter(pk=event.pk).update(actor_name="Somebody else")


def _orm_save(event: RequestEvent) -> None:
    event.channel = Channel.POLICY
    event.save()


def _orm_queryset_delete(event: RequestEvent) -> None:
    RequestEvent.objects.filter(pk=event.pk).delete()


def _orm_instance_delete(event: RequestEvent) -> None:
    event.delete()


def _raw_update(event: RequestEvent) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE requests_app_requestevent SET message = %s WHERE id = %s", ["forged", event.pk]
        )


def _raw_delete(event: RequestEvent) -> None:
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM requests_app_requestevent WHERE id = %s", [event.pk])


@pytest.mark.parametrize(
    ("change", "operation"),
    [
        (_orm_update, "UPDATE"),
        (_orm_save, "UPDATE"),
        (_raw_update, "UPDATE"),
        (_orm_queryset_delete, "DELETE"),
        (_orm_instance_delete, "DELETE"),
        (_raw_delete, "DELETE"),
    ],
    ids=["orm-update", "orm-save", "raw-update", "orm-qs-delete", "orm-delete", "raw-delete"],
)
def test_database_refuses_to_change_an_event(
    event, change: Callable[[RequestEvent], None], operation: str
):
    original = RequestEvent.objects.values().get(pk=event.pk)
    with pytest.raises(ProgrammingError) as caught, transaction.atomic():
        change(event)
    cause = caught.value.__cause__
    assert cause.pgcode == INSUFFICIENT_PRIVILEGE
    assert f"requests_app_requestevent rows are append-only ({operation} refused)" in str(cause)
    # The savepoint rolled back: the connection is usable and the row is as it was.
    assert RequestEvent.objects.values().get(pk=event.pk) == original


def test_database_refuses_to_change_all_events_at_once(access_request, approver_user):
    request_approve(access_request=access_request, actor=Actor.for_user(approver_user))
    with pytest.raises(ProgrammingError, match="append-only"), transaction.atomic():
        RequestEvent.objects.filter(request=access_request).update(message="")
    assert RequestEvent.objects.filter(request=access_request).exclude(message="").count() == 3


def test_events_can_still_be_appended(access_request, event):
    added = RequestEvent.objects.create(
        request=access_request,
        kind=RequestEvent.Kind.REMINDED,
        actor_name="Reminder",
        channel=Channel.SYSTEM,
    )
    assert list(access_request.events.values_list("pk", flat=True))[-1] == added.pk
    assert access_request.events.filter(pk=event.pk).exists()


def test_the_services_append_their_events(access_request, approver_user):
    request_approve(access_request=access_request, actor=Actor.for_user(approver_user))
    assert list(access_request.events.values_list("kind", flat=True)) == [
        "created",
        "notified",
        "approved",
    ]

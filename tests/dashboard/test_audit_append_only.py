"""PostgreSQL itself refuses to rewrite or erase an audit entry (migration audit/0002's trigger).

The request history has the same guarantee, proven in tests/requests_app/test_events_append_only.py.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.db import connection, transaction
from django.db.utils import ProgrammingError

from audit.models import AuditEntry
from audit.services import audit_record

INSUFFICIENT_PRIVILEGE = "42501"


@pytest.fixture
def entry(admin_user) -> AuditEntry:
    return audit_record(
        actor=admin_user,
        action=AuditEntry.Action.UPDATED,
        object_type="policy",
        object_id=7,
        object_repr="Calendar for Sales",
        before={"action": "allow"},
        after={"action": "deny"},
    )


def _orm_update(entry: AuditEntry) -> None:
    AuditEntry.objects.filter(pk=entry.pk).update(actor_name="Somebody else")


def _orm_save(entry: AuditEntry) -> None:
    entry.after = {"action": "allow"}
    entry.save()


def _orm_delete(entry: AuditEntry) -> None:
    entry.delete()


def _raw_update(entry: AuditEntry) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE audit_auditentry SET object_repr = %s WHERE id = %s", ["x", entry.pk]
        )


def _raw_delete(entry: AuditEntry) -> None:
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM audit_auditentry WHERE id = %s", [entry.pk])


@pytest.mark.parametrize(
    ("change", "operation"),
    [
        (_orm_update, "UPDATE"),
        (_orm_save, "UPDATE"),
        (_raw_update, "UPDATE"),
        (_orm_delete, "DELETE"),
        (_raw_delete, "DELETE"),
    ],
    ids=["orm-update", "orm-save", "raw-update", "orm-delete", "raw-delete"],
)
def test_database_refuses_to_change_an_audit_entry(
    entry, change: Callable[[AuditEntry], None], operation: str
):
    original = AuditEntry.objects.values().get(pk=entry.pk)
    with pytest.raises(ProgrammingError) as caught, transaction.atomic():
        change(entry)
    cause = caught.value.__cause__
    assert cause.pgcode == INSUFFICIENT_PRIVILEGE
    assert f"audit_auditentry rows are append-only ({operation} refused)" in str(cause)
    assert AuditEntry.objects.values().get(pk=entry.pk) == original


def test_entries_can_still_be_appended(entry, admin_user):
    audit_record(
        actor=admin_user, action="deleted", object_type="policy", object_id=7, object_repr="x"
    )
    assert AuditEntry.objects.count() == 2

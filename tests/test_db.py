"""agenwork.db: hot statements compiled once per vendor, and the outbox's INSERT that skips
duplicates. Each statement declared with it has its own equivalence test beside its module's."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.db.backends.sqlite3.base import DatabaseWrapper as SQLiteWrapper
from django.db.models import Subquery
from django.utils import timezone

from agenwork import db
from agenwork.db import CompiledQuery, insert_row, insert_skipping_conflicts
from api.auth import KEY_AND_SNAPSHOT_VERSION
from approval_flows.models import Notification
from directory.models import Person
from policies.models import DecisionLog
from requests_app.decisions import ACTIVE_GRANTS, PENDING_REQUEST, PENDING_UNLESS_GRANTED

HOT_STATEMENTS = [KEY_AND_SNAPSHOT_VERSION, ACTIVE_GRANTS, PENDING_REQUEST, PENDING_UNLESS_GRANTED]


def row_values(row) -> dict:
    return {f.attname: getattr(row, f.attname) for f in type(row)._meta.concrete_fields[1:]}


def test_insert_row_stores_what_the_orm_stores(db):
    person = Person.objects.create(name="Ana", email="ana@example.com")
    values = {
        "created_at": timezone.now() - timedelta(minutes=3),
        "api_key_name": "Gateway",
        "user_ref": "ana@example.com",
        "person_id": person.pk,
        "agent": "Claude",
        "connector_id": None,
        "connector_slug": "github",
        "tools": ["github_repos_list", "naïve ☃"],
        "tool_decisions": [{"tool": "github_repos_list", "decision": "allow", "policy_id": None}],
        "decision": "allow",
        "reason_code": "policy_allow",
        "policy_ids": [3, 1],
        "request_public_id": uuid.uuid4(),
    }
    insert_row(DecisionLog, values)
    orm = DecisionLog.objects.create(**values)
    ours = DecisionLog.objects.exclude(pk=orm.pk).get()
    assert row_values(ours) == row_values(DecisionLog.objects.get(pk=orm.pk))


def test_a_statement_is_compiled_once_per_vendor(db, monkeypatch):
    statement = CompiledQuery(lambda email: Person.objects.filter(email=email))
    compiles: list[str] = []
    compile_for = statement._compile
    monkeypatch.setattr(
        statement, "_compile", lambda on: compiles.append(on.vendor) or compile_for(on)
    )
    Person.objects.create(name="Ana", email="ana@example.com")
    assert statement.first(email="ana@example.com").name == "Ana"
    assert statement.first(email="ben@example.com") is None
    assert compiles == [connection.vendor]


@pytest.mark.parametrize("statement", HOT_STATEMENTS)
def test_hot_statements_compile_for_sqlite_too(statement):
    """`make run` runs SQLite: each vendor gets its own SQL, quoted and adapted its way."""
    sqlite = SQLiteWrapper({**connection.settings_dict, "NAME": ":memory:"}, alias="sqlite")
    compiled = statement._compile(sqlite)
    assert compiled.sql.count("%s") == len(compiled.params)
    assert all(not isinstance(p, db.Param) or p.target is not None for p in compiled.params)


def test_a_param_the_outer_filter_does_not_compare_is_refused(db):
    statement = CompiledQuery(
        lambda email: Person.objects.filter(
            pk__in=Subquery(Person.objects.filter(email=email).values("pk"))
        )
    )
    with pytest.raises(TypeError, match="'email' is not compared with a field"):
        statement.rows(email="ana@example.com")


def notification(public_id: uuid.UUID, sequence: int) -> Notification:
    return Notification(
        request_public_id=public_id,
        address="ana@example.com",
        channel=Notification.Channel.EMAIL,
        occasion=Notification.Occasion.REMINDER,
        sequence=sequence,
        body_text="Reminder",
    )


def test_insert_skipping_conflicts_returns_only_the_new_rows(db):
    public_id = uuid.uuid4()
    person = Person.objects.create(name="Ana", email="ana@example.com")
    queued = notification(public_id, 1)
    queued.recipient = person
    first = insert_skipping_conflicts([queued], returning=["id"])
    assert first == [(Notification.objects.get().pk,)]
    again = notification(public_id, 1)
    again.recipient = person
    new = [notification(public_id, 2), again, notification(public_id, 3)]
    new[0].recipient = new[2].recipient = person
    inserted = insert_skipping_conflicts(new, returning=["id", "request_public_id"])
    assert sorted(inserted) == sorted(
        Notification.objects.filter(sequence__in=[2, 3]).values_list("id", "request_public_id")
    )
    assert {type(found) for _, found in inserted} == {uuid.UUID}
    assert insert_skipping_conflicts([], returning=["id"]) == []


def test_on_sqlite_a_grant_expiry_reads_back_aware():
    """SQLite hands back naive datetimes; the compiled grants convert them as the ORM does."""
    sqlite = SQLiteWrapper({**connection.settings_dict, "NAME": ":memory:"}, alias="sqlite")
    compiled = ACTIVE_GRANTS._compile(sqlite)
    as_sqlite_returns = [(4, datetime(2026, 12, 7, 22, 17, 1))]
    ((tool_id, expires_at),) = db._converted(as_sqlite_returns, compiled.converters, sqlite)
    assert (tool_id, expires_at) == (4, datetime(2026, 12, 7, 22, 17, 1, tzinfo=UTC))

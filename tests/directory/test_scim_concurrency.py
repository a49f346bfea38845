"""Real races on PostgreSQL: identity providers send PATCHes to one resource at the same moment.

A PATCH reads the resource, applies its operations and saves; the row lock makes the PATCHes
take turns, so none loses what another one changed.
"""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from directory.models import Group, Person
from directory.services import scim_token_create
from tests.directory.conftest import Scim
from tests.directory.test_scim_users import OKTA_CREATE, PATCH_OP

pytestmark = pytest.mark.django_db(transaction=True)

THREADS = 10


@pytest.fixture
def token(db) -> str:
    return scim_token_create(name="okta").raw_token


def _at_once(token: str, patches: list[tuple[str, list[dict]]]) -> list[int]:
    """Send the PATCHes from as many threads, released together; their status codes."""
    barrier = threading.Barrier(len(patches))
    statuses = [0] * len(patches)

    def send(i: int) -> None:
        path, operations = patches[i]
        try:
            scim = Scim(token)
            barrier.wait(timeout=30)
            body = {"schemas": [PATCH_OP], "Operations": operations}
            statuses[i] = scim.patch(path, body).status_code
        finally:
            connection.close()

    threads = [threading.Thread(target=send, args=(i,)) for i in range(len(patches))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    return statuses


def test_members_added_at_the_same_moment_are_all_kept(token):
    group = Group.objects.create(name="Sales")
    people = [
        Person.objects.create(name=f"P{i}", email=f"p{i}@example.com") for i in range(THREADS)
    ]
    add = [
        (f"Groups/{group.pk}", [{"op": "add", "path": "members", "value": [{"value": str(p.pk)}]}])
        for p in people
    ]
    assert _at_once(token, add) == [204] * THREADS
    assert set(group.members.values_list("pk", flat=True)) == {p.pk for p in people}


def test_user_changes_at_the_same_moment_are_all_kept(token):
    person_id = Scim(token).post("Users", OKTA_CREATE).json()["id"]
    changes = [
        (
            f"Users/{person_id}",
            [{"op": "add", "path": "phoneNumbers", "value": [{"value": f"+1555010{i:04d}"}]}],
        )
        for i in range(THREADS)
    ]
    assert _at_once(token, changes) == [200] * THREADS
    numbers = Person.objects.get(pk=person_id).scim_attributes["phoneNumbers"]
    assert sorted(n["value"] for n in numbers) == [f"+1555010{i:04d}" for i in range(THREADS)]

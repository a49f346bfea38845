"""Synthetic people for the generated requests, written by email so a later run adds no one twice.

Person i always gets the same name, email and groups, so the pool for N requests is the same on
every run and only the missing people are inserted.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from django.db import transaction

from directory.models import Group, Person
from policies.snapshot import snapshot_changed
from requests_app.demo.names import FIRST_NAMES, LAST_NAMES

_LOOKUP_CHUNK = 500


@dataclass(frozen=True, slots=True)
class PersonRef:
    """What a generated request copies from its requester."""

    id: int
    name: str
    email: str
    group: str
    active: bool = True


def people_count_for(requests: int) -> int:
    """A few hundred people for a small demo, up to a few thousand for a million requests."""
    return min(3000, max(300, requests // 300))


def person_spec(i: int) -> tuple[str, str, str]:
    """(name, email, group) of generated person i; distinct for every i."""
    firsts, lasts = len(FIRST_NAMES), len(LAST_NAMES)
    lap, j = divmod(i, firsts * lasts)
    # (j % firsts, j // firsts) is a bijection onto the grid; the shift mixes surnames.
    first = FIRST_NAMES[j % firsts]
    last = LAST_NAMES[(j % firsts + j // firsts) % lasts]
    suffix = str(lap + 1) if lap else ""
    email = f"{_ascii(first)}.{_ascii(last)}{suffix}@example.com"
    group = "Sales" if (i * 7) % 10 < 6 else "Engineering"
    return f"{first} {last}", email, group


def _ascii(word: str) -> str:
    folded = unicodedata.normalize("NFKD", word).encode("ascii", "ignore").decode()
    return "".join(ch for ch in folded.lower() if ch.isalnum())


@transaction.atomic
def ensure_people(count: int, groups: dict[str, Group]) -> list[PersonRef]:
    """The first `count` generated people, inserting those missing, with their group.

    - bulk_create sends no signal, so the policy snapshot is told of the change here.
    """
    specs = [person_spec(i) for i in range(count)]
    found = _found_by_email([email for _name, email, _group in specs])
    missing = [
        Person(
            name=name,
            email=email,
            status=Person.Status.LOCKED if i % 47 == 46 else Person.Status.ACTIVE,
            mfa_enabled=i % 3 != 0,
        )
        for i, (name, email, _group) in enumerate(specs)
        if email not in found
    ]
    Person.objects.bulk_create(missing, batch_size=_LOOKUP_CHUNK)
    found.update(_found_by_email([person.email for person in missing]))
    Membership = Group.members.through
    Membership.objects.bulk_create(
        [Membership(group=groups[group], person_id=found[email][0]) for _n, email, group in specs],
        batch_size=_LOOKUP_CHUNK,
        ignore_conflicts=True,
    )
    snapshot_changed()
    return [
        PersonRef(found[email][0], name, email, group, found[email][1])
        for name, email, group in specs
    ]


def _found_by_email(emails: list[str]) -> dict[str, tuple[int, bool]]:
    """Each existing person's id and whether the engine would let their agent act at all."""
    found: dict[str, tuple[int, bool]] = {}
    for start in range(0, len(emails), _LOOKUP_CHUNK):
        chunk = emails[start : start + _LOOKUP_CHUNK]
        rows = Person.objects.filter(email__in=chunk).values_list(
            "email", "id", "status", "deactivated_at"
        )
        found.update(
            (email, (pk, status == Person.Status.ACTIVE and gone is None))
            for email, pk, status, gone in rows
        )
    return found

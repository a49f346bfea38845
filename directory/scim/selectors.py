"""Every read SCIM makes: the users and groups it shows, one by id, or a page of a filtered list.

- Lists read a page's rows with what the answer shows of them (a user's groups, a group's
  members) prefetched, so rendering the resources runs no query.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

from django.db.models import Prefetch, Q, QuerySet

from directory.models import Group, Person

Row = TypeVar("Row", Person, Group)


@dataclass(frozen=True)
class Page(Generic[Row]):
    """One page of a list: its rows, how many match in all, and the startIndex it begins at."""

    rows: list[Row]
    total: int
    start: int


def shown_people() -> QuerySet[Person]:
    """The people SCIM shows, by id: all but the users it deleted."""
    return Person.objects.filter(scim_deleted_at__isnull=True).order_by("id")


def scim_user(pk: int) -> Person | None:
    """A user SCIM shows, by id."""
    return shown_people().filter(pk=pk).first()


def scim_group(pk: int) -> Group | None:
    """A group, by id."""
    return Group.objects.filter(pk=pk).first()


def user_groups(person: Person) -> list[Group]:
    """The groups a user belongs to, by id."""
    return list(person.groups.order_by("id"))


def group_members(group: Group) -> list[Person]:
    """The users SCIM shows among a group's members, by id (only their ids are read)."""
    return list(shown_people().filter(groups=group).only("id"))


def users_page(condition: Q | None, *, with_groups: bool, start: int, count: int) -> Page[Person]:
    """A page of the users matching a filter's condition (None: all), their groups prefetched
    when the answer shows them."""
    people = shown_people() if condition is None else shown_people().filter(condition)
    if with_groups:
        people = people.prefetch_related(
            Prefetch("groups", queryset=Group.objects.order_by("id").only("id", "name"))
        )
    return _page(people, start, count)


def groups_page(condition: Q | None, *, with_members: bool, start: int, count: int) -> Page[Group]:
    """A page of the groups matching a filter's condition (None: all), their shown members
    prefetched when the answer shows them."""
    found = Group.objects.order_by("id")
    if condition is not None:
        found = found.filter(condition)
    if with_members:
        found = found.prefetch_related(Prefetch("members", queryset=shown_people().only("id")))
    return _page(found, start, count)


def _page(found: QuerySet, start: int, count: int) -> Page:
    total = found.count()
    rows = list(found[start - 1 : start - 1 + count]) if count else []
    return Page(rows=rows, total=total, start=start)

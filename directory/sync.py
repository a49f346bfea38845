"""Applying a directory export: people and groups created, updated or deactivated to match it.

- One transaction: a conflict found while applying (an email taken by another person) stores
  nothing. A dry run applies everything and rolls back, so its counts are exact.
- People are matched by external id, then by email (any case); groups by external id, then name.
- A person's groups become exactly those the file lists; groups the file does not name are kept.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.utils import timezone

from directory.importing import DirectoryFile, GroupRow, PersonRow
from directory.models import Group, Person
from directory.services import audit_group, group_members_set, person_deactivate, person_save

CHANNEL = "import"
ACTOR = "import_directory"


class ImportConflict(Exception):
    """Rows that contradict the database (and so the whole file is refused)."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__(f"{len(errors)} conflict(s)")
        self.errors = errors


@dataclass
class ImportReport:
    """What an import changed (or, in a dry run, would change)."""

    people: dict[str, int] = field(
        default_factory=lambda: {"created": 0, "updated": 0, "unchanged": 0, "deactivated": 0}
    )
    groups: dict[str, int] = field(
        default_factory=lambda: {"created": 0, "updated": 0, "unchanged": 0}
    )
    touched_groups: set[int] = field(default_factory=set, repr=False)


class _DryRunDone(Exception):
    pass


def directory_import(
    *,
    data: DirectoryFile,
    deactivate_missing: bool = False,
    dry_run: bool = False,
    progress: Callable[[Iterable[PersonRow]], Iterable[PersonRow]] = lambda rows: rows,
) -> ImportReport:
    """Apply a validated file; ImportConflict (nothing stored) when rows contradict the database."""
    report = ImportReport()
    try:
        with transaction.atomic():
            groups = _apply_groups(data, report)
            members = _apply_people(data, groups, report, progress)
            _apply_memberships(data, groups, members, report)
            if deactivate_missing:
                _deactivate_missing(set(members.values()), report)
            if dry_run:
                raise _DryRunDone
    except _DryRunDone:
        pass
    return report


def _apply_groups(data: DirectoryFile, report: ImportReport) -> dict[str, Group]:
    """Every group the file names, by lower-cased name, created or updated as needed."""
    existing = list(Group.objects.all())
    by_name = {group.name.lower(): group for group in existing}
    by_external = {group.external_id: group for group in existing if group.external_id}
    rows = {row.name.lower(): row for row in data.groups}
    result: dict[str, Group] = {}
    for key, row in rows.items():
        group = (row.external_id and by_external.get(row.external_id)) or by_name.get(key)
        result[key] = _save_group(group, row, report)
    # Groups only named by people are found by name (any case) and never renamed.
    for person in data.people:
        for name in person.groups:
            key = name.lower()
            if key in result:
                continue
            found = by_name.get(key)
            if found is not None:
                report.groups["unchanged"] += 1
            result[key] = found or _save_group(None, GroupRow(person.where, name, None, ""), report)
    return result


def _save_group(group: Group | None, row: GroupRow, report: ImportReport) -> Group:
    creating = group is None
    group = group or Group(name=row.name)
    before = None if creating else {"name": group.name, "external_id": group.external_id}
    wanted: dict[str, Any] = {"name": row.name}
    if row.external_id:
        wanted["external_id"] = row.external_id
    if row.description:
        wanted["description"] = row.description
    changed = creating or any(getattr(group, k) != v for k, v in wanted.items())
    if not changed:
        report.groups["unchanged"] += 1
        return group
    for key, value in wanted.items():
        setattr(group, key, value)
    group.save()
    action = "created" if creating else "updated"
    report.groups[action] += 1
    report.touched_groups.add(group.pk)
    after = {"name": group.name, "external_id": group.external_id}
    audit_group(group, action, actor=ACTOR, before=before, after=after, channel=CHANNEL)
    return group


def _apply_people(
    data: DirectoryFile,
    groups: dict[str, Group],
    report: ImportReport,
    progress: Callable[[Iterable[PersonRow]], Iterable[PersonRow]],
) -> dict[str, int]:
    """Create or update each person; returns their ids by the row's email."""
    people = list(Person.objects.all())
    by_email = {person.email.lower(): person for person in people}
    by_external = {person.external_id: person for person in people if person.external_id}
    ids: dict[str, int] = {}
    conflicts: list[str] = []
    for row in progress(data.people):
        person = (row.external_id and by_external.get(row.external_id)) or by_email.get(row.email)
        owner = by_email.get(row.email)
        if person is not None and owner is not None and owner.pk != person.pk:
            conflicts.append(f"{row.where}: email “{row.email}” belongs to another person")
            continue
        creating = person is None
        fields = {
            "name": row.name,
            "email": row.email,
            "external_id": row.external_id,
            "phone": row.phone,
            "mfa_enabled": row.mfa,
        }
        saved, changed = person_save(
            person=person or Person(), fields=fields, actor=ACTOR, channel=CHANNEL, active=True
        )
        bucket = "created" if creating else ("updated" if changed else "unchanged")
        report.people[bucket] += 1
        ids[row.email] = saved.pk
        by_email[row.email] = saved
        if saved.external_id:
            by_external[saved.external_id] = saved
    if conflicts:
        raise ImportConflict(conflicts)
    return ids


def _apply_memberships(
    data: DirectoryFile, groups: dict[str, Group], members: dict[str, int], report: ImportReport
) -> None:
    """Each listed person's groups become exactly the file's; others keep their memberships."""
    wanted: dict[int, set[int]] = {}
    for row in data.people:
        for name in row.groups:
            wanted.setdefault(groups[name.lower()].pk, set()).add(members[row.email])
    listed = set(members.values())
    current: dict[int, set[int]] = {}
    for group_id, person_id in Group.members.through.objects.values_list("group_id", "person_id"):
        current.setdefault(group_id, set()).add(person_id)
    named = {group.pk for group in groups.values()}
    for group in Group.objects.order_by("id"):
        now = current.get(group.pk, set())
        target = (now - listed) | wanted.get(group.pk, set())
        if target == now:
            continue
        group_members_set(group=group, person_ids=target)
        before, after = {"member_ids": sorted(now)}, {"member_ids": sorted(target)}
        audit_group(group, "updated", actor=ACTOR, before=before, after=after, channel=CHANNEL)
        if group.pk not in report.touched_groups:
            report.groups["updated"] += 1
            report.touched_groups.add(group.pk)
            if group.pk in named:
                report.groups["unchanged"] -= 1


def _deactivate_missing(listed: set[int], report: ImportReport) -> None:
    """Deactivate everyone the file does not list (already deactivated people are skipped)."""
    now = timezone.now()
    missing = Person.objects.exclude(pk__in=listed).filter(deactivated_at__isnull=True)
    for person in missing.order_by("id"):
        if person_deactivate(person=person, actor=ACTOR, channel=CHANNEL, now=now):
            report.people["deactivated"] += 1

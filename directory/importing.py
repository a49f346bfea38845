"""Reading a directory export (CSV or JSON) into validated rows, each with where it came from.

- CSV columns: name, email, external_id, phone, mfa, groups (`;`-separated group names).
- JSON: {"people": [{name, email, external_id, phone, mfa, groups: [names]}],
  "groups": [{name, external_id, description}]}.
- Every problem is collected with its line (CSV) or position (JSON); the caller stores nothing
  when there is any.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email

CSV_COLUMNS = ("name", "email", "external_id", "phone", "mfa", "groups")
PHONE = re.compile(r"^\+[1-9][0-9]{6,14}$")
TRUE = {"true", "yes", "y", "1", "on"}
FALSE = {"false", "no", "n", "0", "off", ""}


class DirectoryFileError(ValueError):
    """The file cannot be read at all (format, encoding, shape): one line says why."""


@dataclass(frozen=True)
class PersonRow:
    """One person of the file, validated."""

    where: str
    name: str
    email: str
    external_id: str | None
    phone: str
    mfa: bool
    groups: tuple[str, ...]


@dataclass(frozen=True)
class GroupRow:
    """One group of the file's "groups" list (JSON only), validated."""

    where: str
    name: str
    external_id: str | None
    description: str


@dataclass
class DirectoryFile:
    """What a file holds, and the problems found in it."""

    people: list[PersonRow] = field(default_factory=list)
    groups: list[GroupRow] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def read_directory_file(path: Path) -> DirectoryFile:
    """Parse and validate a CSV or JSON export; DirectoryFileError when it is not one."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise DirectoryFileError(f"cannot read {path.name}: {exc}") from exc
    is_json = path.suffix.lower() == ".json" or (
        path.suffix.lower() != ".csv" and text.lstrip().startswith(("{", "["))
    )
    result = _read_json(text) if is_json else _read_csv(text)
    _check_duplicates(result)
    return result


def _read_csv(text: str) -> DirectoryFile:
    reader = csv.DictReader(io.StringIO(text))
    header = [name.strip().lower() for name in reader.fieldnames or []]
    if "email" not in header:
        raise DirectoryFileError(
            f"not a directory CSV: the first line must name the columns {', '.join(CSV_COLUMNS)}"
        )
    unknown = sorted(set(header) - set(CSV_COLUMNS))
    if unknown:
        raise DirectoryFileError(f"unknown CSV column(s): {', '.join(unknown)}")
    reader.fieldnames = header
    result = DirectoryFile()
    for raw in reader:
        where = f"line {reader.line_num}"
        groups = [g.strip() for g in (raw.get("groups") or "").split(";")]
        _add_person(result, where, {**raw, "groups": [g for g in groups if g]})
    return result


def _read_json(text: str) -> DirectoryFile:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DirectoryFileError(f"invalid JSON at line {exc.lineno}: {exc.msg}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("people", []), list):
        raise DirectoryFileError(
            'not a directory JSON: expected {"people": [...], "groups": [...]}'
        )
    if not isinstance(data.get("groups", []), list):
        raise DirectoryFileError('"groups" must be a list')
    result = DirectoryFile()
    for index, raw in enumerate(data.get("groups", [])):
        _add_group(result, f"groups[{index}]", raw)
    for index, raw in enumerate(data.get("people", [])):
        where = f"people[{index}]"
        if not isinstance(raw, dict):
            result.errors.append(f"{where}: expected an object")
            continue
        groups = raw.get("groups") or []
        if not isinstance(groups, list) or not all(isinstance(g, str) for g in groups):
            result.errors.append(f"{where}: groups must be a list of group names")
            continue
        _add_person(result, where, {**raw, "groups": [g.strip() for g in groups if g.strip()]})
    return result


def _text(raw: dict[str, Any], key: str) -> str:
    value = raw.get(key)
    return "" if value is None else str(value).strip()


def _add_person(result: DirectoryFile, where: str, raw: dict[str, Any]) -> None:
    """Validate one person; append the row or its problems."""
    problems = []
    email = _text(raw, "email").lower()
    try:
        validate_email(email)
    except ValidationError:
        problems.append(f"email “{email}” is not an email address" if email else "email is empty")
    name = _text(raw, "name") or email.split("@")[0]
    phone = _text(raw, "phone").replace(" ", "")
    if phone and not PHONE.match(phone):
        problems.append(f"phone “{phone}” is not in E.164 form (+15550100)")
    mfa_raw = raw.get("mfa")
    mfa_text = str(mfa_raw).strip().lower() if mfa_raw is not None else ""
    if isinstance(mfa_raw, bool):
        mfa = mfa_raw
    elif mfa_text in TRUE | FALSE:
        mfa = mfa_text in TRUE
    else:
        problems.append(f"mfa “{mfa_text}” is not true or false")
    if len(name) > 200:
        problems.append("name is longer than 200 characters")
    if problems:
        result.errors.extend(f"{where}: {problem}" for problem in problems)
        return
    external_id = _text(raw, "external_id") or None
    groups = tuple(dict.fromkeys(raw["groups"]))
    result.people.append(PersonRow(where, name, email, external_id, phone, mfa, groups))


def _add_group(result: DirectoryFile, where: str, raw: Any) -> None:
    if not isinstance(raw, dict) or not _text(raw, "name"):
        result.errors.append(f"{where}: a group needs a name")
        return
    name = _text(raw, "name")
    if len(name) > 200:
        result.errors.append(f"{where}: name is longer than 200 characters")
        return
    result.groups.append(
        GroupRow(where, name, _text(raw, "external_id") or None, _text(raw, "description")[:500])
    )


def _check_duplicates(result: DirectoryFile) -> None:
    """The same email or external id twice in one file is an error at the second place."""
    seen: dict[tuple[str, str], str] = {}
    for row in result.people:
        for key in (("email", row.email), ("external_id", row.external_id or "")):
            if not key[1]:
                continue
            if key in seen:
                result.errors.append(f"{row.where}: {key[0]} “{key[1]}” repeats {seen[key]}")
            seen.setdefault(key, row.where)
    names: dict[str, str] = {}
    for group in result.groups:
        if group.name.lower() in names:
            result.errors.append(
                f"{group.where}: group “{group.name}” repeats {names[group.name.lower()]}"
            )
        names.setdefault(group.name.lower(), group.where)

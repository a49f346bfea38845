"""manage.py import_directory: CSV and JSON, idempotent, dry run, bad files, deactivate-missing."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from audit.models import AuditEntry
from directory.models import Group, Person
from policies.snapshot import current_snapshot
from tests.factories import PersonFactory

CSV = """name,email,external_id,phone,mfa,groups
Ana Lopez,ana@example.com,00u1,+15550100,true,Sales
Ben Kim,BEN@example.com,00u2,,false,Engineering;Security
Dana Levi,dana@example.com,,+15550101,yes,Security
"""
PEOPLE = {
    "people": [
        {
            "name": "Ana Lopez",
            "email": "ana@example.com",
            "external_id": "00u1",
            "mfa": True,
            "groups": ["Sales"],
        },
        {"name": "Ben Kim", "email": "ben@example.com", "groups": ["Engineering"]},
    ],
    "groups": [{"name": "Sales", "external_id": "g-sales", "description": "Field sales"}],
}


def run(path: Path, *args: str) -> str:
    out = StringIO()
    call_command("import_directory", str(path), *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def state() -> tuple:
    return (
        sorted(
            Person.objects.values_list(
                "email", "name", "external_id", "phone", "mfa_enabled", "deactivated_at"
            )
        ),
        sorted(Group.objects.values_list("name", "external_id")),
        sorted(Group.members.through.objects.values_list("group__name", "person__email")),
        AuditEntry.objects.count(),
    )


@pytest.fixture
def csv_file(tmp_path: Path) -> Path:
    path = tmp_path / "people.csv"
    path.write_text(CSV)
    return path


def test_csv_creates_people_groups_and_memberships(csv_file, db):
    out = run(csv_file)
    assert "people: 3 created, 0 updated, 0 deactivated" in out
    assert "groups: 3 created" in out
    ben = Person.objects.get(email="ben@example.com")
    assert (ben.external_id, ben.mfa_enabled) == ("00u2", False)
    assert sorted(g.name for g in ben.groups.all()) == ["Engineering", "Security"]
    assert Person.objects.get(email="dana@example.com").mfa_enabled is True
    channels = set(AuditEntry.objects.values_list("channel", flat=True))
    assert channels == {"import"}
    assert current_snapshot().find_person("ben@example.com").group_ids == {
        g.pk for g in ben.groups.all()
    }


def test_second_run_changes_nothing(csv_file, db):
    run(csv_file)
    before = state()
    out = run(csv_file)
    assert "people: 0 created, 0 updated, 0 deactivated, 3 unchanged" in out
    assert "groups: 0 created, 0 updated, 3 unchanged" in out
    assert state() == before


def test_json_import_and_update(tmp_path, db):
    path = tmp_path / "export.json"
    path.write_text(json.dumps(PEOPLE))
    assert "people: 2 created" in run(path)
    assert Group.objects.get(name="Sales").external_id == "g-sales"
    PEOPLE_CHANGED = {
        **PEOPLE,
        "people": [
            {**PEOPLE["people"][0], "name": "Ana María Lopez", "groups": []},
            PEOPLE["people"][1],
        ],
    }
    path.write_text(json.dumps(PEOPLE_CHANGED))
    out = run(path)
    assert "people: 0 created, 1 updated" in out
    assert "groups: 0 created, 1 updated" in out  # Sales lost Ana
    assert not Person.objects.get(email="ana@example.com").groups.exists()


def test_content_decides_the_format_without_an_extension(tmp_path, db):
    path = tmp_path / "export"
    path.write_text(json.dumps(PEOPLE))
    assert "people: 2 created" in run(path)


def test_dry_run_stores_nothing_and_reports_the_same_counts(csv_file, db):
    before = state()
    out = run(csv_file, "--dry-run")
    assert out.startswith("Dry run, nothing stored.")
    assert "people: 3 created" in out
    assert state() == before


def test_bad_rows_are_reported_with_line_numbers_and_nothing_is_stored(tmp_path, db):
    path = tmp_path / "bad.csv"
    path.write_text(CSV + "Bad,not-an-email,,,maybe,\nDup,ana@example.com,,,,\n")
    err = StringIO()
    with pytest.raises(CommandError, match=r"bad.csv: 3 invalid row\(s\); nothing stored\."):
        call_command("import_directory", str(path), stdout=StringIO(), stderr=err)
    lines = err.getvalue()
    assert "line 5: email “not-an-email” is not an email address" in lines
    assert "line 5: mfa “maybe” is not true or false" in lines
    assert "line 6: email “ana@example.com” repeats line 2" in lines
    assert not Person.objects.exists() and not Group.objects.exists()


@pytest.mark.parametrize(
    ("content", "name", "reason"),
    [
        ("{oops", "x.json", "invalid JSON at line 1"),
        ('["a"]', "x.json", "not a directory JSON"),
        ("who,when\n1,2\n", "x.csv", "not a directory CSV"),
        ("email,colour\na@example.com,red\n", "x.csv", "unknown CSV column(s): colour"),
    ],
)
def test_unreadable_files_fail_in_one_line(tmp_path, db, content, name, reason):
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(CommandError) as failure:
        run(path)
    assert reason in str(failure.value)
    assert "\n" not in str(failure.value)


def test_a_conflict_with_the_database_stores_nothing(tmp_path, db):
    PersonFactory(email="ana@example.com", external_id="other-id")
    PersonFactory(email="zed@example.com", external_id="00u9")
    path = tmp_path / "conflict.csv"
    path.write_text("name,email,external_id\nNew,new@example.com,\nZed,ana@example.com,00u9\n")
    before = state()
    with pytest.raises(CommandError, match="1 invalid row"):
        run(path)
    assert state() == before


def test_deactivate_missing_deactivates_absent_people_and_keeps_locks(csv_file, db):
    gone = PersonFactory(email="gone@example.com", status=Person.Status.LOCKED)
    out = run(csv_file, "--deactivate-missing")
    assert "1 deactivated" in out
    gone.refresh_from_db()
    assert gone.deactivated_at is not None and gone.status == Person.Status.LOCKED
    assert "0 deactivated" in run(csv_file, "--deactivate-missing")
    # Back in the file: reactivated, still locked by the admin.
    csv_file.write_text(CSV + "Gone,gone@example.com,,,,\n")
    run(csv_file)
    gone.refresh_from_db()
    assert gone.deactivated_at is None and gone.status == Person.Status.LOCKED


def test_help_names_the_formats_and_options(capsys):
    with pytest.raises(SystemExit):
        call_command("import_directory", "--help")
    text = capsys.readouterr().out
    for word in (
        "--dry-run",
        "--deactivate-missing",
        "name,email,external_id,phone,mfa,groups",
        "JSON",
    ):
        assert word in text


def test_a_large_file_shows_a_progress_bar(tmp_path, db):
    path = tmp_path / "large.csv"
    rows = "".join(f"Person {i},p{i}@example.com,,,,Staff\n" for i in range(1000))
    path.write_text("name,email,external_id,phone,mfa,groups\n" + rows)
    err = StringIO()
    call_command("import_directory", str(path), stdout=StringIO(), stderr=err)
    assert "people: 100%" in err.getvalue() and "1000/1000" in err.getvalue()
    assert Group.objects.get(name="Staff").members.count() == 1000


def test_create_scim_token_refuses_a_duplicate_name(db):
    call_command("create_scim_token", "okta", stdout=StringIO(), stderr=StringIO())
    with pytest.raises(CommandError, match="exists already"):
        call_command("create_scim_token", "okta", stdout=StringIO(), stderr=StringIO())

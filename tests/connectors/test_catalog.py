"""load_connector_catalog: idempotent, dry runs store nothing, admins' choices survive."""

from __future__ import annotations

import json
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError

from audit.models import AuditEntry
from connectors.catalog import CatalogError, read_catalog
from connectors.classification import classify_tool
from connectors.models import Connector, Tool
from tests.factories import ConnectorFactory, PolicyFactory, ToolFactory

DEMO_TOOLS = {
    "google-calendar": {
        "google-calendar_events_list",
        "google-calendar_events_get",
        "google-calendar_events_create",
        "google-calendar_events_update",
        "google-calendar_events_delete",
    },
    "github": {"github_repos_list", "github_issues_create", "github_repos_delete"},
    "slack": {"slack_channels_list", "slack_messages_send", "slack_messages_delete"},
}


def load(*args: str) -> str:
    out = StringIO()
    call_command("load_connector_catalog", *args, stdout=out)
    return out.getvalue()


def state() -> tuple:
    return (
        sorted(Connector.objects.values_list()),
        sorted(Tool.objects.values_list()),
        AuditEntry.objects.count(),
    )


def counts(report: str) -> dict[str, int]:
    """The report's lines as label → number."""
    found = {}
    for line in report.splitlines():
        label, _, rest = line.partition(": ")
        if rest[:1].isdigit():
            found[label] = int(rest.split()[0])
    return found


def test_the_catalog_has_common_connectors_and_agrees_with_the_demo():
    catalog = {entry.slug: entry for entry in read_catalog()}
    assert len(catalog) >= 10
    for slug, keys in DEMO_TOOLS.items():
        assert keys <= {tool.key for tool in catalog[slug].tools}
    assert {"gmail", "google-drive", "jira", "confluence", "hubspot", "salesforce"} <= set(catalog)


def test_every_catalog_connector_has_an_icon():
    from django.contrib.staticfiles import finders

    for entry in read_catalog():
        assert finders.find(f"icons/connectors/{entry.icon}.svg"), entry.icon


@pytest.mark.django_db
def test_a_second_load_creates_and_updates_nothing():
    first = counts(load())
    catalog = read_catalog()
    assert first["Connectors created"] == len(catalog) >= 10
    assert first["Tools created"] == sum(len(entry.tools) for entry in catalog)
    before = state()

    second = counts(load())
    assert second == {
        "Connectors created": 0,
        "Connectors updated": 0,
        "Tools created": 0,
        "Tools updated": 0,
        "Tools not in the catalog (kept)": 0,
    }
    assert state() == before


@pytest.mark.django_db
def test_tools_get_their_access_from_their_verb():
    load("--only", "github")
    for tool in Tool.objects.filter(connector__slug="github"):
        assert tool.access == classify_tool(tool.key)
    assert Tool.objects.get(key="github_repos_delete").access == "delete"
    assert Tool.objects.get(key="github_issues_createComment").access == "write"


@pytest.mark.django_db
def test_a_dry_run_reports_and_stores_nothing():
    before = state()
    report = load("--dry-run")
    assert "Connectors would be created: 13" in report
    assert "Dry run: nothing was stored." in report
    assert state() == before


@pytest.mark.django_db
def test_only_loads_the_named_connectors():
    load("--only", "github", "slack")
    assert set(Connector.objects.values_list("slug", flat=True)) == {"github", "slack"}


@pytest.mark.django_db
def test_an_unknown_only_slug_fails_and_stores_nothing():
    with pytest.raises(CommandError, match="Not in the catalog: nope"):
        load("--only", "github", "nope")
    assert not Connector.objects.exists()


@pytest.mark.django_db
def test_overrides_status_switches_and_credentials_survive_a_reload(admin_user):
    from connectors import services

    load("--only", "github")
    github = Connector.objects.get(slug="github")
    tool = Tool.objects.get(key="github_repos_list")
    services.tool_set_access(tool=tool, access="delete", actor=admin_user)
    services.tool_set_enabled(tool=tool, enabled=False, actor=admin_user)
    services.connector_set_credentials(
        connector=github, mode="byo", client_id="id", client_secret="pw", actor=admin_user
    )
    Connector.objects.filter(pk=github.pk).update(status="connected", enabled=False)
    Tool.objects.filter(key="github_issues_create").update(access="read")  # drifted, not by hand
    before = Connector.objects.values().get(pk=github.pk)

    report = counts(load())
    assert report["Tools updated"] == 1  # github_issues_create back to write
    tool.refresh_from_db()
    assert (tool.access, tool.access_overridden, tool.enabled) == ("delete", True, False)
    after = Connector.objects.values().get(pk=github.pk)
    assert {k: v for k, v in after.items() if k != "updated_at"} == {
        k: v for k, v in before.items() if k != "updated_at"
    }
    assert Tool.objects.get(key="github_issues_create").access == "write"


@pytest.mark.django_db
def test_tools_the_catalog_does_not_list_are_kept_even_when_policies_name_them():
    github = ConnectorFactory(slug="github", name="GitHub", icon="github")
    old = ToolFactory(connector=github, key="github_gists_list")
    policy = PolicyFactory(connector=github)
    policy.tools.add(old)

    report = load("--only", "github")
    assert "Tools not in the catalog (kept): 1 (github_gists_list)" in report
    assert list(policy.tools.all()) == [old]


@pytest.mark.django_db
def test_loading_after_the_demo_seed_changes_no_demo_row_and_the_seed_still_runs(demo):
    demo_tools = sorted(Tool.objects.values_list("key", "access", "description", "enabled"))
    demo_connectors = sorted(Connector.objects.values_list("slug", "name", "icon", "status"))
    report = counts(load())
    assert report["Connectors updated"] == 0
    assert report["Tools updated"] == 0
    slugs = [slug for slug, *_ in demo_connectors]  # the catalog's three, and time and repo
    kept = Tool.objects.filter(key__in=[key for key, *_ in demo_tools])
    assert sorted(kept.values_list("key", "access", "description", "enabled")) == demo_tools
    assert (
        sorted(
            Connector.objects.filter(slug__in=slugs).values_list("slug", "name", "icon", "status")
        )
        == demo_connectors
    )
    call_command("seed_demo", requests=0, stdout=StringIO(), stderr=StringIO())


@pytest.mark.django_db
def test_a_catalog_load_is_audited_once():
    load("--only", "slack")
    entry = AuditEntry.objects.get()
    assert (entry.object_type, entry.channel, entry.actor_name) == (
        "connector_catalog",
        "command",
        "load_connector_catalog",
    )
    assert entry.after["connectors_created"] == ["slack"]


BAD_CATALOGS = [
    ("not json {", "is not valid JSON"),
    ("[]", 'must be an object with a "connectors" list'),
    ('{"connectors": [{"slug": "Bad Slug", "name": "x", "tools": []}]}', "lower-case"),
    ('{"connectors": [{"slug": "x", "name": "X", "tools": []}]}', '"tools" must be'),
    (
        '{"connectors": [{"slug": "x", "name": "X", "tools": [{"key": "y_list"}]}]}',
        "must look like x_<resource>_<verb>",
    ),
    (
        '{"connectors": [{"slug": "x", "name": "X", "tools": [{"key": "x_a_list"}]},'
        ' {"slug": "x", "name": "X", "tools": [{"key": "x_a_list"}]}]}',
        "listed twice",
    ),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("content", "reason"), BAD_CATALOGS)
def test_a_bad_catalog_file_fails_with_one_line_and_stores_nothing(tmp_path, content, reason):
    path = tmp_path / "catalog.json"
    path.write_text(content)
    with pytest.raises(CommandError) as error:
        load("--file", str(path))
    message = str(error.value)
    assert reason in message and "\n" not in message
    assert not Connector.objects.exists()


def test_a_missing_catalog_file_is_a_catalog_error(tmp_path):
    with pytest.raises(CatalogError, match="cannot read"):
        read_catalog(tmp_path / "missing.json")


def run_command(*args: str) -> subprocess.CompletedProcess:
    """manage.py load_connector_catalog in a process of its own, as ops run it."""
    manage = Path(settings.BASE_DIR) / "manage.py"
    command = [sys.executable, str(manage), "load_connector_catalog", *args]
    return subprocess.run(command, capture_output=True, text=True, check=False)


def test_the_command_exits_non_zero_with_one_line_on_a_bad_file(tmp_path):
    path = tmp_path / "catalog.json"
    path.write_text(json.dumps({"connectors": "nope"}))
    result = run_command("--file", str(path))
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f'CommandError: Bad catalog: {path} must be an object with a "connectors" list'
    ]


def test_help_explains_what_it_does_and_its_options():
    result = run_command("--help")
    assert result.returncode == 0
    text = " ".join(result.stdout.split())
    for words in ("Never deletes tools", "--dry-run", "--only SLUG", "--file FILE"):
        assert words in text


@pytest.mark.django_db
def test_an_icon_without_a_file_falls_back_to_the_generic_one(tmp_path):
    path = tmp_path / "catalog.json"
    tools = [{"key": "acme_widgets_list"}]
    path.write_text(json.dumps({"connectors": [{"slug": "acme", "name": "Acme", "tools": tools}]}))
    report = load("--file", str(path))
    assert "No icon file for acme: the generic icon is shown." in report
    assert Connector.objects.get(slug="acme").icon_name == "generic"
    assert counts(load("--file", str(path)))["Connectors updated"] == 0


@pytest.mark.django_db
def test_a_connector_whose_icon_is_not_shipped_shows_the_generic_one():
    """An icon name with no file would be a broken image on every list: the generic icon instead."""
    assert Connector(slug="a", icon="no-such-icon").icon_name == "generic"
    assert Connector(slug="b", icon="").icon_name == "generic"
    assert Connector(slug="c", icon="../../secret").icon_name == "generic"
    assert Connector(slug="d", icon="github").icon_name == "github"

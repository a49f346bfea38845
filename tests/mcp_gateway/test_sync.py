"""Tools from the upstream: `sync_connector_tools` against the real mcp-server-time and -git."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import CommandError, call_command

from agenwork.crypto import encrypt
from connectors.models import Connector, Tool
from mcp_gateway.sync import access_from_annotations
from mcp_gateway.upstreams import run_blocking, stdio_upstreams, upstream_of, upstream_tools
from tests.factories import ConnectorFactory

pytestmark = pytest.mark.django_db


def stdio(module: str, *args: str) -> dict:
    return {"command": sys.executable, "args": ["-m", module, *args]}


@pytest.fixture
def demo_repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    return repo


@pytest.fixture
def upstreams(settings, demo_repo):
    entries = {
        "time": stdio("mcp_server_time", "--local-timezone", "UTC"),
        "repo": stdio("mcp_server_git", "--repository", str(demo_repo)),
    }
    settings.MCP_UPSTREAMS = json.dumps(entries)
    return entries


def sync(*slugs: str) -> str:
    out = StringIO()
    call_command("sync_connector_tools", *slugs, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_a_sync_creates_the_upstream_tools_with_their_schema_and_a_connected_state(upstreams):
    time = ConnectorFactory(slug="time", status=Connector.Status.DISCONNECTED)
    assert "time: 2 added" in sync("time")
    tools = {t.key: t for t in time.tools.all()}
    assert set(tools) == {"time_get_current_time", "time_convert_time"}
    current = tools["time_get_current_time"]
    assert "timezone" in current.input_schema["properties"] and current.description
    assert {t.access for t in tools.values()} == {Tool.Access.READ}  # readOnlyHint
    time.refresh_from_db()
    assert time.status == Connector.Status.CONNECTED and time.upstream_checked_at
    assert time.upstream_error == ""


def test_access_comes_from_the_annotations_of_the_real_git_server(upstreams):
    repo = ConnectorFactory(slug="repo")
    sync("repo")
    access = dict(repo.tools.values_list("key", "access"))
    assert access["repo_git_status"] == Tool.Access.READ
    assert access["repo_git_log"] == Tool.Access.READ
    assert access["repo_git_commit"] == Tool.Access.WRITE
    assert access["repo_git_reset"] == Tool.Access.DELETE


def test_a_second_sync_changes_nothing_and_keeps_an_admins_access(upstreams):
    repo = ConnectorFactory(slug="repo")
    sync("repo")
    Tool.objects.filter(key="repo_git_log").update(access="delete", access_overridden=True)
    assert "0 added, 0 updated, 0 newly missing" in sync("repo")
    assert Tool.objects.get(key="repo_git_log").access == "delete"
    assert repo.tools.count() > 5


def test_a_tool_gone_upstream_is_marked_missing_not_deleted_and_comes_back(upstreams):
    time = ConnectorFactory(slug="time")
    gone = Tool.objects.create(connector=time, key="time_old_tool", access="read")
    assert "1 newly missing" in sync("time")
    gone.refresh_from_db()
    assert gone.missing_since is not None
    Tool.objects.filter(key="time_get_current_time").update(missing_since=gone.missing_since)
    sync("time")
    assert Tool.objects.get(key="time_get_current_time").missing_since is None


def test_an_upstream_that_cannot_start_marks_the_connector_error_with_the_error(settings):
    settings.MCP_UPSTREAMS = json.dumps({"time": {"command": "/nonexistent/mcp-server"}})
    time = ConnectorFactory(slug="time", status=Connector.Status.CONNECTED)
    with pytest.raises(CommandError, match="1 connector"):
        sync("time")
    time.refresh_from_db()
    assert time.status == Connector.Status.ERROR
    assert time.upstream_error and time.upstream_checked_at
    assert not time.tools.exists()


def test_unknown_slugs_and_connectors_without_upstream_are_refused(upstreams):
    ConnectorFactory(slug="slack")
    with pytest.raises(CommandError, match="No connector with the slug: nope"):
        sync("nope")
    with pytest.raises(CommandError, match="not synced"):
        sync("slack")


@pytest.mark.parametrize(
    "raw",
    ["{not json", '{"time": {"args": []}}', '{"time": {"command": "x", "args": "-v"}}', "[1]"],
)
def test_a_bad_upstreams_setting_fails_loudly(settings, raw):
    settings.MCP_UPSTREAMS = raw
    with pytest.raises(ImproperlyConfigured):
        stdio_upstreams()


def test_an_http_upstream_keeps_its_header_encrypted_and_a_command_wins(settings):
    settings.MCP_UPSTREAMS = ""
    remote = ConnectorFactory(
        slug="remote",
        upstream_url="https://mcp.example.com/mcp",
        upstream_auth_header_encrypted=encrypt("Bearer s3cret"),
    )
    found = upstream_of(remote)
    assert found.url == "https://mcp.example.com/mcp" and found.auth_header == "Bearer s3cret"
    assert "s3cret" not in found.described
    settings.MCP_UPSTREAMS = json.dumps({"remote": {"command": "mcp-server-time"}})
    assert upstream_of(remote).command == "mcp-server-time"
    assert upstream_of(ConnectorFactory(slug="plain")) is None


@pytest.mark.parametrize(
    ("read_only", "destructive", "key", "expected"),
    [
        (True, None, "x_delete_all", "read"),
        (False, True, "x_list", "delete"),
        (False, False, "x_list", "write"),
        (None, None, "x_list", "read"),  # no annotations: the verb, as for the catalog
        (None, None, "x_remove", "delete"),
    ],
)
def test_access_from_annotations_else_the_verb(read_only, destructive, key, expected):
    from mcp_types import ToolAnnotations

    annotations = ToolAnnotations(read_only_hint=read_only, destructive_hint=destructive)
    assert access_from_annotations(key, annotations) == expected


def test_an_upstream_is_read_even_from_a_thread_that_runs_an_event_loop(upstreams):
    # As in a process that also drives Chromium through Playwright's synchronous API: the
    # thread has a running loop, where asgiref's async_to_sync refuses to work.
    upstream = upstream_of(ConnectorFactory(slug="time"))

    async def blocking_call_inside_a_loop() -> list[str]:
        return [tool.name for tool in run_blocking(upstream_tools, upstream)]

    assert sorted(asyncio.run(blocking_call_inside_a_loop())) == [
        "convert_time",
        "get_current_time",
    ]
